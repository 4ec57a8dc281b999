import { expect } from 'chai';
import { EncodeError, NdArray, PythonError, PythonPool, type TypedArray } from '@piton/python-bridge';
import { fixtures, reportedByPython } from './helpers.js';

/** What test/fixtures/types.py `describe` reports about a value Python received. */
interface Seen {
  type: string;
  [detail: string]: unknown;
}

interface ArraySeen extends Seen {
  dtype: string;
  byteorder: string;
  shape: number[];
  owndata: boolean;
  has_base: boolean;
  writeable: boolean;
  values: Array<number | string>;
}

describe('types through the pool (PROTOCOL.md "Values")', function () {
  let pool: PythonPool;

  before(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['value_types'] });
  });

  after(() => pool.stop());

  const describeIn = (value: unknown) => pool.call<Seen>('value_types', 'describe', [value]);
  const echo = <T = unknown>(value: unknown) => pool.call<T>('value_types', 'echo', [value]);

  describe('null, booleans, strings', () => {
    it('sends null and undefined as None, and None comes back as null', async () => {
      expect(await describeIn(null)).to.deep.equal({ type: 'NoneType' });
      expect(await describeIn(undefined)).to.deep.equal({ type: 'NoneType' });
      expect(await echo(undefined)).to.equal(null);
      expect(await echo([undefined, null])).to.deep.equal([null, null]);
    });

    it('sends booleans as bool', async () => {
      expect(await describeIn(true)).to.deep.equal({ type: 'bool' });
      expect(await echo(false)).to.equal(false);
      expect(await echo(true)).to.equal(true);
    });

    it('sends every plane of Unicode as str, code point for code point', async () => {
      const text = 'a\u00e9\u4e16\u{1F600}\u{10FFFF}\u0000\uFEFF';
      const seen = await describeIn(text);
      expect(seen.type).to.equal('str');
      expect(seen['codepoints']).to.deep.equal([...text].map((c) => c.codePointAt(0)));
      expect(await echo(text)).to.equal(text);
      // Long strings take the other encoding path.
      const long = '\u{1F600}\u00e9x'.repeat(5000);
      expect(await echo(long)).to.equal(long);
    });

    it('sends a lone surrogate as U+FFFD, since UTF-8 cannot hold it', async () => {
      const seen = await describeIn('a\uD800b\uDC00');
      expect(seen['codepoints']).to.deep.equal([0x61, 0xfffd, 0x62, 0xfffd]);
      const long = `${'x'.repeat(40)}\uDBFF`;
      expect(await echo(long)).to.equal(`${'x'.repeat(40)}\uFFFD`);
    });
  });

  describe('numbers', () => {
    it('sends NaN, ±Infinity and -0 as float, bit for bit, and gets them back', async () => {
      expect(await pool.call('value_types', 'float_bits', [NaN])).to.equal('7ff8000000000000');
      expect(await pool.call('value_types', 'float_bits', [Infinity])).to.equal('7ff0000000000000');
      expect(await pool.call('value_types', 'float_bits', [-Infinity])).to.equal('fff0000000000000');
      expect(await pool.call('value_types', 'float_bits', [-0])).to.equal('8000000000000000');
      expect(await describeIn(-0)).to.deep.equal({ type: 'float', repr: '-0.0', sign: -1 });
      expect(await echo(NaN)).to.be.NaN;
      expect(await echo(Infinity)).to.equal(Infinity);
      expect(await echo(-Infinity)).to.equal(-Infinity);
      expect(Object.is(await echo(-0), -0)).to.equal(true);
      expect(Object.is(await echo(0), 0)).to.equal(true);
      expect(await describeIn(0.1)).to.deep.equal({ type: 'float', repr: '0.1', sign: 1 });
      expect(await echo(Number.MIN_VALUE)).to.equal(Number.MIN_VALUE);
      expect(await echo(-Number.MAX_VALUE)).to.equal(-Number.MAX_VALUE);
    });

    it('sends every safe integer as int, including beyond 32 bits, and gets a number back', async () => {
      for (const n of [0, 1, -1, 127, 128, -33, 255, 65536, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
        const seen = await describeIn(n);
        expect(seen, `describe(${n})`).to.deep.include({ type: 'int', str: String(n) });
        const back = await pool.call('value_types', 'add_one', [n]);
        expect(back, `add_one(${n})`).to.equal(n + 1 > Number.MAX_SAFE_INTEGER ? BigInt(n) + 1n : n + 1);
      }
    });

    it('sends a bigint as int exactly, beyond 64 bits too, and gets a bigint back beyond 2^53', async () => {
      const values = [
        2n ** 53n,
        -(2n ** 53n),
        2n ** 63n - 1n,
        2n ** 63n,
        2n ** 64n - 1n,
        2n ** 64n,
        -(2n ** 63n),
        -(2n ** 63n) - 1n,
        10n ** 40n,
        -(10n ** 40n),
        2n ** 1000n + 1n,
      ];
      for (const n of values) {
        expect(await describeIn(n), `describe(${n})`).to.deep.include({ type: 'int', str: String(n) });
        const next = n + 1n;
        const expected = next >= BigInt(Number.MIN_SAFE_INTEGER) && next <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(next) : next;
        expect(await pool.call('value_types', 'add_one', [n]), `add_one(${n})`).to.equal(expected);
        expect(await echo(n), `echo(${n})`).to.equal(n);
      }
    });

    it('gets big Python ints as bigint exactly', async () => {
      const expected: Record<string, bigint> = {
        '2^53': 2n ** 53n,
        '-(2^53)': -(2n ** 53n),
        '2^63': 2n ** 63n,
        '2^64-1': 2n ** 64n - 1n,
        '2^64': 2n ** 64n,
        '-(2^63)-1': -(2n ** 63n) - 1n,
        '10^40': 10n ** 40n,
        '-(10^40)': -(10n ** 40n),
      };
      for (const [kind, n] of Object.entries(expected)) {
        expect(await pool.call('value_types', 'big_int', [kind]), kind).to.equal(n);
      }
    });

    it('turns a small bigint into an int that comes back as a number', async () => {
      expect(await describeIn(5n)).to.deep.include({ type: 'int', str: '5' });
      expect(await echo(5n)).to.equal(5);
    });
  });

  describe('bytes, lists, dicts, Maps', () => {
    it('sends Buffer and Uint8Array as bytes, and bytes come back as a Buffer', async () => {
      const data = Buffer.from([0, 1, 0xfe, 0xff]);
      expect(await describeIn(data)).to.deep.equal({ type: 'bytes', hex: '0001feff' });
      expect(await describeIn(new Uint8Array([9, 8]))).to.deep.equal({ type: 'bytes', hex: '0908' });
      const back = await echo<Buffer>(data);
      expect(Buffer.isBuffer(back)).to.equal(true);
      expect(back.equals(data)).to.equal(true);
      const empty = await echo<Buffer>(Buffer.alloc(0));
      expect(Buffer.isBuffer(empty) && empty.length === 0).to.equal(true);
      const big = Buffer.alloc(300_000, 7);
      expect((await echo<Buffer>(big)).equals(big)).to.equal(true);
    });

    it('sends arrays as list and plain objects as dict with str keys', async () => {
      const seen = await describeIn([1, 'a', [true], { k: null }]);
      expect(seen).to.deep.equal({
        type: 'list',
        items: [
          { type: 'int', str: '1', bits: 1 },
          { type: 'str', codepoints: [0x61] },
          { type: 'list', items: [{ type: 'bool' }] },
          { type: 'dict', keys: [{ type: 'str', codepoints: [0x6b] }], values: [{ type: 'NoneType' }] },
        ],
      });
      const value = { name: 'x', nested: { list: [1, 2.5, 'three', null, false], empty: {}, none: [] }, 'odd key': 1 };
      expect(await echo(value)).to.deep.equal(value);
      // An object without a prototype is a plain object too.
      const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
      expect(await echo(bare)).to.deep.equal({ a: 1 });
    });

    it('sends a Map as dict with keys of any type, and decodes non-string keys as a Map', async () => {
      const map = new Map<unknown, unknown>([
        [1, 'one'],
        ['two', 2],
        // Not `true` as well as 1: Python's dict would merge them, since True == 1 there.
        [false, 'no'],
        [null, 'none'],
        [2n ** 70n, 'big'],
      ]);
      const seen = await describeIn(map);
      expect(seen['type']).to.equal('dict');
      expect((seen['keys'] as Seen[]).map((k) => k.type)).to.deep.equal(['int', 'str', 'bool', 'NoneType', 'int']);
      const back = await echo<Map<unknown, unknown>>(map);
      expect(back).to.be.instanceOf(Map);
      expect([...back.entries()]).to.deep.equal([...map.entries()]);
      // All string keys: Python cannot tell a Map from an object, so it comes back as an object.
      expect(await echo(new Map([['a', 1]]))).to.deep.equal({ a: 1 });
    });

    it('gets Python values of every basic kind with the right JavaScript types', async () => {
      const v = await pool.call<Record<string, unknown>>('value_types', 'python_values');
      expect(v['none']).to.equal(null);
      expect(v['true']).to.equal(true);
      expect(v['int']).to.equal(42);
      expect(v['neg']).to.equal(-7);
      expect(v['float']).to.equal(1.5);
      expect(v['nan']).to.be.NaN;
      expect(v['inf']).to.equal(Infinity);
      expect(v['ninf']).to.equal(-Infinity);
      expect(Object.is(v['negzero'], -0)).to.equal(true);
      expect(v['str']).to.equal('héllo \u{1F600} \u4e16\u754c');
      expect(Buffer.isBuffer(v['bytes']) && (v['bytes'] as Buffer).equals(Buffer.from([0, 1, 0xfe, 0xff]))).to.equal(true);
      expect((v['bytearray'] as Buffer).toString()).to.equal('ab');
      expect(v['list']).to.deep.equal([1, 'two', null]);
      expect(v['tuple']).to.deep.equal([1, [2, 3]]);
      expect(v['dict']).to.deep.equal({ a: 1, b: { c: [true] } });
      expect(v['int_keys']).to.be.instanceOf(Map);
      expect([...(v['int_keys'] as Map<unknown, unknown>)]).to.deep.equal([
        [1, 'one'],
        [2, 'two'],
      ]);
      const mixed = v['mixed_keys'] as Map<unknown, unknown>;
      expect(mixed).to.be.instanceOf(Map);
      expect([...mixed]).to.deep.equal([
        ['a', 1],
        [2, 'b'],
        [null, 'n'],
        [[1, 2], 'tuple'],
      ]);
    });
  });

  describe('dates', () => {
    it('sends a Date as a UTC-aware datetime with millisecond precision', async () => {
      const date = new Date(Date.UTC(2024, 1, 29, 12, 30, 15, 123));
      expect(await describeIn(date)).to.deep.equal({ type: 'datetime', tz: 0, iso: '2024-02-29T12:30:15.123000+00:00' });
      const back = await echo<Date>(date);
      expect(back).to.be.instanceOf(Date);
      expect(back.getTime()).to.equal(date.getTime());
      for (const t of [0, -1, -86_400_000 * 365 * 300, 2 ** 32 * 1000 + 5, 2 ** 34 * 1000 + 999]) {
        expect((await echo<Date>(new Date(t))).getTime(), `Date(${t})`).to.equal(t);
      }
    });

    it('gets aware, naive (taken as UTC) and pre-1970 datetimes as Dates of the same instant', async () => {
      const v = await pool.call<Record<string, unknown>>('value_types', 'python_values');
      expect(v['aware']).to.be.instanceOf(Date);
      expect((v['aware'] as Date).toISOString()).to.equal('2024-02-29T10:30:15.123Z');
      expect((v['naive'] as Date).toISOString()).to.equal('2024-02-29T12:30:15.123Z');
      expect((v['before_1970'] as Date).toISOString()).to.equal('1969-07-20T20:17:40.000Z');
    });

    it("sends the first and last instants Python's datetime holds, and refuses one past them before sending", async () => {
      const [before] = pool.interpreters();
      const first = new Date('0001-01-01T00:00:00.000Z');
      const last = new Date('9999-12-31T23:59:59.999Z');
      expect(await describeIn(first)).to.deep.equal({ type: 'datetime', tz: 0, iso: '0001-01-01T00:00:00+00:00' });
      expect(await describeIn(last)).to.deep.equal({ type: 'datetime', tz: 0, iso: '9999-12-31T23:59:59.999000+00:00' });
      expect(await echo<Date[]>([first, last])).to.deep.equal([first, last]);
      for (const date of [new Date(8.64e15), new Date(-8.64e15), new Date(last.getTime() + 1), new Date(first.getTime() - 1)]) {
        const error = await pool.call('value_types', 'echo', [{ at: [date] }]).catch((e: unknown) => e);
        expect(error, date.toISOString()).to.be.instanceOf(EncodeError);
        expect((error as EncodeError).path).to.equal('args[0].at[0]');
        expect((error as EncodeError).message).to.contain("outside the years 1 to 9999 that Python's datetime holds");
      }
      expect(pool.interpreters()[0]!.pid).to.equal(before!.pid);
      expect(pool.stats().restarts).to.equal(0);
    });
  });

  describe('typed arrays and numpy', () => {
    const cases: Array<[string, TypedArray]> = [
      ['float64', new Float64Array([1.5, -2.25, NaN, -0])],
      ['float32', new Float32Array([1.5, -2.25, Infinity])],
      ['int8', new Int8Array([-128, 0, 127])],
      ['int16', new Int16Array([-32768, 1, 32767])],
      ['int32', new Int32Array([-(2 ** 31), 1, 2 ** 31 - 1])],
      ['int64', new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
      ['uint8', new Uint8Array([0, 1, 255])],
      ['uint16', new Uint16Array([0, 65535])],
      ['uint32', new Uint32Array([0, 2 ** 32 - 1])],
      ['uint64', new BigUint64Array([0n, 2n ** 64n - 1n])],
    ];

    for (const [dtype, array] of cases) {
      it(`sends ${array.constructor.name} as a read-only ndarray of dtype ${dtype} viewing the frame, and back`, async () => {
        // A bare Uint8Array is bytes; wrapped in an NdArray it is an array of uint8.
        const sent = array instanceof Uint8Array ? new NdArray(array, [array.length]) : array;
        const seen = (await describeIn(sent)) as ArraySeen;
        expect(seen.type).to.equal('ndarray');
        expect(seen.dtype).to.equal(dtype);
        expect(seen.shape).to.deep.equal([array.length]);
        expect(seen.byteorder, 'native little-endian or not applicable').to.be.oneOf(['=', '<', '|']);
        expect(seen.owndata, 'np.frombuffer: the array owns no data').to.equal(false);
        expect(seen.has_base, 'np.frombuffer: the array has a base').to.equal(true);
        expect(seen.writeable).to.equal(false);
        const back = await echo<TypedArray>(sent);
        expect(back.constructor).to.equal(array.constructor);
        expect([...back].map(String)).to.deep.equal([...array].map(String));
        if (dtype === 'float64') expect(Object.is(back[3], -0)).to.equal(true);
      });
    }

    it('sends a Uint8Array that is not in an NdArray as bytes', async () => {
      expect((await describeIn(new Uint8Array([1, 2]))).type).to.equal('bytes');
    });

    it('gets each numpy dtype back as the typed array of the same name', async () => {
      const arrays = await pool.call<Record<string, TypedArray>>('value_types', 'numpy_arrays');
      for (const [dtype, expected] of cases) {
        const got = arrays[dtype]!;
        expect(got.constructor, dtype).to.equal(expected.constructor);
        const signed = !dtype.startsWith('uint');
        const want = dtype.endsWith('64') && dtype !== 'float64' ? [1n, 2n, 3n, 4n] : [1, 2, 3, 4];
        expect([...got], dtype).to.deep.equal(want.map((x) => (signed ? -x : x)));
      }
    });

    it('sends an NdArray as an n-d ndarray and gets n-d results back as NdArray', async () => {
      const data = Float64Array.from({ length: 24 }, (_, i) => i);
      const cube = new NdArray(data, [2, 3, 4]);
      const seen = (await describeIn(cube)) as ArraySeen;
      expect(seen).to.deep.include({ type: 'ndarray', dtype: 'float64', shape: [2, 3, 4], owndata: false, has_base: true });
      const back = await echo<NdArray>(cube);
      expect(back).to.be.instanceOf(NdArray);
      expect(back.shape).to.deep.equal([2, 3, 4]);
      expect(back.dtype).to.equal('float64');
      expect([...back.data]).to.deep.equal([...data]);
      const fromPython = await pool.call<NdArray>('value_types', 'numpy_matrix');
      expect(fromPython).to.be.instanceOf(NdArray);
      expect(fromPython.shape).to.deep.equal([2, 3, 4]);
      expect([...fromPython.data]).to.deep.equal([...data]);
    });

    it('does arithmetic in numpy on what it receives: a 2-d matmul', async () => {
      const a = new NdArray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const b = new NdArray(new Float64Array([7, 8, 9, 10, 11, 12]), [3, 2]);
      const product = await pool.call<NdArray>('value_types', 'matmul', [a, b]);
      expect(product.shape).to.deep.equal([2, 2]);
      expect([...product.data]).to.deep.equal([58, 64, 139, 154]);
      const scaled = await pool.call<Int32Array>('value_types', 'scale', [new Int32Array([1, -2, 3]), 3]);
      expect(scaled).to.be.instanceOf(Int32Array);
      expect([...scaled]).to.deep.equal([3, -6, 9]);
    });

    it('refuses to write into a received array in place: it views the message', async () => {
      const error = await pool.call('value_types', 'write_in_place', [new Float64Array(2)]).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PythonError);
      expect((error as PythonError).pythonType).to.equal('ValueError');
      expect((error as PythonError).message).to.contain('read-only');
    });

    it('gets non-contiguous, transposed, big-endian, 0-d and empty arrays normalised', async () => {
      const v = await pool.call<Record<string, unknown>>('value_types', 'numpy_special_arrays');
      const strided = v['strided'] as NdArray;
      expect(strided.shape).to.deep.equal([3, 2]);
      expect([...strided.data]).to.deep.equal([0, 2, 4, 6, 8, 10]);
      const transposed = v['transposed'] as NdArray;
      expect(transposed.shape).to.deep.equal([4, 3]);
      expect([...transposed.data]).to.deep.equal([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
      expect(v['big_endian']).to.be.instanceOf(Float64Array);
      expect([...(v['big_endian'] as Float64Array)]).to.deep.equal([1.5, -2.25]);
      expect(v['zero_d']).to.equal(7);
      const empty = v['empty'] as NdArray;
      expect(empty.shape).to.deep.equal([0, 3]);
      expect(empty.dtype).to.equal('float32');
      expect(empty.size).to.equal(0);
    });

    it('gets numpy scalars as plain numbers, bigint beyond 2^53, and booleans', async () => {
      const v = await pool.call<Record<string, unknown>>('value_types', 'numpy_scalars');
      expect(v).to.deep.equal({ int64: 5, uint64_big: 2n ** 64n - 1n, int8: -3, float32: 1.5, float64: -0.25, bool: true });
    });

    it('refuses a numpy bool array with an EncodeError naming the dtype, and the interpreter stays', async () => {
      const [before] = pool.interpreters();
      const error = await reportedByPython(pool.call('value_types', 'bool_array'), EncodeError, 'EncodeError');
      expect(error.message).to.contain("dtype 'bool'");
      expect(pool.interpreters()[0]!.pid).to.equal(before!.pid);
    });

    it('refuses a numpy masked array (its mask would be lost) with an EncodeError naming the type', async () => {
      const [before] = pool.interpreters();
      for (const kind of ['masked', 'unmasked', 'constant']) {
        const error = await reportedByPython(pool.call('value_types', 'masked_array', [kind]), EncodeError, 'EncodeError');
        expect(error.message, kind).to.match(/cannot encode object of type 'numpy\.ma\.\S*Masked\w*': its mask would be lost/);
      }
      expect(await pool.call('value_types', 'masked_array', ['filled'])).to.deep.equal(new Float64Array([1, -1, 3]));
      expect(pool.interpreters()[0]!.pid).to.equal(before!.pid);
    });

    it('round-trips a 64 MiB Float64Array, viewed without a copy in Python', async function () {
      this.timeout(60_000);
      const length = (64 * 1024 * 1024) / 8;
      const big = new Float64Array(length);
      for (let i = 0; i < length; i += 4096) big[i] = i * 0.5;
      big[length - 1] = -1.25;
      const probes = [0, 4096, 1_000_000 - (1_000_000 % 4096), length - 1];
      const seen = await pool.call<{ values: number[]; length: number; dtype: string; owndata: boolean }>('value_types', 'big_array_probe', [
        big,
        probes,
      ]);
      expect(seen).to.deep.equal({ values: probes.map((i) => big[i]), length, dtype: 'float64', owndata: false });
      const back = await pool.call<Float64Array>('value_types', 'doubled', [big]);
      expect(back).to.be.instanceOf(Float64Array);
      expect(back.length).to.equal(length);
      for (const i of [...probes, 123_456, length - 2]) expect(back[i], `index ${i}`).to.equal(big[i]! * 2);
    });
  });

  describe('kwargs', () => {
    it('passes every type as keyword arguments', async () => {
      const kwargs = {
        none: null,
        missing: undefined,
        flag: true,
        nan: NaN,
        text: '\u{1F600}',
        negzero: -0,
        big: 2n ** 80n,
        safe: 2 ** 40,
        bytes: Buffer.from('hi'),
        list: [1, [2]],
        dict: { a: 1 },
        map: new Map([[1, 'x']]),
        date: new Date(0),
        floats: new Float32Array([0.5]),
        longs: new BigUint64Array([2n ** 64n - 1n]),
        cube: new NdArray(new Int16Array([1, 2, 3, 4]), [2, 2]),
      };
      const seen = await pool.call<{ args: Seen[]; kwargs: Record<string, Seen> }>('value_types', 'describe_kwargs', [1], { kwargs });
      expect(seen.args).to.deep.equal([{ type: 'int', str: '1', bits: 1 }]);
      const k = seen.kwargs;
      expect(Object.keys(k)).to.deep.equal(Object.keys(kwargs));
      expect(k['none']).to.deep.equal({ type: 'NoneType' });
      expect(k['missing']).to.deep.equal({ type: 'NoneType' });
      expect(k['flag']).to.deep.equal({ type: 'bool' });
      expect(k['nan']).to.deep.equal({ type: 'float', repr: 'nan', sign: 1 });
      expect(k['text']).to.deep.equal({ type: 'str', codepoints: [0x1f600] });
      expect(k['negzero']).to.deep.equal({ type: 'float', repr: '-0.0', sign: -1 });
      expect(k['big']).to.deep.include({ type: 'int', str: String(2n ** 80n) });
      expect(k['safe']).to.deep.include({ type: 'int', str: String(2 ** 40) });
      expect(k['bytes']).to.deep.equal({ type: 'bytes', hex: '6869' });
      expect(k['list']!.type).to.equal('list');
      expect(k['dict']!.type).to.equal('dict');
      expect((k['map']!['keys'] as Seen[])[0]!.type).to.equal('int');
      expect(k['date']).to.deep.equal({ type: 'datetime', tz: 0, iso: '1970-01-01T00:00:00+00:00' });
      expect(k['floats']).to.deep.include({ type: 'ndarray', dtype: 'float32', shape: [1], owndata: false });
      expect(k['longs']).to.deep.include({ type: 'ndarray', dtype: 'uint64', shape: [1], owndata: false, values: [2n ** 64n - 1n] });
      expect(k['cube']).to.deep.include({ type: 'ndarray', dtype: 'int16', shape: [2, 2], owndata: false });

      const back = await pool.call<Record<string, unknown>>('value_types', 'echo_kwargs', [], { kwargs });
      expect(back['big']).to.equal(2n ** 80n);
      expect(Object.is(back['negzero'], -0)).to.equal(true);
      expect((back['date'] as Date).getTime()).to.equal(0);
      expect((back['map'] as Map<unknown, unknown>).get(1)).to.equal('x');
      expect([...(back['floats'] as Float32Array)]).to.deep.equal([0.5]);
      expect((back['cube'] as NdArray).shape).to.deep.equal([2, 2]);
      expect([...(back['longs'] as BigUint64Array)]).to.deep.equal([2n ** 64n - 1n]);
      expect(back['missing']).to.equal(null);
    });
  });
});
