/**
 * A call encoded when it is made (`pool.call()`), before it waits in the queue or joins a batch.
 *
 * Encoding at submission gives each call its own fate and its own value:
 * - a value that cannot be sent (a Symbol, a circular object, a throwing getter) rejects that
 *   call alone, with an `EncodeError` whose path is the call's own (`args[0]`);
 * - what Python receives is the value as it was at `call()`: objects are written into the
 *   MessagePack bytes then, and the memory of typed arrays, which travels as its own frame, is
 *   copied then too, unless the caller passed `transfer: true` (and promised not to write it
 *   until the call settles); an Arrow table's IPC stream is written then, which is its snapshot;
 * - the call's size is known before it is queued, so a batch never grows past the message limit.
 *
 * The body is the MessagePack array `[module, function, args, kwargs]`: exactly one entry of a
 * `batch` request, and, after its one-byte header, the tail of a `call` request (protocol.ts
 * splices it into either). Its ext 1 values refer to its own frames as 1…n; in a batch a call's
 * frames follow those of the calls before it, so their indices are renumbered while splicing:
 * one byte each, as long as the batch holds at most {@link MAX_FIXINT_FRAMES} frames (a positive
 * fixint), which the dispatcher's batching keeps to.
 */
import { isOwnedFrame, type Codec } from './codec.js';
import { MessageTooLargeError } from '../errors.js';
import { isIntactNdArray } from './ndarray.js';

/** Frame indices up to this are one-byte positive fixints, rewritable in place. */
export const MAX_FIXINT_FRAMES = 127;

/**
 * Bytes a `call` or `batch` envelope adds around its bodies, at most: array header, kind, id
 * (uint 64 at worst) and, for a batch, the calls' array header.
 */
export const ENVELOPE_OVERHEAD = 1 + 6 + 9 + 5;

const BODY_NAMES = ['module', 'function', 'args', 'kwargs'] as const;

export interface EncodedCall {
  readonly module: string;
  readonly fn: string;
  /** `[module, function, args, kwargs]` as MessagePack (a view that nothing else writes to). */
  readonly body: Buffer;
  /** The array frames that `body`'s ext 1 values refer to as 1…n. */
  readonly frames: readonly Buffer[];
  /** Offset in `body` of each frame index, in frame order. */
  readonly frameIndexAt: readonly number[];
  /** Bytes of body, options and frames together. */
  readonly size: number;
  /**
   * The call's options item (its trace context and values, its progress flag), encoded: sent after
   * the body (wire/call-options.ts). Absent for most calls.
   */
  readonly options?: Buffer;
}

/** `call` with its options item: the size grows by it, and the limit is checked again. */
export function withOptions(call: EncodedCall, options: Buffer | undefined, maxMessageSize: number): EncodedCall {
  if (options === undefined) return call;
  const size = call.size + options.length;
  if (size + ENVELOPE_OVERHEAD > maxMessageSize) throw new MessageTooLargeError(size + ENVELOPE_OVERHEAD, maxMessageSize);
  // Written out: V8 copies `{ ...call, size, options }` on its slow path (over 1 µs a call).
  return { module: call.module, fn: call.fn, body: call.body, frames: call.frames, frameIndexAt: call.frameIndexAt, size, options };
}

export interface EncodeCallOptions {
  /** Send typed arrays' memory as it is, without the snapshot copy (the caller leaves it alone). */
  transfer?: boolean;
  /** Makes the snapshot of one array frame (e.g. into reused memory, snapshots.ts); a fresh copy by default. */
  copy?: (view: Buffer) => Buffer;
}

/**
 * Encodes one call. Throws `EncodeError` naming the value's path (`args[1].user`, `kwargs.fn`),
 * `MessageTooLargeError` when the call could not be sent even alone.
 */
export function encodeCallBody(
  codec: Codec,
  module: string,
  fn: string,
  args: readonly unknown[],
  kwargs: Record<string, unknown> | undefined,
  options?: EncodeCallOptions,
): EncodedCall {
  // Most calls carry no array: they share the empty lists, and the codec writes into a scratch list.
  indexScratch.length = 0;
  const encoded = codec.encodeEnvelope([module, fn, args, kwargs ?? null], BODY_NAMES, indexScratch);
  const body = encoded[0]!;
  let size = body.length;
  let frames: readonly Buffer[] = NO_FRAMES;
  let frameIndexAt: readonly number[] = NO_FRAMES_AT;
  if (encoded.length > 1) {
    const views = encoded.slice(1);
    // A frame views the caller's array: without `transfer`, copy it now (the snapshot). A table's
    // IPC stream was written just now, into memory of its own: it is its own snapshot.
    const copy = options?.copy ?? freshCopy;
    frames = options?.transfer ? views : views.map((view) => (isOwnedFrame(view) ? view : copy(view)));
    frameIndexAt = indexScratch.slice();
    for (const frame of frames) size += frame.length;
  }
  if (size + ENVELOPE_OVERHEAD > codec.maxMessageSize) {
    throw new MessageTooLargeError(size + ENVELOPE_OVERHEAD, codec.maxMessageSize);
  }
  return { module, fn, body, frames, frameIndexAt, size };
}

/**
 * An upper bound of the size of the call `module.fn(value)` encoded ({@link EncodedCall.size}),
 * known without encoding it when `value` is an intact NdArray, which always encodes: its bytes,
 * the names at 3 bytes a character, the ndarray ext's header at its most (48 + 9 per dimension)
 * and 64 bytes for the rest of the body. Undefined for any other value: encode it to know.
 */
export function callSizeBound(module: string, fn: string, value: unknown): number | undefined {
  if (!isIntactNdArray(value)) return undefined;
  return value.data.byteLength + 64 + 3 * (module.length + fn.length) + 48 + 9 * value.shape.length;
}

const indexScratch: number[] = [];
const NO_FRAMES: readonly Buffer[] = Object.freeze([]);
const NO_FRAMES_AT: readonly number[] = Object.freeze([]);
const freshCopy = (view: Buffer): Buffer => Buffer.from(view);

/**
 * Whether `next` may join a batch that holds `calls` (whose sizes add up to `bytes`, frames to
 * `frameCount`) under a message limit of `maxMessageSize`: the batch must still fit in one message,
 * and its frame indices must stay one-byte (so that splicing renumbers them in place).
 */
export function fitsInBatch(bytes: number, frameCount: number, next: EncodedCall, maxMessageSize: number): boolean {
  return (
    bytes + next.size + 1 + ENVELOPE_OVERHEAD <= maxMessageSize &&
    frameCount + next.frames.length <= MAX_FIXINT_FRAMES
  );
}
