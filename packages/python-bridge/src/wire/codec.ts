/**
 * The MessagePack codec of the wire protocol (PROTOCOL.md, "Values" and "Arrays (ext 1)").
 *
 * A message is a list of frames: frame 0 holds one MessagePack value; frames 1…n hold the raw
 * little-endian bytes of arrays, referenced from frame 0 by ext 1, and the Arrow IPC streams of
 * tables, referenced by ext 3. Typed arrays are sent as views of their own memory (no copy) and 1-d
 * arrays are decoded as views of the received frame when aligned, as are the columns of tables.
 *
 * Why a codec of our own rather than msgpackr's `Packr`: the protocol needs things msgpackr's
 * encoder does differently or cannot do per instance. msgpackr writes integers beyond 32 bits as
 * float 64 (Python would get `float`), writes -0 as int 0, writes functions as nil and class instances
 * as plain objects (we must refuse them with the path of the value), and its extensions are process
 * globals, while ext 1 needs the frames of the message being encoded or decoded. Its decoder either
 * turns every map into a `Map` or stringifies non-string keys; we need "all string keys → object,
 * otherwise → Map". The encoding choices are the canonical ones of PROTOCOL.md (those
 * msgpack-python makes), so both sides produce the same bytes for the same value, checked by
 * protocol/vectors.json; the one liberty is a bigint, always written in its 64-bit form.
 *
 * The parts, one job each, under codec/: `encoder.ts` (which form a value takes, message frames)
 * on `writer.ts` (MessagePack forms into a growing buffer) and `../arrow.ts` (apache-arrow, loaded
 * when a table crosses), `locate.ts` (the path of a value that
 * cannot be sent, found only after the encoder failed), `decoder.ts`, and `wire.ts` (the constants
 * and ext payloads both directions share). This module is the codec's one public face.
 */
import { Decoder } from './codec/decoder.js';
import { Encoder, OWNED_FRAMES } from './codec/encoder.js';

export { EXT_BIGINT, EXT_NDARRAY, EXT_TABLE, EXT_TIMESTAMP, bigintToBytes, bytesToBigint } from './codec/wire.js';
export { ArrowNotLoaded, arrowLoadSettled, loadArrow } from './arrow-module.js';
export { looksLikeIPC } from './arrow.js';

/**
 * Whether a frame the encoder returned is memory of its own (an Arrow table's IPC stream, written
 * when it was encoded) rather than a view of a value's memory: the snapshot at `call()` skips it.
 */
export function isOwnedFrame(frame: Buffer): boolean {
  return OWNED_FRAMES.has(frame);
}

/** Default `maxMessageSize`: 256 MiB, all frames together. */
export const DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024 * 1024;

export interface CodecOptions {
  /** Largest message (all frames, bytes) that is encoded or decoded. Default {@link DEFAULT_MAX_MESSAGE_SIZE}. */
  maxMessageSize?: number;
  /** Memory for the IPC streams of Arrow tables being encoded (fresh memory by default). */
  allocate?: (size: number) => Buffer;
}

export interface Codec {
  readonly maxMessageSize: number;
  /**
   * Encodes `value` as frames. Throws {@link EncodeError} naming the path of an unsupported value
   * (`path` is the name of the root, default `value`), {@link MessageTooLargeError} over the limit,
   * `ArrowNotLoaded` for an apache-arrow value met before apache-arrow was loaded (await
   * `loadArrow()`, then encode again).
   */
  encode(value: unknown, path?: string): Buffer[];
  /**
   * Encodes an envelope: a MessagePack array of `items`; `names[i]` is the root path of item i in
   * error messages (`args`, `kwargs`, …). Same errors as {@link encode}. When `frameIndexAt` is
   * given, the offset in frame 0 of each ext 1 frame index is pushed onto it, in frame order, so
   * that the message can be spliced into a larger one with its frames renumbered (payload.ts).
   */
  encodeEnvelope(items: readonly unknown[], names: readonly string[], frameIndexAt?: number[]): Buffer[];
  /** Decodes frames. Throws {@link ProtocolError} for malformed input, {@link MessageTooLargeError} over the limit. */
  decode(frames: readonly Buffer[]): unknown;
}

export function createCodec(opts: CodecOptions = {}): Codec {
  const maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!(maxMessageSize > 0) || !Number.isSafeInteger(maxMessageSize)) {
    throw new RangeError(`maxMessageSize must be a positive integer of bytes, got ${String(opts.maxMessageSize)}`);
  }
  return new MessagePackCodec(maxMessageSize, opts.allocate);
}

/** An encoder and a decoder with the same limit; each keeps its own state between messages. */
class MessagePackCodec implements Codec {
  readonly maxMessageSize: number;
  readonly #encoder: Encoder;
  readonly #decoder: Decoder;

  constructor(maxMessageSize: number, allocate: ((size: number) => Buffer) | undefined) {
    this.maxMessageSize = maxMessageSize;
    this.#encoder = new Encoder(maxMessageSize, allocate);
    this.#decoder = new Decoder(maxMessageSize);
  }

  encode(value: unknown, path?: string): Buffer[] {
    return this.#encoder.encode(value, path);
  }

  encodeEnvelope(items: readonly unknown[], names: readonly string[], frameIndexAt?: number[]): Buffer[] {
    return this.#encoder.encodeEnvelope(items, names, frameIndexAt);
  }

  decode(frames: readonly Buffer[]): unknown {
    return this.#decoder.decode(frames);
  }
}
