/**
 * The decoder of the codec: frames to a JavaScript value (PROTOCOL.md, "Values"). Integers in
 * the safe range become numbers and others bigints; a map with only string keys becomes a plain
 * object and any other map a `Map`; an aligned 1-d array views its frame (no copy), and so do the
 * columns of an Arrow table (arrow.ts).
 *
 * Its contract, held by test/codec-fuzz.test.ts: any bytes whatsoever give either a value the
 * encoder takes back or a {@link ProtocolError} ({@link MessageTooLargeError} over the limit),
 * never another exception, and never a value for a message cut short. A declared length is checked
 * against the bytes present before anything is allocated for it; nesting is bounded
 * ({@link MAX_DECODE_DEPTH}) rather than left to the stack; a timestamp must be one both sides can
 * hold.
 */
import { MessageTooLargeError, PitonError, ProtocolError } from '../../errors.js';
import { arrowFromIPC } from '../arrow.js';
import { NdArray, isDType, itemSize, typedArrayFromBytes, type TypedArray } from '../ndarray.js';
import {
  EXT_BIGINT,
  EXT_NDARRAY,
  EXT_TABLE,
  EXT_TIMESTAMP,
  MAX_DATE_MS,
  MAX_DECODE_DEPTH,
  MIN_DATE_MS,
  TWO_32,
  bytesToBigint,
} from './wire.js';

const EMPTY = Buffer.alloc(0);

export class Decoder {
  readonly maxMessageSize: number;

  // State of the decode() call in progress.
  private src: Buffer = EMPTY;
  private at = 0;
  private end = 0;
  /** Containers open around the value being read. */
  private depth = 0;
  /** Inside an ext 1 or ext 3 payload, where no extension belongs (msgpack-python would not decode one). */
  private inFramedPayload = false;
  private frames: readonly Buffer[] = [];

  constructor(maxMessageSize: number) {
    this.maxMessageSize = maxMessageSize;
  }

  /** See `Codec.decode`. */
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
    this.depth = 0;
    this.inFramedPayload = false;
    try {
      const value = this.read();
      if (this.at !== this.end) {
        throw new ProtocolError(`frame 0 has ${this.end - this.at} bytes after its MessagePack value`);
      }
      return value;
    } catch (err) {
      if (err instanceof PitonError) throw err;
      // Not expected (lengths are checked, nesting bounded), but whatever a Buffer read or the
      // stack throws on hostile input is malformed input too, never another kind of error.
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
    this.enter();
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) out[i] = this.read();
    this.depth--;
    return out;
  }

  private map(size: number): Record<string, unknown> | Map<unknown, unknown> {
    this.need(size * 2);
    this.enter();
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < size; i++) {
      const key = this.read();
      if (typeof key !== 'string') {
        const map = this.continueAsMap(obj, key, i, size);
        this.depth--;
        return map;
      }
      const value = this.read();
      if (key === '__proto__') {
        Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        obj[key] = value;
      }
    }
    this.depth--;
    return obj;
  }

  /** One more container open; beyond {@link MAX_DECODE_DEPTH} the message is refused. */
  private enter(): void {
    if (++this.depth > MAX_DECODE_DEPTH) {
      throw new ProtocolError(`message nested deeper than ${MAX_DECODE_DEPTH} levels at offset ${this.at}`);
    }
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
    if (this.inFramedPayload) throw new ProtocolError(`ext ${type} at offset ${start - 2} inside an ext 1 or ext 3 payload`);
    let value: unknown;
    switch (type) {
      case EXT_TIMESTAMP:
        value = this.timestamp(length);
        break;
      case EXT_NDARRAY:
        value = this.ndarrayPayload(this.framedPayload(start, end));
        break;
      case EXT_TABLE:
        value = this.tablePayload(this.framedPayload(start, end));
        break;
      case EXT_BIGINT:
        value = bytesToBigint(this.src.subarray(start, end));
        break;
      default:
        throw new ProtocolError(`unknown MessagePack extension type ${type} at offset ${start - 2}`);
    }
    this.at = end;
    return value;
  }

  /**
   * The payload of an ext 1 or ext 3, from `start` to `end`: a MessagePack value of its own
   * (msgpack-python decodes it apart), so its nesting counts from zero; no extension may appear in
   * it, so this cannot recurse.
   */
  private framedPayload(start: number, end: number): unknown {
    const outerEnd = this.end;
    const outerDepth = this.depth;
    this.end = end;
    this.depth = 0;
    this.inFramedPayload = true;
    let payload: unknown;
    try {
      payload = this.read();
    } finally {
      this.end = outerEnd;
      this.depth = outerDepth;
      this.inFramedPayload = false;
    }
    if (this.at !== end) throw new ProtocolError(`ext payload at offset ${start} has trailing bytes`);
    return payload;
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
    if (nsec > 999_999_999) throw new ProtocolError(`timestamp has ${nsec} nanoseconds; at most 999999999`);
    // Date holds milliseconds: finer digits are dropped (toward the past, as floor does).
    const ms = sec * 1000 + Math.floor(nsec / 1_000_000);
    // Outside Python's datetime (and, far further out, outside Date): no sender could mean it.
    if (!(ms >= MIN_DATE_MS && ms <= MAX_DATE_MS)) {
      throw new ProtocolError(`timestamp of ${sec} seconds is outside the years 1 to 9999 that both sides hold`);
    }
    return new Date(ms);
  }

  /** The frame an ext payload's index refers to. */
  private frameAt(ext: string, frameIndex: unknown): Buffer {
    if (typeof frameIndex !== 'number' || !Number.isInteger(frameIndex) || frameIndex < 1 || frameIndex >= this.frames.length) {
      throw new ProtocolError(`${ext} refers to frame ${String(frameIndex)} but the message has ${this.frames.length} frames`);
    }
    return this.frames[frameIndex]!;
  }

  /** ext 3 `[kind, frame]`: an Arrow IPC stream (arrow.ts). */
  private tablePayload(payload: unknown): unknown {
    if (!Array.isArray(payload) || payload.length !== 2) throw new ProtocolError('ext 3 payload must be an array [kind, frame]');
    const [kind, frameIndex] = payload as [unknown, unknown];
    if (kind !== 'table' && kind !== 'vector') {
      throw new ProtocolError(`ext 3 kind must be "table" or "vector", got ${JSON.stringify(kind)?.slice(0, 40)}`);
    }
    return arrowFromIPC(kind, this.frameAt('ext 3', frameIndex));
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
    const frame = this.frameAt('ext 1', frameIndex);
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
