/** `npx piton keys`: a CURVE key pair for an agent (`--secret-key-file`) or a pool (`keys`). */
import { existsSync, writeFileSync } from 'node:fs';
import { curveKeyPair } from '../remote/keys.js';

export function keys(command: { out: string | undefined }): number {
  const pair = curveKeyPair();
  if (command.out === undefined) {
    console.log(`publicKey: ${pair.publicKey}\nsecretKey: ${pair.secretKey}`);
    return 0;
  }
  // wx: never overwrite a key someone may depend on; 0600: the secret is its owner's alone.
  for (const file of [`${command.out}.key`, `${command.out}.pub`]) {
    if (existsSync(file)) {
      console.error(`piton keys: ${file} exists; not overwriting a key (remove it first, or choose another --out)`);
      return 1;
    }
  }
  writeFileSync(`${command.out}.key`, `${pair.secretKey}\n`, { mode: 0o600, flag: 'wx' });
  writeFileSync(`${command.out}.pub`, `${pair.publicKey}\n`, { mode: 0o644, flag: 'wx' });
  console.log(`secret key: ${command.out}.key (mode 0600)\npublic key: ${command.out}.pub\n${pair.publicKey}`);
  return 0;
}
