/**
 * Whole `call` and `batch` envelopes written value by value, as PROTOCOL.md describes them: the
 * oracles that the pool's calls encoded in advance and spliced into messages (encoded-call.ts,
 * protocol.ts's spliceCall/spliceBatch) are held to, byte for byte. The pool itself never writes a
 * call this way.
 */
import type { Codec } from '../../src/wire/codec.js';
import { LISTENING, type Kwargs } from '../../src/wire/protocol.js';

const CALL_NAMES = ['kind', 'id', 'module', 'function', 'args', 'kwargs', 'options'] as const;
const BATCH_NAMES = ['kind', 'id', 'calls'] as const;

/** `["call", id, module, function, args, kwargs]`, with the options item `{progress: true}` when listening. */
export function encodeCall(
  codec: Codec,
  id: number,
  module: string,
  fn: string,
  args: readonly unknown[],
  kwargs: Kwargs | undefined,
  listening = false,
): Buffer[] {
  const envelope = listening ? ['call', id, module, fn, args, kwargs ?? null, LISTENING] : ['call', id, module, fn, args, kwargs ?? null];
  return codec.encodeEnvelope(envelope, CALL_NAMES);
}

/** One call of a `batch` request. */
export interface BatchCall {
  module: string;
  fn: string;
  args: unknown[];
  kwargs?: Record<string, unknown>;
}

/** `["batch", id, [[module, function, args, kwargs], …]]`. */
export function encodeBatch(codec: Codec, id: number, calls: readonly BatchCall[]): Buffer[] {
  return codec.encodeEnvelope(['batch', id, calls.map((c) => [c.module, c.fn, c.args, c.kwargs ?? null])], BATCH_NAMES);
}
