/**
 * Tables across a real pool (PROTOCOL.md, "Tables (ext 3)"; README, "Values across the wire"): real
 * pandas, polars and pyarrow in the interpreters, apache-arrow here. Every type the README promises
 * goes Python → Node (checked here, value by value) → Python (checked there with the libraries'
 * own types, NaN and −0 bit for bit), and Node → Python (checked there) → Node; parameters
 * annotated with frame types get them; what cannot cross fails alone and the interpreter serves on.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  Bool,
  DateDay,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  Struct,
  Table,
  tableFromArrays,
  TimestampMicrosecond,
  Utf8,
  Vector,
  vectorFromArray,
} from 'apache-arrow';
import { EncodeError, MessageTooLargeError, MissingDependencyError, PythonPool } from '@piton/python-bridge';
import { tableContent, vectorContent } from './arrow-values.js';
import { fixtures, repoRoot, reportedByPython } from './helpers.js';

const BIG = 2n ** 60n + 1n;

/** The raw bytes of cell `i` of a fixed-width column, as hex (exact where accessors round). */
function rawCell(vector: Vector, i: number): string {
  const data = vector.data[0]!;
  const values = data.values as unknown as ArrayBufferView & { BYTES_PER_ELEMENT: number };
  const size = data.stride * values.BYTES_PER_ELEMENT;
  return Buffer.from(values.buffer, values.byteOffset + i * size, size).toString('hex');
}

const le64 = (n: bigint): string => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return b.toString('hex');
};

describe('tables across the wire: pandas, polars and pyarrow ↔ apache-arrow', function () {
  this.timeout(180_000);
  let pool: PythonPool;
  const stored: unknown[] = [];

  before(async () => {
    pool = await PythonPool.start({
      size: 1,
      path: fixtures,
      preload: ['tables'],
      startTimeout: 120_000,
      expose: { store: (table: unknown) => (stored.push(table), table instanceof Table ? table.numRows : -1) },
    });
  });

  after(() => pool?.stop());

  const sample = <T = Table>(name: string) => pool.call<T>('tables', 'sample', [name]);
  const cameBack = (name: string, value: unknown) => pool.call<boolean>('tables', 'came_back', [name, value]);

  describe('Python → Node', () => {
    it('a pandas DataFrame arrives as a Table: names, order, nulls, NaN, −0, int64, tz, dates, categories, decimals, lists, structs, the index', async () => {
      const table = await sample('pandas_frame');
      expect(table).to.be.instanceOf(Table);
      expect(table.schema.fields.map((f) => f.name)).to.deep.equal([
        'int', 'float', 'nullable', 'str', 'bool', 'when', 'day', 'category', 'decimal', 'list', 'struct', 'key',
      ]);
      const col = (name: string) => table.getChild(name)!;
      expect([...col('int')]).to.deep.equal([1n, BIG, -BIG]);
      const floats = col('float');
      expect(floats.get(0)).to.equal(1.5);
      expect(Number.isNaN(floats.get(1))).to.equal(true);
      expect(Object.is(floats.get(2), -0)).to.equal(true);
      expect(floats.nullCount).to.equal(0, 'NaN stays NaN');
      expect([...col('nullable')]).to.deep.equal([7n, null, -7n]);
      expect([...col('str')]).to.deep.equal(['plain', '', 'Grüße, 日本 👋🏽']);
      expect([...col('bool')]).to.deep.equal([true, false, true]);
      expect(String(col('when').type)).to.equal('Timestamp<MICROSECOND, Europe/Paris>');
      // 2024-03-31 01:30 in Paris is 00:30 UTC; the microseconds before 1970 are exact.
      expect(rawCell(col('when'), 0)).to.equal(le64(1711845000000000n));
      expect(rawCell(col('when'), 1)).to.equal(le64(-3600000001n));
      expect(col('when').get(2)).to.equal(null);
      expect(String(col('day').type)).to.equal('Date32<DAY>');
      expect(rawCell(col('day'), 1)).to.equal(Buffer.from(new Int32Array([-719162]).buffer).toString('hex'));
      expect(String(col('category').type)).to.equal('Dictionary<Int8, LargeUtf8>');
      expect([...col('category')]).to.deep.equal(['b', 'a', 'b']);
      expect([...col('category').data[0]!.dictionary!]).to.deep.equal(['a', 'b', 'c'], 'unused categories too');
      expect(String(col('decimal').type)).to.match(/^Decimal\[22e\+2\]/);
      expect(col('decimal').get(0)!.toString()).to.equal('1234567890123456789012');
      expect(col('decimal').get(2)).to.equal(null);
      expect([...col('list').get(0)!]).to.deep.equal([1n, 2n, 3n]);
      expect(col('list').get(1)!.length).to.equal(0);
      expect(col('list').get(2)).to.equal(null);
      expect(col('struct').get(0)!.toJSON()).to.deep.equal({ x: 1n, y: 'one' });
      expect(col('struct').get(1)!.toJSON()).to.deep.equal({ x: null, y: '' });
      expect(col('struct').get(2)).to.equal(null);
      expect([...col('key')]).to.deep.equal(['r1', 'r2', 'r3'], 'a named index is a column, as pyarrow keeps it');
      expect(JSON.parse(table.schema.metadata.get('pandas')!).index_columns).to.deep.equal(['key']);
    });

    it('a RangeIndex stays metadata, and a Series arrives as a Vector of its values', async () => {
      const ranged = await sample('pandas_range_indexed');
      expect(ranged.schema.fields.map((f) => f.name)).to.deep.equal(['b', 'a']);
      expect(JSON.parse(ranged.schema.metadata.get('pandas')!).index_columns[0].kind).to.equal('range');
      const series = await sample<Vector>('pandas_series');
      expect(series).to.be.instanceOf(Vector);
      expect(String(series.type)).to.equal('Float64');
      expect(series.get(0)).to.equal(0.5);
      expect(Number.isNaN(series.get(1))).to.equal(true);
      expect(Object.is(series.get(2), -0)).to.equal(true);
      const categories = await sample<Vector>('pandas_category_series');
      expect([...categories]).to.deep.equal(['lo', 'hi', 'lo']);
    });

    it('polars frames and series, and pyarrow tables, batches, arrays and chunked arrays arrive whole', async () => {
      const polars = await sample('polars_frame');
      expect(polars.schema.fields.map((f) => f.name)).to.deep.equal(['int', 'float', 'str', 'bool', 'when', 'day', 'category', 'decimal', 'list', 'struct']);
      expect([...polars.getChild('int')!]).to.deep.equal([1n, BIG, null]);
      expect(String(polars.getChild('when')!.type)).to.equal('Timestamp<MICROSECOND, America/New_York>');
      expect([...polars.getChild('category')!]).to.deep.equal(['b', 'a', 'b']);
      expect([...(await sample<Vector>('polars_series'))]).to.deep.equal([3n, null, BIG]);

      const arrow = await sample('arrow_table');
      expect(arrow.schema.metadata.get('source')).to.equal('tests');
      expect([...arrow.getChild('u')!]).to.deep.equal([0n, 2n ** 64n - 1n, null]);
      expect(rawCell(arrow.getChild('ts')!, 2)).to.equal(le64(1_700_000_000_123_456_789n), 'nanoseconds whole');
      expect(String(arrow.getChild('ts')!.type)).to.equal('Timestamp<NANOSECOND, Asia/Tokyo>');
      expect(tableContent(await sample('arrow_batch'))).to.deep.equal(tableContent(arrow));
      expect([...(await sample<Vector>('arrow_array'))]).to.deep.equal(['a', null, 'ü']);
      const chunked = await sample<Vector>('arrow_chunked');
      expect([...chunked]).to.deep.equal([1, 2, 3]);
    });

    it('tables nested in a result and in stream items', async () => {
      const nested = await pool.call<{ label: string; tables: Table[]; n: number }>('tables', 'nested', ['arrow_table']);
      expect(nested.label).to.equal('arrow_table');
      expect(nested.tables).to.have.length(2);
      expect(tableContent(nested.tables[1]!)).to.deep.equal(tableContent(nested.tables[0]!));
      const items: { i: number; table: Table }[] = [];
      for await (const item of pool.stream<{ i: number; table: Table }>('tables', 'stream', ['pandas_frame', 3], { batch: 2 })) items.push(item);
      expect(items.map((item) => item.i)).to.deep.equal([0, 1, 2]);
      for (const item of items) expect(item.table.numRows).to.equal(3);
    });

    it('a received table views the message: its columns share the frame, no second copy', async () => {
      const big = await pool.call<Table>('tables', 'big_frame', [200_000]);
      const x = big.getChild('x')!.data[0]!.values;
      const y = big.getChild('y')!.data[0]!.values;
      expect(x.buffer).to.equal(y.buffer, 'both columns view one buffer: the received frame');
      expect(x.buffer.byteLength).to.be.at.least(x.byteLength + y.byteLength);
      expect(x[199_999]).to.equal(199_999);
    });
  });

  describe('round trips: Python → Node → Python, every kind and type', () => {
    for (const name of [
      'pandas_frame', 'pandas_range_indexed', 'pandas_series', 'pandas_category_series', 'polars_frame', 'polars_series',
      'arrow_table', 'arrow_batch', 'arrow_array', 'arrow_chunked',
    ]) {
      it(`${name} comes back to Python as it left, NaN and −0 bit for bit`, async () => {
        const value = await sample<unknown>(name);
        expect(await cameBack(name, value)).to.equal(true);
        expect(await pool.call('tables', 'came_back', [name, value], { transfer: true })).to.equal(true);
      });
    }
  });

  describe('Node → Python', () => {
    const made = () =>
      new Table({
        big: vectorFromArray([BIG, null, -(2n ** 63n)], new Int64()),
        f: vectorFromArray([NaN, -0, null], new Float64()),
        s: vectorFromArray(['', 'Grüße 👋🏽', null], new Utf8()),
        b: vectorFromArray([true, null, false], new Bool()),
        when: vectorFromArray([Date.UTC(2024, 2, 31, 0, 30), null, -1], new TimestampMicrosecond('Europe/Paris')),
        day: vectorFromArray([new Date(Date.UTC(2024, 1, 29)), null, new Date(Date.UTC(1969, 11, 31))], new DateDay()),
        cat: vectorFromArray(['x', 'y', 'x'], new Dictionary(new Utf8(), new Int32())),
        list: vectorFromArray([[1, 2], [], null], new List(new Field('item', new Int32(), true))),
        st: vectorFromArray([{ a: 1, b: 'x' }, null, { a: null, b: '' }], new Struct([new Field('a', new Int32(), true), new Field('b', new Utf8(), true)])),
      });

    it('a Table built in Node arrives as a pyarrow.Table with every value exact', async () => {
      const seen = await pool.call<Record<string, [string, unknown[]]>>('tables', 'pylist', [made()]);
      expect(seen).to.deep.equal({
        big: ['int64', [BIG, null, -(2n ** 63n)]],
        f: ['double', ['nan', '-0.0', null]],
        s: ['string', ['', 'Grüße 👋🏽', null]],
        b: ['bool', [true, null, false]],
        when: ['timestamp[us, tz=Europe/Paris]', ['2024-03-31T01:30:00+01:00', null, '1970-01-01T00:59:59.999000+01:00']],
        day: ['date32[day]', ['2024-02-29', null, '1969-12-31']],
        cat: ['dictionary<values=string, indices=int32, ordered=0>', ['x', 'y', 'x']],
        list: ['list<item: int32>', [[1, 2], [], null]],
        st: ['struct<a: int32, b: string>', [{ a: 1, b: 'x' }, null, { a: null, b: '' }]],
      });
    });

    it('comes back to Node as it left, and a Vector or RecordBatch too', async () => {
      const table = made();
      expect(tableContent(await pool.call<Table>('tables', 'echo', [table]))).to.deep.equal(tableContent(table));
      expect(tableContent(await pool.call<Table>('tables', 'echo', [table.batches[0]]))).to.deep.equal(tableContent(table));
      const vector = table.getChild('s')!;
      const back = await pool.call<Vector>('tables', 'echo', [vector]);
      expect(vectorContent(back)).to.deep.equal(vectorContent(vector));
      expect(await pool.call('tables', 'describe', [vector])).to.deep.include({ type: 'pyarrow.Array', arrowType: 'string' });
    });

    it('a table sent with transfer: true arrives the same, and one changed after call() arrives as it was', async () => {
      const column = new Float64Array([1, 2, 3]);
      const table = tableFromArrays({ x: column });
      const pending = pool.call<Record<string, number>>('tables', 'column_sums', [table]);
      column.fill(100); // the IPC stream was written at call(): this change does not reach Python
      expect(await pending).to.deep.equal({ x: 6 });
      expect(await pool.call('tables', 'column_sums', [table], { transfer: true })).to.deep.equal({ x: 300 });
    });

    it('a parameter annotated pd.DataFrame, pl.DataFrame, pd.Series or pl.Series gets that type; others get pyarrow', async () => {
      const frame = await sample('pandas_frame');
      expect(await pool.call('tables', 'receive_pandas', [frame, 'pandas_frame'])).to.deep.equal({
        type: 'pandas.DataFrame',
        index: ['r1', 'r2', 'r3'],
      });
      expect(await pool.call('tables', 'receive_polars', [made()])).to.deep.equal({
        type: 'polars.DataFrame',
        shape: [3, 9],
        columns: ['big', 'f', 's', 'b', 'when', 'day', 'cat', 'list', 'st'],
      });
      const vector = made().getChild('big')!;
      expect(await pool.call('tables', 'receive_pandas_series', [vector])).to.equal('pandas.Series');
      expect(await pool.call('tables', 'receive_polars_series', [vector])).to.deep.equal({ type: 'polars.Series', values: [BIG, null, -(2n ** 63n)] });
      expect(await pool.call('tables', 'receive_optional', [made()], { kwargs: { other: made() } })).to.deep.equal(['pandas', 'polars']);
      expect(await pool.call('tables', 'receive_plain', [made()])).to.equal('pyarrow.Table');
    });

    it('calls that share a round trip each get their own tables', async () => {
      const tables = [1, 2, 3, 4, 5, 6].map((n) => tableFromArrays({ x: Float64Array.from({ length: n }, () => n) }));
      const sums = await Promise.all(tables.map((t) => pool.call<Record<string, number>>('tables', 'column_sums', [t])));
      expect(sums.map((s) => s['x'])).to.deep.equal([1, 4, 9, 16, 25, 36]);
    });

    it("tables in a callback's arguments and in progress reach Node as Tables", async () => {
      stored.length = 0;
      expect(await pool.call('tables', 'call_node_with', ['arrow_table', 'store'])).to.equal(3);
      expect(stored).to.have.length(1);
      expect(tableContent(stored[0] as Table)).to.deep.equal(tableContent(await sample('arrow_table')));
      const progress: unknown[] = [];
      expect(await pool.call('tables', 'report_progress_table', ['polars_series'], { onProgress: (v) => progress.push(v) })).to.equal('finished');
      expect(progress[0]).to.be.instanceOf(Vector);
      expect([...(progress[0] as Vector)]).to.deep.equal([3n, null, BIG]);
    });
  });

  it('a program that sends no table never loads apache-arrow; its first table does', async () => {
    const script = join(fixtures, 'tables-untouched.ts');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', script, fixtures], { cwd: repoRoot, encoding: 'utf8' }, (error, out, err) =>
        error ? reject(new Error(`${String(error)}\n${err}`)) : resolve(out),
      );
    });
    const stages = stdout.trim().split('\n').map((line) => JSON.parse(line) as { stage: string; settled: boolean; required: number });
    expect(stages).to.deep.equal([
      { stage: 'no table', settled: false, required: 0 },
      { stage: 'after a table', settled: true, required: 0 },
    ]);
  });

  describe('what cannot cross', () => {
    it('a column of Python objects is an EncodeError naming the column and its dtype; the interpreter serves on', async () => {
      const before = await pool.call('tables', 'pid');
      const error = await reportedByPython(pool.call('tables', 'object_column'), EncodeError, 'EncodeError');
      expect(error.message).to.match(/^cannot send column 'opaque' \(dtype object\) of a pandas\.DataFrame as Arrow: Could not convert .*Opaque/);
      const polars = await reportedByPython(pool.call('tables', 'polars_object_column'), EncodeError, 'EncodeError');
      expect(polars.message).to.contain("column 'opaque' (dtype Object) of a polars.DataFrame");
      expect(await pool.call('tables', 'pid')).to.equal(before);
    });

    it('maxMessageSize counts the IPC bytes, both ways', async () => {
      const small = await PythonPool.start({ size: 1, path: fixtures, preload: ['tables'], maxMessageSize: 2 * 1024 * 1024, startTimeout: 120_000 });
      try {
        // 200,000 rows × 16 bytes: 3.2 MB of columns.
        const reply = await reportedByPython(small.call('tables', 'big_frame', [200_000]), MessageTooLargeError, 'MessageTooLarge');
        expect(reply.size).to.be.above(3_200_000);
        const big = tableFromArrays({ x: new Float64Array(300_000) });
        let sent: unknown;
        try {
          await small.call('tables', 'echo', [big]);
        } catch (error) {
          sent = error;
        }
        expect(sent).to.be.instanceOf(MessageTooLargeError);
        expect((sent as MessageTooLargeError).origin).to.equal('node');
        expect((sent as MessageTooLargeError).size).to.be.above(2_400_000);
        expect(await small.call('tables', 'column_sums', [tableFromArrays({ x: new Float64Array([1, 2]) })])).to.deep.equal({ x: 3 });
      } finally {
        await small.stop();
      }
    });

    it('without pyarrow, a DataFrame to return or a table received is a MissingDependencyError naming `npx piton setup --arrow`', async () => {
      const bare = await PythonPool.start({ size: 1, path: fixtures, preload: ['no_pyarrow'], startTimeout: 120_000 });
      try {
        const before = await bare.call('no_pyarrow', 'pid');
        const returned = await reportedByPython(bare.call('no_pyarrow', 'frame'), MissingDependencyError, 'MissingDependency');
        expect([returned.dependency, returned.command]).to.deep.equal(['pyarrow', 'npx piton setup --arrow']);
        expect(returned.message).to.equal(
          "pyarrow is not installed in the worker's Python: cannot send a pandas.DataFrame as an Arrow table; install it with: npx piton setup --arrow",
        );
        const received = await reportedByPython(bare.call('no_pyarrow', 'echo', [tableFromArrays({ x: new Float64Array([1]) })]), MissingDependencyError, 'MissingDependency');
        expect(received.message).to.contain('cannot receive an Arrow table; install it with: npx piton setup --arrow');
        expect(await bare.call('no_pyarrow', 'echo', [[1, 'two']])).to.deep.equal([1, 'two']);
        expect(await bare.call('no_pyarrow', 'pid')).to.equal(before);
      } finally {
        await bare.stop();
      }
    });
  });
});
