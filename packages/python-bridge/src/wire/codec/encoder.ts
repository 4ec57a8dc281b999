/**
 * The encoder of the codec (PROTOCOL.md, "Values" and "Canonical encoding"): a JavaScript value to
 * frames. Frame 0 is written into a reused scratch buffer; typed arrays go out as frames of their
 * own that view the arrays' memory (no copy), Arrow tables as frames holding their IPC stream. The encoding choices are the canonical ones of
 * PROTOCOL.md, so both sides write the same bytes for the same value (protocol/vectors.json).
 *
 * It keeps no path while it runs: a value it cannot send is thrown as {@link Unsupported} and
 * named afterwards by the slow path in `locate.ts`.
 */
import { MessageTooLargeError, PitonError } from '../../errors.js';
import { arrowClassOf, arrowToIPC, type Allocate } from '../arrow.js';
import { ArrowNotLoaded } from '../arrow-module.js';
import { NdArray, dtypeOf, isIntactNdArray, type TypedArray } from '../ndarray.js';
import { TooDeep, Unsupported, describeObject, toEncodeError } from './locate.js';
import { EXT_NDARRAY, EXT_TABLE, EXT_TIMESTAMP, FIXEXT_CODE, MAX_DATE_MS, MAX_DEPTH, MIN_DATE_MS, TWO_32 } from './wire.js';
import { KEEP_LIMIT, SCRATCH_SIZE, Writer } from './writer.js';

export class Encoder extends Writer {
  readonly maxMessageSize: number;

  /** The array frames of the message in progress (frames 1…n). */
  private extra: Buffer[] = [];
  private depth = 0;
  /** Where to record the offsets of ext 1 frame indices, during one encodeEnvelope() call (payload.ts). */
  private indexAt: number[] | undefined;

  /** Memory for the IPC streams of tables; fresh by default. */
  private readonly allocate: Allocate | undefined;

  constructor(maxMessageSize: number, allocate?: Allocate) {
    super();
    this.maxMessageSize = maxMessageSize;
    this.allocate = allocate;
  }

  /** See `Codec.encode`. */
  encode(value: unknown, path = 'value'): Buffer[] {
    this.begin();
    try {
      this.write(value);
    } catch (err) {
      throw this.fail(err, [value], [path]);
    }
    return this.finish();
  }

  /** See `Codec.encodeEnvelope`. */
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

  /** Forgets the failed message and names what failed. */
  private fail(err: unknown, roots: readonly unknown[], names: readonly string[]): unknown {
    this.pos = this.start;
    this.extra = [];
    return toEncodeError(err, roots, names);
  }

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
      if (!isIntactNdArray(value)) throw new Unsupported(value, `an NdArray whose memory was transferred away (its ${value.data.constructor.name} holds ${value.data.length} of its shape's elements)`);
      this.ndarray(value.data, value.dtype, value.shape);
    } else {
      const dtype = dtypeOf(value);
      if (dtype !== undefined) this.ndarray(value as TypedArray, dtype, undefined);
      else this.table(value);
    }
    this.depth--;
  }

  /** ext 3: `[kind, frame]`; the frame is the IPC stream of an apache-arrow value, written now. */
  private table(value: object): void {
    const name = arrowClassOf(value);
    if (name === undefined) throw new Unsupported(value, describeObject(value));
    let stream: Buffer;
    let kind: string;
    try {
      ({ kind, stream } = arrowToIPC(value, name, this.allocate));
    } catch (error) {
      // apache-arrow is not loaded yet (the caller loads it and encodes again), or cannot be.
      if (error instanceof ArrowNotLoaded || error instanceof PitonError) throw error;
      throw new Unsupported(value, `an apache-arrow ${name} (${error instanceof Error ? error.message : String(error)})`);
    }
    OWNED_FRAMES.add(stream);
    this.framed(EXT_TABLE, stream, 32, () => {
      this.arrayHeader(2);
      this.string(kind);
    });
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

  /** ext −1, in the smallest timestamp form that holds it; only instants Python's datetime holds. */
  private date(value: Date): void {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new Unsupported(value, 'an invalid Date');
    if (ms < MIN_DATE_MS || ms > MAX_DATE_MS) {
      throw new Unsupported(value, `a Date outside the years 1 to 9999 that Python's datetime holds (${value.toISOString()})`);
    }
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
    let bytes: Buffer;
    try {
      bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    } catch {
      // Node 20 has no `ArrayBuffer.prototype.detached`: a view of a transferred buffer is found here.
      throw new Unsupported(data, `a ${data.constructor.name} whose memory was transferred away`);
    }
    this.framed(EXT_NDARRAY, bytes, 48 + 9 * (shape === undefined ? 1 : shape.length), () => {
      this.arrayHeader(3);
      this.string(dtype);
      if (shape === undefined) {
        this.arrayHeader(1);
        this.number(data.length);
      } else {
        this.arrayHeader(shape.length);
        for (let i = 0; i < shape.length; i++) this.number(shape[i]!);
      }
    });
  }

  /**
   * An ext whose payload is a MessagePack array ending with the index of `frame`, which joins the
   * message's frames: `writeHead` writes the array header and the items before the index, in at
   * most `reserve` bytes (with the index and the ext header).
   */
  private framed(type: number, frame: Buffer, reserve: number, writeHead: () => void): void {
    this.extra.push(frame);
    const frameIndex = this.extra.length;
    // Reserve room for the whole payload first, so that `headerAt` stays valid (no buffer switch)
    // while the payload is written after room for an ext 8 header; the header is fixed up after.
    this.ensure(reserve);
    const headerAt = this.pos;
    this.pos += 3;
    writeHead();
    const indexAt = this.pos;
    this.number(frameIndex);
    const size = this.pos - headerAt - 3;
    // Headers: fixext is 2 bytes, ext 8 is 3, ext 16 is 4.
    const headerSize = FIXEXT_CODE[size] !== undefined ? 2 : size < 0x100 ? 3 : 4;
    this.indexAt?.push(indexAt + headerSize - 3 - this.start);
    if (headerSize !== 3) this.buf.copyWithin(headerAt + headerSize, headerAt + 3, this.pos);
    this.pos = headerAt;
    this.extHeader(type, size);
    this.pos = headerAt + headerSize + size;
  }
}

/**
 * Frames the encoder wrote into memory of their own (an Arrow table's IPC stream) rather than
 * views of a value's memory: a call's snapshot at `call()` leaves them as they are.
 */
export const OWNED_FRAMES = new WeakSet<Buffer>();
