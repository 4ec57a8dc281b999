/**
 * The MessagePack codec of the wire protocol (PROTOCOL.md, "Values" and "Arrays (ext 1)").
 *
 * A message is a list of frames: frame 0 holds one MessagePack value; frames 1…n hold the raw
 * little-endian bytes of arrays, referenced from frame 0 by ext 1. Typed arrays are sent as views of
 * their own memory (no copy) and 1-d arrays are decoded as views of the received frame when aligned.
 *
 * Why a codec of our own rather than msgpackr's `Packr`: the protocol needs things msgpackr's
 * encoder does differently or cannot do per instance. msgpackr writes integers beyond 32 bits as
 * float 64 (Python would get `float`), writes -0 as int 0, writes functions as nil and class instances
 * as plain objects (we must refuse them with the path of the value), and its extensions are process
 * globals, while ext 1 needs the frames of the message being encoded or decoded. Its decoder either
 * turns every map into a `Map` or stringifies non-string keys; we need "all string keys → object,
 * otherwise → Map". The encoding choices below are the canonical ones of PROTOCOL.md (those
 * msgpack-python makes), so both sides produce the same bytes for the same value, checked by
 * protocol/vectors.json; the one liberty is a bigint, always written in its 64-bit form.
 */
import { EncodeError, MessageTooLargeError, PitonError, ProtocolError } from './errors.js';
import { NdArray, dtypeOf, isDType, itemSize, typedArrayFromBytes, type TypedArray } from './ndarray.js';

/** Default `maxMessageSize`: 256 MiB, all frames together. */
export const DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024 * 1024;

/** Extension type codes of the protocol. */
export const EXT_TIMESTAMP = -1;
export const EXT_NDARRAY = 1;
export const EXT_BIGINT = 2;

/** Nesting beyond this depth is refused; it is also how a circular reference is noticed cheaply. */
const MAX_DEPTH = 512;

export interface CodecOptions {
  /** Largest message (all frames, bytes) that is encoded or decoded. Default {@link DEFAULT_MAX_MESSAGE_SIZE}. */
  maxMessageSize?: number;
}

export interface Codec {
  readonly maxMessageSize: number;
  /**
   * Encodes `value` as frames. Throws {@link EncodeError} naming the path of an unsupported value
   * (`path` is the name of the root, default `value`), {@link MessageTooLargeError} over the limit.
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
  return new MessagePackCodec(maxMessageSize);
}

const TWO_32 = 4294967296;
const SCRATCH_SIZE = 64 * 1024;
/** A buffer grown past this for one big message is let go afterwards rather than kept for the next. */
const KEEP_LIMIT = 1024 * 1024;

/** Thrown inside the encoder; turned into an EncodeError with a path by the slow path in `locate`. */
class Unsupported {
  constructor(
    readonly value: unknown,
    readonly what: string,
  ) {}
}
class TooDeep {}

class MessagePackCodec implements Codec {
  readonly maxMessageSize: number;

  // Encoder state. Messages are written one after another into `buf`; each returned frame 0 is a
  // subarray that later messages never overwrite (the socket may still hold it), and a full buffer
  // is simply replaced, leaving the old one to the frames that view it.
  private buf: Buffer = Buffer.allocUnsafe(SCRATCH_SIZE);
  private pos = 0;
  private start = 0;
  private extra: Buffer[] = [];
  private depth = 0;
  /** Where to record the offsets of ext 1 frame indices, during one encodeEnvelope() call. */
  private indexAt: number[] | undefined;

  // Decoder state, valid during one decode() call.
  private src: Buffer = Buffer.alloc(0);
  private at = 0;
  private end = 0;
  private frames: readonly Buffer[] = [];

  constructor(maxMessageSize: number) {
    this.maxMessageSize = maxMessageSize;
  }

  encode(value: unknown, path = 'value'): Buffer[] {
    this.begin();
    try {
      this.write(value);
    } catch (err) {
      throw this.fail(err, [value], [path]);
    }
    return this.finish();
  }

  encodeEnvelope(items: readonly unknown[], names: readonly string[], frameIndexAt?: number[]): Buffer[] {
    this.begin();
    this.indexAt = frameIndexAt;
    try {
      this.arrayHeader(items.length);
      for (let i = 0; i < items.length; i++) this.write(items[i]);
    } catch (err) {
      if (frameIndexAt) frameIndexAt.length = 0;
      throw this.fail(err, items, names);
    } finally {
      this.indexAt = undefined;
    }
    return this.finish();
  }

  // ---- encoding ------------------------------------------------------------------------------

  private begin(): void {
    this.pos = this.start;
    this.depth = 0;
    if (this.extra.length !== 0) this.extra = [];
  }

  private finish(): Buffer[] {
    const frame0 = this.buf.subarray(this.start, this.pos);
    let size = frame0.length;
    const extra = this.extra;
    for (let i = 0; i < extra.length; i++) size += extra[i]!.length;
    if (size > this.maxMessageSize) {
      this.pos = this.start;
      this.extra = [];
      throw new MessageTooLargeError(size, this.maxMessageSize);
    }
    this.start = this.pos;
    if (this.buf.length > KEEP_LIMIT) {
      // Keep big buffers alive only as long as the frames that view them.
      this.buf = Buffer.allocUnsafe(SCRATCH_SIZE);
      this.start = this.pos = 0;
    }
    if (extra.length === 0) return [frame0];
    this.extra = [];
    return [frame0, ...extra];
  }

  private fail(err: unknown, roots: readonly unknown[], names: readonly string[]): unknown {
    this.pos = this.start;
    this.extra = [];
    if (err instanceof Unsupported) {
      const path = locateValue(roots, names, err.value) ?? names.join(',');
      return new EncodeError(`cannot send ${err.what} at ${path}`, path);
    }
    if (err instanceof TooDeep) {
      const cycle = locateCycle(roots, names);
      if (cycle) {
        return new EncodeError(`cannot send a circular reference at ${cycle.at} (it refers back to ${cycle.target})`, cycle.at);
      }
      const path = locateDepth(roots, names) ?? names.join(',');
      return new EncodeError(`cannot send a value nested deeper than ${MAX_DEPTH} levels at ${path}`, path);
    }
    return err;
  }

  /** Makes room for `n` more bytes, moving the message in progress to a new buffer if needed. */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const needed = used + n;
    const next = Buffer.allocUnsafe(Math.max(SCRATCH_SIZE, needed > KEEP_LIMIT ? needed + SCRATCH_SIZE : needed * 2));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  private write(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.string(value);
        return;
      case 'number':
        this.number(value);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = value ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = 0xc0;
        return;
      case 'bigint':
        this.bigint(value);
        return;
      case 'object':
        if (value === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
        } else {
          this.object(value);
        }
        return;
      case 'function':
        throw new Unsupported(value, value.name ? `a function (${value.name})` : 'a function');
      default:
        throw new Unsupported(value, `a ${typeof value} (${String(value)})`);
    }
  }

  private object(value: object): void {
    if (++this.depth > MAX_DEPTH) throw new TooDeep();
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto === Object.prototype || proto === null) {
      this.plainObject(value as Record<string, unknown>);
    } else if (Array.isArray(value)) {
      this.arrayHeader(value.length);
      for (let i = 0; i < value.length; i++) this.write(value[i]);
    } else if (value instanceof Uint8Array && (proto === Uint8Array.prototype || Buffer.isBuffer(value))) {
      this.bytes(value);
    } else if (value instanceof Map) {
      this.mapHeader(value.size);
      for (const [k, v] of value) {
        this.write(k);
        this.write(v);
      }
    } else if (value instanceof Date) {
      this.date(value);
    } else if (value instanceof NdArray) {
      this.ndarray(value.data, value.dtype, value.shape);
    } else {
      const dtype = dtypeOf(value);
      if (dtype === undefined) throw new Unsupported(value, describeObject(value));
      this.ndarray(value as TypedArray, dtype, undefined);
    }
    this.depth--;
  }

  private plainObject(value: Record<string, unknown>): void {
    const keys = Object.keys(value);
    this.mapHeader(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      this.string(key);
      this.write(value[key]);
    }
  }

  private number(n: number): void {
    this.ensure(9);
    const buf = this.buf;
    if (n >>> 0 === n) {
      if (n === 0 && 1 / n < 0) {
        this.float(n);
      } else if (n < 0x80) {
        buf[this.pos++] = n;
      } else if (n < 0x100) {
        buf[this.pos++] = 0xcc;
        buf[this.pos++] = n;
      } else if (n < 0x10000) {
        buf[this.pos++] = 0xcd;
        buf[this.pos++] = n >>> 8;
        buf[this.pos++] = n & 0xff;
      } else {
        buf[this.pos++] = 0xce;
        this.pos = buf.writeUInt32BE(n, this.pos);
      }
    } else if ((n | 0) === n) {
      if (n >= -0x20) {
        buf[this.pos++] = n & 0xff;
      } else if (n >= -0x80) {
        buf[this.pos++] = 0xd0;
        buf[this.pos++] = n & 0xff;
      } else if (n >= -0x8000) {
        buf[this.pos++] = 0xd1;
        this.pos = buf.writeInt16BE(n, this.pos);
      } else {
        buf[this.pos++] = 0xd2;
        this.pos = buf.writeInt32BE(n, this.pos);
      }
    } else if (Number.isSafeInteger(n)) {
      // Beyond 32 bits: split into two 32-bit halves; both are exact for |n| < 2^53.
      buf[this.pos++] = n > 0 ? 0xcf : 0xd3;
      this.pos = buf.writeInt32BE(Math.floor(n / TWO_32) | 0, this.pos);
      this.pos = buf.writeUInt32BE(n >>> 0, this.pos);
    } else {
      this.float(n);
    }
  }

  private float(n: number): void {
    this.buf[this.pos++] = 0xcb;
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }

  /**
   * A bigint is written as int 64 when it fits (PROTOCOL.md: "bigint within int64/uint64 → int
   * 64"; the vectors' "written as int 64" cases), as uint 64 in [2^63, 2^64), else as ext 2.
   */
  private bigint(n: bigint): void {
    this.ensure(9);
    if (n >= -0x8000000000000000n && n <= 0x7fffffffffffffffn) {
      this.buf[this.pos++] = 0xd3;
      this.pos = this.buf.writeBigInt64BE(n, this.pos);
    } else if (n > 0n && n <= 0xffffffffffffffffn) {
      this.buf[this.pos++] = 0xcf;
      this.pos = this.buf.writeBigUInt64BE(n, this.pos);
    } else {
      const data = bigintToBytes(n);
      this.extHeader(EXT_BIGINT, data.length);
      this.ensure(data.length);
      this.buf.set(data, this.pos);
      this.pos += data.length;
    }
  }

  private string(s: string): void {
    const length = s.length;
    if (length < 32) {
      // Short strings: encode by hand after a one-byte fixstr header, widen the header if needed.
      this.ensure(2 + length * 3);
      const buf = this.buf;
      const headerAt = this.pos;
      let p = headerAt + 1;
      for (let i = 0; i < length; i++) {
        let c = s.charCodeAt(i);
        if (c < 0x80) {
          buf[p++] = c;
        } else if (c < 0x800) {
          buf[p++] = 0xc0 | (c >> 6);
          buf[p++] = 0x80 | (c & 0x3f);
        } else if (c >= 0xd800 && c <= 0xdfff) {
          const next = i + 1 < length ? s.charCodeAt(i + 1) : 0;
          if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
            i++;
            buf[p++] = 0xf0 | (c >> 18);
            buf[p++] = 0x80 | ((c >> 12) & 0x3f);
            buf[p++] = 0x80 | ((c >> 6) & 0x3f);
            buf[p++] = 0x80 | (c & 0x3f);
          } else {
            // A lone surrogate is not valid UTF-8; write U+FFFD as Buffer#write does.
            buf[p++] = 0xef;
            buf[p++] = 0xbf;
            buf[p++] = 0xbd;
          }
        } else {
          buf[p++] = 0xe0 | (c >> 12);
          buf[p++] = 0x80 | ((c >> 6) & 0x3f);
          buf[p++] = 0x80 | (c & 0x3f);
        }
      }
      const size = p - headerAt - 1;
      if (size < 32) {
        buf[headerAt] = 0xa0 | size;
        this.pos = p;
      } else {
        buf.copyWithin(headerAt + 2, headerAt + 1, p);
        buf[headerAt] = 0xd9;
        buf[headerAt + 1] = size;
        this.pos = p + 1;
      }
      return;
    }
    const size = Buffer.byteLength(s, 'utf8');
    this.ensure(5 + size);
    const buf = this.buf;
    if (size < 32) {
      buf[this.pos++] = 0xa0 | size;
    } else if (size < 0x100) {
      buf[this.pos++] = 0xd9;
      buf[this.pos++] = size;
    } else if (size < 0x10000) {
      buf[this.pos++] = 0xda;
      this.pos = buf.writeUInt16BE(size, this.pos);
    } else {
      buf[this.pos++] = 0xdb;
      this.pos = buf.writeUInt32BE(size, this.pos);
    }
    this.pos += buf.write(s, this.pos, size, 'utf8');
  }

  private bytes(data: Uint8Array): void {
    const size = data.length;
    this.ensure(5 + size);
    const buf = this.buf;
    if (size < 0x100) {
      buf[this.pos++] = 0xc4;
      buf[this.pos++] = size;
    } else if (size < 0x10000) {
      buf[this.pos++] = 0xc5;
      this.pos = buf.writeUInt16BE(size, this.pos);
    } else {
      buf[this.pos++] = 0xc6;
      this.pos = buf.writeUInt32BE(size, this.pos);
    }
    buf.set(data, this.pos);
    this.pos += size;
  }

  private arrayHeader(length: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (length < 16) {
      buf[this.pos++] = 0x90 | length;
    } else if (length < 0x10000) {
      buf[this.pos++] = 0xdc;
      this.pos = buf.writeUInt16BE(length, this.pos);
    } else {
      buf[this.pos++] = 0xdd;
      this.pos = buf.writeUInt32BE(length, this.pos);
    }
  }

  private mapHeader(size: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (size < 16) {
      buf[this.pos++] = 0x80 | size;
    } else if (size < 0x10000) {
      buf[this.pos++] = 0xde;
      this.pos = buf.writeUInt16BE(size, this.pos);
    } else {
      buf[this.pos++] = 0xdf;
      this.pos = buf.writeUInt32BE(size, this.pos);
    }
  }

  /** Writes an ext header for `size` bytes of data, choosing fixext when the size allows (as msgpack-python does). */
  private extHeader(type: number, size: number): void {
    this.ensure(6);
    const buf = this.buf;
    const fix = FIXEXT_CODE[size];
    if (fix !== undefined) {
      buf[this.pos++] = fix;
    } else if (size < 0x100) {
      buf[this.pos++] = 0xc7;
      buf[this.pos++] = size;
    } else if (size < 0x10000) {
      buf[this.pos++] = 0xc8;
      this.pos = buf.writeUInt16BE(size, this.pos);
    } else {
      buf[this.pos++] = 0xc9;
      this.pos = buf.writeUInt32BE(size, this.pos);
    }
    buf[this.pos++] = type & 0xff;
  }

  private date(value: Date): void {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new Unsupported(value, 'an invalid Date');
    const sec = Math.floor(ms / 1000);
    const nsec = (ms - sec * 1000) * 1_000_000;
    this.ensure(15);
    const buf = this.buf;
    if (sec >= 0 && sec < 0x400000000) {
      if (nsec === 0 && sec < TWO_32) {
        this.extHeader(EXT_TIMESTAMP, 4);
        this.pos = buf.writeUInt32BE(sec, this.pos);
      } else {
        this.extHeader(EXT_TIMESTAMP, 8);
        this.pos = buf.writeUInt32BE(nsec * 4 + Math.floor(sec / TWO_32), this.pos);
        this.pos = buf.writeUInt32BE(sec >>> 0, this.pos);
      }
    } else {
      this.extHeader(EXT_TIMESTAMP, 12);
      this.pos = buf.writeUInt32BE(nsec, this.pos);
      this.pos = buf.writeInt32BE(Math.floor(sec / TWO_32) | 0, this.pos);
      this.pos = buf.writeUInt32BE(sec >>> 0, this.pos);
    }
  }

  /** ext 1: `[dtype, shape, frame]`; the bytes go out as their own frame, a view of the array's memory. */
  private ndarray(data: TypedArray, dtype: string, shape: readonly number[] | undefined): void {
    this.extra.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    const frameIndex = this.extra.length;
    // Reserve room for the whole payload first, so that `headerAt` stays valid (no buffer switch)
    // while the payload is written after room for an ext 8 header; the header is fixed up after.
    this.ensure(48 + 9 * (shape === undefined ? 1 : shape.length));
    const headerAt = this.pos;
    this.pos += 3;
    this.arrayHeader(3);
    this.string(dtype);
    if (shape === undefined) {
      this.arrayHeader(1);
      this.number(data.length);
    } else {
      this.arrayHeader(shape.length);
      for (let i = 0; i < shape.length; i++) this.number(shape[i]!);
    }
    const indexAt = this.pos;
    this.number(frameIndex);
    const size = this.pos - headerAt - 3;
    // Headers: fixext is 2 bytes, ext 8 is 3, ext 16 is 4.
    const headerSize = FIXEXT_CODE[size] !== undefined ? 2 : size < 0x100 ? 3 : 4;
    this.indexAt?.push(indexAt + headerSize - 3 - this.start);
    if (headerSize !== 3) this.buf.copyWithin(headerAt + headerSize, headerAt + 3, this.pos);
    this.pos = headerAt;
    this.extHeader(EXT_NDARRAY, size);
    this.pos = headerAt + headerSize + size;
  }

  // ---- decoding ------------------------------------------------------------------------------

  decode(frames: readonly Buffer[]): unknown {
    const first = frames[0];
    if (first === undefined) throw new ProtocolError('cannot decode a message without frames');
    let size = 0;
    for (let i = 0; i < frames.length; i++) size += frames[i]!.length;
    if (size > this.maxMessageSize) {
      throw new MessageTooLargeError(
        size,
        this.maxMessageSize,
        `received message of ${size} bytes exceeds maxMessageSize of ${this.maxMessageSize} bytes`,
      );
    }
    this.src = first;
    this.at = 0;
    this.end = first.length;
    this.frames = frames;
    try {
      const value = this.read();
      if (this.at !== this.end) {
        throw new ProtocolError(`frame 0 has ${this.end - this.at} bytes after its MessagePack value`);
      }
      return value;
    } catch (err) {
      if (err instanceof PitonError) throw err;
      // A stack overflow on absurd nesting, or a RangeError from a Buffer read, is malformed input.
      throw new ProtocolError(`malformed message: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    } finally {
      this.frames = [];
      this.src = EMPTY;
    }
  }

  private need(n: number): void {
    if (this.at + n > this.end) {
      throw new ProtocolError(`frame 0 is truncated: needs ${n} more bytes at offset ${this.at}, has ${this.end - this.at}`);
    }
  }

  private read(): unknown {
    this.need(1);
    const src = this.src;
    const b = src[this.at++]!;
    if (b < 0x80) return b;
    if (b < 0x90) return this.map(b & 0x0f);
    if (b < 0xa0) return this.array(b & 0x0f);
    if (b < 0xc0) return this.str(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xc7:
        return this.ext(this.u8());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      case 0xca: {
        this.need(4);
        const v = src.readFloatBE(this.at);
        this.at += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = src.readDoubleBE(this.at);
        this.at += 8;
        return v;
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        return this.u64();
      case 0xd0: {
        this.need(1);
        return src.readInt8(this.at++);
      }
      case 0xd1: {
        this.need(2);
        const v = src.readInt16BE(this.at);
        this.at += 2;
        return v;
      }
      case 0xd2: {
        this.need(4);
        const v = src.readInt32BE(this.at);
        this.at += 4;
        return v;
      }
      case 0xd3:
        return this.i64();
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16());
      case 0xdd:
        return this.array(this.u32());
      case 0xde:
        return this.map(this.u16());
      case 0xdf:
        return this.map(this.u32());
      default:
        throw new ProtocolError(`byte 0x${b.toString(16)} at offset ${this.at - 1} is not a MessagePack type`);
    }
  }

  private u8(): number {
    this.need(1);
    return this.src[this.at++]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.src.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.src.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  private u64(): number | bigint {
    this.need(8);
    const hi = this.src.readUInt32BE(this.at);
    if (hi < 0x200000) {
      const v = hi * TWO_32 + this.src.readUInt32BE(this.at + 4);
      this.at += 8;
      return v;
    }
    const v = this.src.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }

  private i64(): number | bigint {
    this.need(8);
    const hi = this.src.readInt32BE(this.at);
    // -2^53 itself is not a safe integer, hence the strict bound on the negative side.
    if (hi < 0x200000 && hi >= -0x200000) {
      const v = hi * TWO_32 + this.src.readUInt32BE(this.at + 4);
      if (v !== -9007199254740992) {
        this.at += 8;
        return v;
      }
    }
    const v = this.src.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  private str(length: number): string {
    this.need(length);
    const src = this.src;
    const start = this.at;
    const end = start + length;
    if (length < 24) {
      let s = '';
      for (let i = start; i < end; i++) {
        const c = src[i]!;
        if (c >= 0x80) {
          s = src.toString('utf8', start, end);
          break;
        }
        s += String.fromCharCode(c);
      }
      this.at = end;
      return s;
    }
    this.at = end;
    return src.toString('utf8', start, end);
  }

  private bin(length: number): Buffer {
    this.need(length);
    const v = this.src.subarray(this.at, this.at + length);
    this.at += length;
    return v;
  }

  private array(length: number): unknown[] {
    // Each element takes at least one byte: refuse a header that claims more than the frame holds.
    this.need(length);
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) out[i] = this.read();
    return out;
  }

  private map(size: number): Record<string, unknown> | Map<unknown, unknown> {
    this.need(size * 2);
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < size; i++) {
      const key = this.read();
      if (typeof key !== 'string') return this.continueAsMap(obj, key, i, size);
      const value = this.read();
      if (key === '__proto__') {
        Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        obj[key] = value;
      }
    }
    return obj;
  }

  /** A map turned out to have a non-string key: carry on as a Map with the entries read so far. */
  private continueAsMap(obj: Record<string, unknown>, key: unknown, index: number, size: number): Map<unknown, unknown> {
    const map = new Map<unknown, unknown>(Object.entries(obj));
    map.set(key, this.read());
    for (let i = index + 1; i < size; i++) {
      const k = this.read();
      map.set(k, this.read());
    }
    return map;
  }

  private ext(length: number): unknown {
    this.need(1 + length);
    const type = this.src.readInt8(this.at++);
    const start = this.at;
    const end = start + length;
    let value: unknown;
    switch (type) {
      case EXT_TIMESTAMP:
        value = this.timestamp(length);
        break;
      case EXT_NDARRAY: {
        const outerEnd = this.end;
        this.end = end;
        try {
          value = this.ndarrayPayload(this.read());
        } finally {
          this.end = outerEnd;
        }
        if (this.at !== end) throw new ProtocolError(`ext 1 payload at offset ${start} has trailing bytes`);
        break;
      }
      case EXT_BIGINT:
        value = bytesToBigint(this.src.subarray(start, end));
        break;
      default:
        throw new ProtocolError(`unknown MessagePack extension type ${type} at offset ${start - 2}`);
    }
    this.at = end;
    return value;
  }

  private timestamp(length: number): Date {
    const src = this.src;
    const at = this.at;
    let sec: number;
    let nsec: number;
    if (length === 4) {
      sec = src.readUInt32BE(at);
      nsec = 0;
    } else if (length === 8) {
      const hi = src.readUInt32BE(at);
      nsec = Math.floor(hi / 4);
      sec = (hi & 3) * TWO_32 + src.readUInt32BE(at + 4);
    } else if (length === 12) {
      nsec = src.readUInt32BE(at);
      sec = Number(src.readBigInt64BE(at + 4));
    } else {
      throw new ProtocolError(`timestamp extension has ${length} bytes; expected 4, 8 or 12`);
    }
    // Date holds milliseconds: finer digits are dropped (toward the past, as floor does).
    return new Date(sec * 1000 + Math.floor(nsec / 1_000_000));
  }

  private ndarrayPayload(payload: unknown): TypedArray | NdArray {
    if (!Array.isArray(payload) || payload.length !== 3) {
      throw new ProtocolError('ext 1 payload must be an array [dtype, shape, frame]');
    }
    const [dtype, shape, frameIndex] = payload as [unknown, unknown, unknown];
    if (!isDType(dtype)) throw new ProtocolError(`ext 1 has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new ProtocolError(`ext 1 shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (typeof frameIndex !== 'number' || !Number.isInteger(frameIndex) || frameIndex < 1 || frameIndex >= this.frames.length) {
      throw new ProtocolError(`ext 1 refers to frame ${String(frameIndex)} but the message has ${this.frames.length} frames`);
    }
    const frame = this.frames[frameIndex]!;
    let count = 1;
    for (const d of shape as number[]) count *= d;
    const expected = count * itemSize(dtype);
    if (frame.length !== expected) {
      throw new ProtocolError(
        `ext 1 ${dtype} array of shape [${shape.join(', ')}] needs ${expected} bytes but frame ${frameIndex} has ${frame.length}`,
      );
    }
    const data = typedArrayFromBytes(dtype, frame, count);
    return shape.length === 1 ? data : new NdArray(data, shape as number[]);
  }
}

const EMPTY = Buffer.alloc(0);

/** fixext header byte by data size. */
const FIXEXT_CODE: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };

/** Big-endian two's complement, minimal length (ext 2). */
export function bigintToBytes(n: bigint): Buffer {
  const magnitude = n < 0n ? -n - 1n : n;
  const bits = magnitude === 0n ? 0 : magnitude.toString(2).length;
  const length = (bits >> 3) + 1; // one more bit than the magnitude needs, for the sign
  const unsigned = n < 0n ? (1n << BigInt(length * 8)) + n : n;
  return Buffer.from(unsigned.toString(16).padStart(length * 2, '0'), 'hex');
}

/** Reads ext 2; a value in the safe range comes back as a number, as every other integer does. */
export function bytesToBigint(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) throw new ProtocolError('ext 2 (big integer) has no bytes');
  let n = BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex'));
  if (bytes[0]! & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}

// ---- the slow path: where in the value is the thing we could not send? ------------------------

function describeObject(value: object): string {
  if (value instanceof Set) return 'a Set';
  if (value instanceof Promise) return 'a Promise';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} (send a Buffer, a protocol typed array or an NdArray)`;
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? `an instance of class ${name}` : 'an object with a custom prototype';
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function mapKeyLabel(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'boolean' || key === null || key === undefined) return String(key);
  if (typeof key === 'bigint') return `${key}n`;
  return '…';
}

/** Whether the encoder descends into `value` (same decisions as the encoder, in the same order). */
function childrenOf(value: unknown, path: string): Array<[unknown, string]> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    return Object.keys(value).map((k) => [(value as Record<string, unknown>)[k], propertyPath(path, k)]);
  }
  if (Array.isArray(value)) return value.map((v, i) => [v, `${path}[${i}]`]);
  if (value instanceof Map) {
    const out: Array<[unknown, string]> = [];
    let i = 0;
    for (const [k, v] of value) {
      out.push([k, `${path}.keys()[${i++}]`], [v, `${path}.get(${mapKeyLabel(k)})`]);
    }
    return out;
  }
  return undefined;
}

function locateValue(roots: readonly unknown[], names: readonly string[], target: unknown): string | undefined {
  const seen = new Set<object>();
  const visit = (value: unknown, path: string): string | undefined => {
    if (value === target) return path;
    const children = childrenOf(value, path);
    if (!children || seen.has(value as object)) return undefined;
    seen.add(value as object);
    for (const [child, childPath] of children) {
      const found = visit(child, childPath);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (let i = 0; i < roots.length; i++) {
    const found = visit(roots[i], names[i] ?? `[${i}]`);
    if (found !== undefined) return found;
  }
  return undefined;
}

function locateCycle(roots: readonly unknown[], names: readonly string[]): { at: string; target: string } | undefined {
  const ancestors = new Map<object, string>();
  const visit = (value: unknown, path: string): { at: string; target: string } | undefined => {
    const children = childrenOf(value, path);
    if (!children) return undefined;
    const obj = value as object;
    const target = ancestors.get(obj);
    if (target !== undefined) return { at: path, target };
    ancestors.set(obj, path);
    for (const [child, childPath] of children) {
      const found = visit(child, childPath);
      if (found) return found;
    }
    ancestors.delete(obj);
    return undefined;
  };
  for (let i = 0; i < roots.length; i++) {
    const found = visit(roots[i], names[i] ?? `[${i}]`);
    if (found) return found;
  }
  return undefined;
}

function locateDepth(roots: readonly unknown[], names: readonly string[]): string | undefined {
  const visit = (value: unknown, path: string, depth: number): string | undefined => {
    if (value === null || typeof value !== 'object') return undefined;
    if (depth > MAX_DEPTH) return path;
    for (const [child, childPath] of childrenOf(value, path) ?? []) {
      const found = visit(child, childPath, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (let i = 0; i < roots.length; i++) {
    const found = visit(roots[i], names[i] ?? `[${i}]`, 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
