/**
 * The decoder's contract under hostile bytes: any input gives either a value or a ProtocolError
 * (MessageTooLargeError over the limit), never another exception, a hang, or a wrong value.
 *
 * "Wrong value", made checkable:
 * - a message cut short (any frame truncated at any offset, or trailing frames dropped) must
 *   NEVER decode: every MessagePack value and every ext 1 frame has an exact length, so a value
 *   from a strict prefix would be one the sender did not send;
 * - a message with flipped bytes that still decodes must give a value the encoder takes
 *   (re-encoding throws nothing), and that value must be a fixed point: decoding its encoding
 *   and encoding again gives the same bytes. Flipped bytes in an Arrow IPC stream (ext 3) are
 *   held to the first half only: the stream's structure is apache-arrow's to check, and its
 *   writer does not give back every layout its reader takes (a field without a name reads as
 *   "null"), so such a table is sent as what it reads as, not byte for byte.
 *
 * Seeded, so a failure replays; the seed and the case are in the assertion message.
 * The same test for the Python codec: python/tests/test_codec_fuzz.py.
 */
import { expect } from 'chai';
import { readVectors } from '../../../../test/helpers.js';
import { createCodec, type Codec } from '../../src/wire/codec.js';
import { MessageTooLargeError, ProtocolError } from '../../src/errors.js';

const SEED = 0x5eed10c;
const FLIP_CASES = 4000;

/** mulberry32: a small, good-enough PRNG whose whole state is one 32-bit seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const vectors = readVectors().cases.map((c) => ({ name: c.name, frames: c.frames.map((h) => Buffer.from(h, 'hex')), ipc: c.ipc ?? [] }));

function hex(frames: readonly Buffer[]): string {
  return frames.map((f) => f.toString('hex')).join('|');
}

/** Decodes, returning the error instead of throwing it. */
function tryDecode(codec: Codec, frames: Buffer[]): { value: unknown } | { error: unknown } {
  try {
    return { value: codec.decode(frames) };
  } catch (error) {
    return { error };
  }
}

/** Frames are copied so that a decoded view never shares memory with a later mutation. */
function copy(frames: readonly Buffer[]): Buffer[] {
  return frames.map((f) => Buffer.from(f));
}

describe('codec fuzz (every shared vector truncated and flipped)', () => {
  it(`has the shared vectors to work on`, () => {
    expect(vectors.length).to.be.greaterThan(50);
  });

  it('never decodes a vector cut short at any offset of any frame, and fails with ProtocolError', () => {
    const codec = createCodec();
    let cases = 0;
    for (const v of vectors) {
      for (let f = 0; f < v.frames.length; f++) {
        for (let cut = 0; cut < v.frames[f]!.length; cut++) {
          const frames = copy(v.frames);
          frames[f] = frames[f]!.subarray(0, cut);
          const result = tryDecode(codec, frames);
          const what = `${v.name}: frame ${f} cut to ${cut} bytes (${hex(frames)})`;
          expect(result, `${what} decoded`).to.have.property('error');
          expect((result as { error: unknown }).error, what).to.be.instanceOf(ProtocolError);
          cases++;
        }
      }
      for (let kept = 0; kept < v.frames.length; kept++) {
        const result = tryDecode(codec, copy(v.frames.slice(0, kept)));
        const what = `${v.name}: only ${kept} of ${v.frames.length} frames`;
        expect(result, `${what} decoded`).to.have.property('error');
        expect((result as { error: unknown }).error, what).to.be.instanceOf(ProtocolError);
        cases++;
      }
    }
    expect(cases).to.be.greaterThan(3000);
  });

  it(`gives ProtocolError or a re-encodable fixed point for ${FLIP_CASES} vectors with random bytes changed (seed ${SEED})`, () => {
    const random = prng(SEED);
    const pick = (n: number): number => Math.floor(random() * n);
    const codec = createCodec();
    let refused = 0;
    let decoded = 0;
    let ipcDecoded = 0;
    for (let i = 0; i < FLIP_CASES; i++) {
      const v = vectors[pick(vectors.length)]!;
      const frames = copy(v.frames);
      // Mostly frame 0, where the structure is; array frames are raw numbers and always decode.
      const f = frames.length > 1 && random() < 0.1 ? 1 + pick(frames.length - 1) : 0;
      const frame = frames[f]!;
      if (frame.length === 0) continue;
      const flips = 1 + pick(3);
      for (let k = 0; k < flips; k++) {
        const at = pick(frame.length);
        frame[at] = (frame[at]! ^ (1 + pick(255))) & 0xff;
      }
      const what = `case ${i} (seed ${SEED}) from ${v.name}: ${hex(frames)}`;
      const result = tryDecode(codec, frames);
      if ('error' in result) {
        expect(result.error, what).to.be.instanceOf(ProtocolError);
        refused++;
        continue;
      }
      decoded++;
      let first: Buffer[];
      try {
        first = copy(codec.encode(result.value));
      } catch (error) {
        throw new Error(`${what} decoded to a value the encoder refuses: ${String(error)}`);
      }
      if (v.ipc.includes(f)) {
        ipcDecoded++;
        continue;
      }
      const again = codec.decode(first);
      expect(hex(codec.encode(again)), `${what}: re-encoding is not a fixed point`).to.equal(hex(first));
    }
    // Both outcomes must occur, or the test would not be testing what it says.
    expect(refused, 'flipped vectors refused').to.be.greaterThan(FLIP_CASES / 10);
    expect(decoded, 'flipped vectors decoded').to.be.greaterThan(FLIP_CASES / 10);
    expect(ipcDecoded, 'flipped IPC streams that still decoded (and encoded)').to.be.greaterThan(0);
  });

  describe('hostile headers', () => {
    const codec = createCodec();
    const cases: Array<[string, () => Buffer[]]> = [
      ['str 32 declaring 4 GiB', () => [Buffer.from('dbffffffff41', 'hex')]],
      ['bin 32 declaring 4 GiB', () => [Buffer.from('c6ffffffff00', 'hex')]],
      ['array 32 declaring 2^32-1 items', () => [Buffer.from('ddffffffff00', 'hex')]],
      ['map 32 declaring 2^32-1 entries', () => [Buffer.from('dfffffffff0000', 'hex')]],
      ['ext 32 declaring 4 GiB', () => [Buffer.from('c9ffffffff0100', 'hex')]],
      ['ext 2 with no bytes', () => [Buffer.from('c70002', 'hex')]],
      ['timestamp of 3 bytes', () => [Buffer.from('c703ff000000', 'hex')]],
      ['timestamp 64 with nanoseconds of 10^9 or more', () => [Buffer.from('d7ff' + 'ee6b2800' + '00000000', 'hex')]],
      ['timestamp 96 at 2^62 seconds (no Date holds it)', () => [Buffer.from('c70cff' + '00000000' + '4000000000000000', 'hex')]],
      ['timestamp 96 in the year 10000 (no datetime holds it)', () => [Buffer.from('c70cff' + '00000000' + '0000003afff44180', 'hex')]],
      ['timestamp 96 one second before the year 1', () => [Buffer.from('c70cff' + '00000000' + 'fffffff1886e08ff', 'hex')]],
      ['ext 1 of shape [2^32, 2^32] over an empty frame', () => [Buffer.from('c71d01' + '93a7666c6f6174363492cf0000000100000000cf000000010000000001', 'hex'), Buffer.alloc(0)]],
      ['ext 1 whose payload is an ext 1, 100 000 deep', () => [nestedExt(100_000)]],
      ['100 000 nested arrays', () => [Buffer.concat([Buffer.alloc(100_000, 0x91), Buffer.from([0])])]],
      ['100 000 nested maps', () => [Buffer.concat([Buffer.alloc(100_000 * 2).fill(Buffer.from('81c0')), Buffer.from([0])])]],
      ['ext 3 over a frame that is not an Arrow IPC stream', () => [Buffer.from('d70392a57461626c6501', 'hex'), Buffer.from('not arrow at all')]],
      ['ext 3 whose stream declares 2 GiB of metadata', () => [Buffer.from('d70392a57461626c6501', 'hex'), Buffer.from('ffffffff' + 'ffffff7f' + 'ffffffff00000000', 'hex')]],
      ['ext 3 of an unknown kind', () => [Buffer.from('d70392a5636861727401', 'hex'), Buffer.from('ffffffff00000000', 'hex')]],
      ['ext 3 referring to frame 0', () => [Buffer.from('d70392a57461626c6500', 'hex')]],
    ];
    for (const [name, frames] of cases) {
      it(`${name}: ProtocolError`, () => {
        expect(() => codec.decode(frames())).to.throw(ProtocolError);
      });
    }

    it('1025 nested arrays are refused, 1024 decode (the depth msgpack-python accepts)', () => {
      const nested = (n: number): Buffer => Buffer.concat([Buffer.alloc(n, 0x91), Buffer.from([0])]);
      expect(() => codec.decode([nested(1025)])).to.throw(ProtocolError, /nested deeper than 1024/);
      let v = codec.decode([nested(1024)]);
      let depth = 0;
      while (Array.isArray(v)) {
        v = v[0];
        depth++;
      }
      expect(depth).to.equal(1024);
    });

    it('a message over the limit is MessageTooLargeError before any byte is read', () => {
      expect(() => createCodec({ maxMessageSize: 4 }).decode([Buffer.from('dbffffffff41', 'hex')])).to.throw(MessageTooLargeError);
    });
  });
});

/** `n` ext 1 (ext 32) headers each wrapping the next, innermost nil. */
function nestedExt(n: number): Buffer {
  const out = Buffer.alloc(6 * n + 1);
  for (let k = 0; k < n; k++) {
    out[6 * k] = 0xc9;
    out.writeUInt32BE(out.length - 6 * (k + 1), 6 * k + 1);
    out[6 * k + 5] = 0x01;
  }
  out[6 * n] = 0xc0;
  return out;
}
