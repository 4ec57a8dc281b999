/** CURVE key pairs for agents and pools (`npx piton keys`): zeromq.js's generator, Z85-encoded. */
import { curveKeyPair as zmqCurveKeyPair } from 'zeromq';
import type { CurveKeyPair } from './agent-link.js';

/** A fresh CURVE key pair `{ publicKey, secretKey }`, each 40 Z85 characters. */
export function curveKeyPair(): CurveKeyPair {
  const { publicKey, secretKey } = zmqCurveKeyPair();
  return { publicKey, secretKey };
}
