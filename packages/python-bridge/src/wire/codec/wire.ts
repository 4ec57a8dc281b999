/**
 * The constants of the wire format that the encoder and the decoder share (PROTOCOL.md, "Values"),
 * and the ext payload conversions that are the same code both ways.
 */
import { ProtocolError } from '../../errors.js';

/** Extension type codes of the protocol. */
export const EXT_TIMESTAMP = -1;
export const EXT_NDARRAY = 1;
export const EXT_BIGINT = 2;
export const EXT_TABLE = 3;

/** Nesting beyond this depth is refused when encoding; it is also how a circular reference is noticed cheaply. */
export const MAX_DEPTH = 512;

/**
 * Containers nested beyond this depth are refused when decoding, long before the stack runs out;
 * it is the depth msgpack-python's unpacker accepts, so both sides refuse the same messages.
 */
export const MAX_DECODE_DEPTH = 1024;

export const TWO_32 = 4294967296;

/** fixext header byte by data size. */
export const FIXEXT_CODE: Record<number, number> = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 };

/**
 * The instants a timestamp may hold: those of Python's `datetime` (years 1 to 9999, UTC), in
 * milliseconds since the epoch. A JavaScript Date reaches far wider (±8.64e15 ms); one outside
 * this range could not arrive in Python, so it is refused before sending, and a timestamp outside
 * it is not protocol data.
 */
export const MIN_DATE_MS = -62135596800000; // 0001-01-01T00:00:00.000Z
export const MAX_DATE_MS = 253402300799999; // 9999-12-31T23:59:59.999Z

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
