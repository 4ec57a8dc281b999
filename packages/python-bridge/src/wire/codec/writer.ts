/**
 * MessagePack's forms written into a growing buffer, each in its smallest form (PROTOCOL.md,
 * "Canonical encoding"). Which form a JavaScript value takes is the {@link Encoder}'s business;
 * this class only writes headers and scalars.
 *
 * Messages are written one after another into `buf`, from `start`; each finished frame 0 is a
 * subarray that later messages never overwrite (the socket may still hold it), and a full buffer
 * is simply replaced, leaving the old one to the frames that view it.
 */
import { FIXEXT_CODE, EXT_BIGINT, TWO_32, bigintToBytes } from './wire.js';

export const SCRATCH_SIZE = 64 * 1024;
/** A buffer grown past this for one big message is let go afterwards rather than kept for the next. */
export const KEEP_LIMIT = 1024 * 1024;

export class Writer {
  protected buf: Buffer = Buffer.allocUnsafe(SCRATCH_SIZE);
  /** Where the next byte goes. */
  protected pos = 0;
  /** Where the message in progress begins. */
  protected start = 0;

  /** Makes room for `n` more bytes, moving the message in progress to a new buffer if needed. */
  protected ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const needed = used + n;
    const next = Buffer.allocUnsafe(Math.max(SCRATCH_SIZE, needed > KEEP_LIMIT ? needed + SCRATCH_SIZE : needed * 2));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  protected number(n: number): void {
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

  protected float(n: number): void {
    this.buf[this.pos++] = 0xcb;
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }

  /**
   * A bigint is written as int 64 when it fits (PROTOCOL.md: "bigint within int64/uint64 → int
   * 64"; the vectors' "written as int 64" cases), as uint 64 in [2^63, 2^64), else as ext 2.
   */
  protected bigint(n: bigint): void {
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

  protected string(s: string): void {
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

  protected bytes(data: Uint8Array): void {
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

  protected arrayHeader(length: number): void {
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

  protected mapHeader(size: number): void {
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
  protected extHeader(type: number, size: number): void {
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
}
