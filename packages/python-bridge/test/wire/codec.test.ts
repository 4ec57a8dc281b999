import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { comparable } from '../../../../test/arrow-values.js';
import { fileURLToPath } from 'node:url';
import { createCodec } from '../../src/wire/codec.js';
import { EncodeError, MessageTooLargeError, ProtocolError } from '../../src/errors.js';
import { NdArray, ndarray, type DType, type TypedArray } from '../../src/wire/ndarray.js';
import { PROTOCOL_VERSION } from '../../src/wire/protocol.js';
import { encodeCallBody } from '../../src/wire/encoded-call.js';

const VECTORS = fileURLToPath(new URL('../../../../protocol/vectors.json', import.meta.url));

type Tagged = null | boolean | string | Tagged[] | { [tag: string]: unknown };
interface VectorCase {
  name: string;
  value: Tagged;
  frames: string[];
  encoders: string[];
  /** Frames holding an Arrow IPC stream: compared by the table they read as (PROTOCOL.md, "Tables (ext 3)"). */
  ipc?: number[];
}

const ARRAY_OF: Record<DType, { new (buffer: ArrayBuffer, offset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number }> = {
  float64: Float64Array,
  float32: Float32Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};

/** Tagged JSON of the vectors → the JS value the codec must produce (see the vectors' README in PROTOCOL.md). */
function fromTagged(t: Tagged): unknown {
  if (t === null || typeof t === 'boolean' || typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map(fromTagged);
  const keys = Object.keys(t);
  if (keys.length !== 1) throw new Error(`a tag has exactly one key, got ${JSON.stringify(t)}`);
  const tag = keys[0]!;
  const body = t[tag];
  switch (tag) {
    case 'int': {
      const n = BigInt(body as string);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'float':
      return Number(body as string);
    case 'bytes':
      return Buffer.from(body as string, 'hex');
    case 'dict':
      return Object.fromEntries((body as [string, Tagged][]).map(([k, v]) => [k, fromTagged(v)]));
    case 'map':
      return new Map((body as [Tagged, Tagged][]).map(([k, v]) => [fromTagged(k), fromTagged(v)]));
    case 'datetime':
      return new Date(body as string);
    case 'tuple':
      return (body as Tagged[]).map(fromTagged);
    case 'arrow': {
      const { kind, ipc } = body as { kind: string; ipc: string };
      const table = tableFromIPC(Buffer.from(ipc, 'hex'));
      return kind === 'table' ? table : table.getChildAt(0);
    }
    case 'ndarray': {
      const { dtype, shape, data } = body as { dtype: DType; shape: number[]; data: string };
      const bytes = Buffer.from(data, 'hex');
      const copy = new ArrayBuffer(bytes.length);
      new Uint8Array(copy).set(bytes);
      const ctor = ARRAY_OF[dtype];
      const array = new ctor(copy, 0, bytes.length / ctor.BYTES_PER_ELEMENT);
      return shape.length === 1 ? array : new NdArray(array, shape);
    }
    default:
      throw new Error(`unknown tag ${tag}`);
  }
}

/** The frames as hex, an IPC frame as the table it reads as. */
function framesOf(frames: readonly Uint8Array[], ipc: readonly number[]): unknown[] {
  return hex(frames).map((h, i) => (ipc.includes(i) ? comparable(tableFromIPC(Buffer.from(h, 'hex'))) : h));
}

function hex(frames: readonly Uint8Array[]): string[] {
  return frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('hex'));
}

describe('codec', () => {
  describe('protocol/vectors.json', () => {
    // Shared with the Python tests: both sides check the same bytes, so they cannot drift.
    const present = existsSync(VECTORS);
    const cases: VectorCase[] = present ? (JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: VectorCase[] }).cases : [];

    it('is present and speaks this side\'s protocol version', () => {
      expect(present, `${VECTORS} is missing`).to.equal(true);
      expect(JSON.parse(readFileSync(VECTORS, 'utf8')).protocol).to.equal(PROTOCOL_VERSION);
      expect(cases.length).to.be.greaterThan(50);
    });

    for (const c of cases) {
      it(`decodes ${c.name}`, () => {
        const codec = createCodec();
        const frames = c.frames.map((h) => Buffer.from(h, 'hex'));
        expect(comparable(codec.decode(frames))).to.deep.equal(comparable(fromTagged(c.value)));
      });
      if (c.encoders.includes('js')) {
        it(`encodes ${c.name}`, () => {
          const codec = createCodec();
          const ipc = c.ipc ?? [];
          expect(framesOf(codec.encode(fromTagged(c.value)), ipc)).to.deep.equal(framesOf(c.frames.map((h) => Buffer.from(h, 'hex')), ipc));
        });
      }
    }
  });

  describe('hand-checked bytes', () => {
    const codec = createCodec();
    const cases: Array<[string, unknown, string]> = [
      ['2^32 as uint 64, not float', 2 ** 32, 'cf0000000100000000'],
      ['-0 as float 64', -0, 'cb8000000000000000'],
      ['2^53 (unsafe number) as float 64', 2 ** 53, 'cb4340000000000000'],
      ['undefined as nil', undefined, 'c0'],
      ['a call envelope', ['call', 7, 'm', 'f', [1], null], '96a463616c6c07a16da1669101c0'],
      ['Map with string keys', new Map([['a', 1]]), '81a16101'],
      ['a 40-char string as str 8', 'x'.repeat(40), 'd928' + '78'.repeat(40)],
      ['a lone surrogate as U+FFFD', 'a\ud800', 'a461efbfbd'],
      ['bigint 5n in its 64-bit form', 5n, 'd30000000000000005'],
      ['2^127 as ext 2 of 17 bytes (a sign byte first)', 2n ** 127n, 'c71102' + '0080' + '00'.repeat(15)],
      ['-2^127 as ext 2 of 16 bytes (fixext 16)', -(2n ** 127n), 'd802' + '80' + '00'.repeat(15)],
    ];
    for (const [name, value, bytes] of cases) {
      it(`encodes ${name}`, () => {
        expect(hex(codec.encode(value))).to.deep.equal([bytes]);
      });
    }

    it('decodes every integer form to a number when safe and a bigint otherwise', () => {
      expect(codec.decode([Buffer.from('d30000000000000005', 'hex')])).to.equal(5);
      expect(codec.decode([Buffer.from('d3ffe0000000000000', 'hex')])).to.equal(-(2n ** 53n));
      expect(codec.decode([Buffer.from('cf0020000000000000', 'hex')])).to.equal(2n ** 53n);
      expect(codec.decode([Buffer.from('ca3fc00000', 'hex')])).to.equal(1.5);
    });

    it('decodes a map with all string keys to a plain object, any other map to a Map', () => {
      const obj = codec.decode([Buffer.from('82a16101a16202', 'hex')]);
      expect(Object.getPrototypeOf(obj)).to.equal(Object.prototype);
      expect(obj).to.deep.equal({ a: 1, b: 2 });
      expect(codec.decode([Buffer.from('82a1610102a162', 'hex')])).to.deep.equal(new Map<unknown, unknown>([['a', 1], [2, 'b']]));
    });

    it('never overwrites the frame of an earlier message (the socket may still hold it)', () => {
      const local = createCodec();
      const first = local.encode(['first', 1]);
      const snapshot = Buffer.from(first[0]!);
      for (let i = 0; i < 2000; i++) local.encode(['later message', i, 'x'.repeat(i % 100)]);
      expect(first[0]!.equals(snapshot)).to.equal(true);
    });

    it('lets go of a buffer grown for one big message', () => {
      const local = createCodec();
      const big = local.encode(Buffer.alloc(4 * 1024 * 1024));
      const small = local.encode(1);
      expect(small[0]!.buffer).to.not.equal(big[0]!.buffer);
      expect(small[0]!.buffer.byteLength).to.be.lessThan(1024 * 1024);
    });

    it('keeps a "__proto__" key as data', () => {
      const value = codec.decode(codec.encode(JSON.parse('{"__proto__": {"polluted": true}}'))) as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).to.equal(Object.prototype);
      expect(Object.keys(value)).to.deep.equal(['__proto__']);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });

  describe('arrays', () => {
    it('sends a typed array as a view of its own memory (no copy)', () => {
      const data = new Float64Array([1, 2, 3]);
      const frames = createCodec().encode(data);
      expect(frames).to.have.length(2);
      expect(frames[1]!.buffer).to.equal(data.buffer);
      data[0] = 42;
      expect(frames[1]!.readDoubleLE(0)).to.equal(42);
    });

    it('sends a subarray as exactly its bytes', () => {
      const whole = new Int16Array([1, 2, 3, 4, 5]);
      const frames = createCodec().encode(whole.subarray(1, 3));
      expect(hex(frames.slice(1))).to.deep.equal(['02000300']);
    });

    it('decodes an aligned 1-d array as a view of the frame, an unaligned one as a copy', () => {
      const codec = createCodec();
      const head = Buffer.from('c70c0193a7666c6f61743634910301', 'hex');
      const aligned = Buffer.from(new Float64Array([1, 2, 3]).buffer);
      const viewed = codec.decode([head, aligned]) as Float64Array;
      expect(viewed).to.deep.equal(new Float64Array([1, 2, 3]));
      expect(viewed.buffer).to.equal(aligned.buffer);

      const backing = Buffer.alloc(25);
      aligned.copy(backing, 1);
      const unaligned = backing.subarray(1);
      const copied = codec.decode([head, unaligned]) as Float64Array;
      expect(copied).to.deep.equal(new Float64Array([1, 2, 3]));
      expect(copied.buffer).to.not.equal(backing.buffer);
    });

    it('round-trips every dtype, 1-d as typed arrays and n-d as NdArray', () => {
      const codec = createCodec();
      const values = [
        new Float32Array([1.5, -2]),
        new Int8Array([-1, 2]),
        new Uint16Array([65535]),
        new Uint32Array([4294967295]),
        new BigInt64Array([-(2n ** 63n)]),
        new BigUint64Array([2n ** 64n - 1n]),
        ndarray(new Uint8Array([1, 2, 3, 4, 5, 6]), [3, 2]),
        ndarray(new Float64Array([7]), []),
      ];
      expect(codec.decode(codec.encode(values))).to.deep.equal(values);
    });

    it('sends a plain Uint8Array and a Buffer as bytes, not as an array', () => {
      const codec = createCodec();
      expect(hex(codec.encode(new Uint8Array([1, 2])))).to.deep.equal(['c4020102']);
      expect(hex(codec.encode(Buffer.from([1, 2])))).to.deep.equal(['c4020102']);
    });

    it('numbers frames in the order the arrays appear', () => {
      const frames = createCodec().encode({ a: new Int8Array([1]), b: [new Int8Array([2]), new Int8Array([3])] });
      expect(hex(frames.slice(1))).to.deep.equal(['01', '02', '03']);
    });

    it('refuses an NdArray whose shape does not fit its data', () => {
      expect(() => new NdArray(new Float64Array(6), [4, 2])).to.throw(RangeError, 'shape [4, 2] holds 8 elements but data has 6');
    });
  });

  describe('refusals', () => {
    const codec = createCodec();

    function encodeError(fn: () => unknown): EncodeError {
      try {
        fn();
      } catch (error) {
        expect(error).to.be.instanceOf(EncodeError);
        return error as EncodeError;
      }
      throw new Error('expected an EncodeError');
    }

    it('names the path of a function', () => {
      const error = encodeError(() =>
        encodeCallBody(codec, 'm', 'f', [1, { user: { name: 'x', callback: () => 1 } }], undefined),
      );
      expect(error.path).to.equal('args[1].user.callback');
      expect(error.message).to.equal('cannot send a function (callback) at args[1].user.callback');
    });

    it('names the path of a symbol inside kwargs', () => {
      const error = encodeError(() => encodeCallBody(codec, 'm', 'f', [], { 'odd key': [Symbol('s')] }));
      expect(error.path).to.equal('kwargs["odd key"][0]');
    });

    it('names a circular reference and what it refers back to', () => {
      const user: Record<string, unknown> = { name: 'x' };
      user.self = { back: user };
      const error = encodeError(() => encodeCallBody(codec, 'm', 'f', [user], undefined));
      expect(error.path).to.equal('args[0].self.back');
      expect(error.message).to.contain('circular reference').and.contain('refers back to args[0]');
    });

    it('names class instances, Sets and unsupported typed arrays', () => {
      class Point {
        x = 1;
      }
      expect(encodeError(() => codec.encode([new Point()], 'args')).message).to.equal('cannot send an instance of class Point at args[0]');
      expect(encodeError(() => codec.encode({ s: new Set([1]) })).message).to.equal('cannot send a Set at value.s');
      expect(encodeError(() => codec.encode(new Map([[1, new Uint8ClampedArray(1)]]))).path).to.equal('value.get(1)');
      expect(encodeError(() => codec.encode(new Date(NaN))).message).to.equal('cannot send an invalid Date at value');
    });

    it('refuses arrays whose memory was transferred away, naming the path', () => {
      const data = Float64Array.from([1, 2, 3, 4]);
      const rows = ndarray(data, [2, 2]);
      structuredClone(data.buffer, { transfer: [data.buffer] });
      expect(encodeError(() => codec.encode([data], 'args')).message).to.equal('cannot send a Float64Array whose memory was transferred away at args[0]');
      expect(encodeError(() => codec.encode({ rows }, 'kwargs')).message).to.equal(
        "cannot send an NdArray whose memory was transferred away (its Float64Array holds 0 of its shape's elements) at kwargs.rows",
      );
    });

    it('refuses a Date Python cannot hold (outside the years 1 to 9999), naming the path; the edges go', () => {
      const outside = [new Date(8.64e15), new Date(-8.64e15), new Date('+010000-01-01T00:00:00.000Z'), new Date('0000-12-31T23:59:59.999Z')];
      for (const date of outside) {
        const error = encodeError(() => encodeCallBody(codec, 'm', 'f', [{ when: date }], undefined));
        expect(error.path, date.toISOString()).to.equal('args[0].when');
        expect(error.message).to.equal(
          `cannot send a Date outside the years 1 to 9999 that Python's datetime holds (${date.toISOString()}) at args[0].when`,
        );
      }
      const first = new Date('0001-01-01T00:00:00.000Z');
      const last = new Date('9999-12-31T23:59:59.999Z');
      expect(hex(codec.encode(first))).to.deep.equal(['c70cff00000000fffffff1886e0900']);
      expect(codec.decode(codec.encode([first, last]))).to.deep.equal([first, last]);
    });

    it('is usable again after a refusal (nothing of the failed message leaks)', () => {
      const local = createCodec();
      encodeError(() => local.encode(['partial', 'bytes', () => 1]));
      expect(hex(local.encode(1))).to.deep.equal(['01']);
    });

    it('refuses messages over maxMessageSize, both ways', () => {
      const small = createCodec({ maxMessageSize: 100 });
      let caught: unknown;
      try {
        small.encode(new Float64Array(20));
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(MessageTooLargeError);
      expect((caught as MessageTooLargeError).limit).to.equal(100);
      expect((caught as MessageTooLargeError).size).to.equal(160 + 15); // the array frame and its ext 1 header
      const big = createCodec().encode(Buffer.alloc(200));
      expect(() => small.decode(big)).to.throw(MessageTooLargeError, 'exceeds maxMessageSize of 100 bytes');
    });

    it('rejects malformed input with ProtocolError', () => {
      const bad: Array<[string, string[]]> = [
        ['truncated', ['92a161']],
        ['trailing bytes', ['01' + '02']],
        ['never-used byte', ['c1']],
        ['unknown extension', ['d40500']],
        ['array frame out of range', ['c70c0193a7666c6f61743634910305']],
        ['array frame of the wrong size', ['c70c0193a7666c6f61743634910301', '00']],
        ['no frames', []],
      ];
      for (const [, frames] of bad) {
        expect(() => codec.decode(frames.map((h) => Buffer.from(h, 'hex')))).to.throw(ProtocolError);
      }
    });
  });
});
