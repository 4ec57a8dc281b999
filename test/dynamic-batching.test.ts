// Dynamic batching with real interpreters: calls to a @piton.batched function are merged into one
// Python call, and each call keeps its own fate (errors, timeouts, aborts, retries).
import { expect } from 'chai';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { BatchError, CallTimeoutError, EncodeError, MessageTooLargeError, ndarray, PythonError, PythonPool, QueueFullError, WorkerExitedError } from '@piton/python-bridge';
import { poolMetrics } from '@piton/python-bridge/metrics';
import { fixtures, parsePrometheusText, promValue } from './helpers.js';
import { until } from './support.js';

describe('dynamic batching (@piton.batched)', function () {
  this.timeout(60_000);
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, onOutput: false });
  });
  afterEach(() => pool.stop());

  /** The first call tells the pool the function is batched; the calls after it are merged. */
  async function teach(fn: string, input: unknown): Promise<void> {
    await pool.call('batched', fn, [input]);
    await pool.call('batched', 'reset');
  }

  /** The first call alone (a batch of one), then 8 at once merged into one Python call, each with its own output. */
  async function expectMerged(fn: string): Promise<void> {
    expect(await pool.call('batched', fn, [21])).to.equal(42);
    await pool.call('batched', 'reset');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.call('batched', fn, [i])));
    expect(results).to.deep.equal([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(await pool.call('batched', 'sizes')).to.deep.equal([8]);
  }

  it('merges concurrent calls into one Python call, each call getting its own output', () => expectMerged('double'));

  it('a lone call on an idle pool goes at once, without waiting max_wait_ms for others', async () => {
    await teach('patient', 0); // max_wait_ms=60_000
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting after 20 s'), 20_000)));
    try {
      expect(await Promise.race([pool.call('batched', 'patient', [7]).then(String), waited])).to.equal('7');
    } finally {
      clearTimeout(timer);
    }
    expect(await pool.call('batched', 'sizes')).to.deep.equal([1]);
  });

  it('calls made together while the interpreter is free go as one batch', async () => {
    await teach('patient', 0);
    const results = await Promise.all([1, 2, 3].map((x) => pool.call('batched', 'patient', [x])));
    expect(results).to.deep.equal([1, 2, 3]);
    expect(await pool.call('batched', 'sizes')).to.deep.equal([3]);
  });

  it('an async def batched function is merged and awaited, each call getting its own output', () => expectMerged('async_double'));

  it('with concurrency 2, an interpreter runs two batches at once (async def), and sync batches still merge', async () => {
    await pool.stop();
    pool = await PythonPool.start({ size: 1, concurrency: 2, path: fixtures, onOutput: false });
    // Taught by two calls at once (both alone, on the interpreter's two lanes, so they overlap).
    await Promise.all([0, 1].map((x) => pool.call('batched', 'overlapping', [x])));
    await pool.call('batched', 'reset');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.call('batched', 'overlapping', [i])));
    expect(results).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await pool.call('batched', 'sizes')).to.deep.equal([4, 4]); // two full batches
    expect(await pool.call('batched', 'overlap')).to.equal(2); // ran at once
    await teach('double', 0);
    const doubled = await Promise.all(Array.from({ length: 16 }, (_, i) => pool.call('batched', 'double', [i])));
    expect(doubled).to.deep.equal(Array.from({ length: 16 }, (_, i) => i * 2));
    expect(await pool.call('batched', 'sizes')).to.deep.equal([8, 8]);
  });

  it('merges calls while the Prometheus exporter observes them, each call counted and timed', async () => {
    const registry = new Registry();
    const metrics = poolMetrics(pool, { registry });
    try {
      await teach('double', 0);
      const count = async () => promValue(parsePrometheusText(await registry.metrics()).samples, 'piton_pool_call_duration_seconds_count', { pool: pool.path, phase: 'run' });
      const before = await count();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.call('batched', 'double', [i])));
      expect(results).to.deep.equal([0, 2, 4, 6, 8, 10, 12, 14]);
      expect(await count()).to.equal(before + 8);
      expect(await pool.call('batched', 'sizes')).to.deep.equal([8]);
    } finally {
      metrics.close();
    }
  });

  it('calls waiting in an open batch count as queued, and against maxQueue', async () => {
    await pool.stop();
    pool = await PythonPool.start({ size: 1, maxQueue: 2, path: fixtures, onOutput: false });
    await teach('slow', 0);
    await teach('double', 0);
    const busy = pool.call('batched', 'slow', ['hold']);
    await until(() => pool.stats().busy === 1, 'the interpreter busy');
    const waiting = [1, 2].map((x) => pool.call('batched', 'double', [x]));
    expect(pool.stats().queued).to.equal(2);
    const refused = await pool.call('batched', 'double', [3]).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(QueueFullError);
    expect(await Promise.all(waiting)).to.deep.equal([2, 4]);
    await busy;
    expect(pool.stats().queued).to.equal(0);
  });

  it('never merges more than max_size calls', async () => {
    await teach('double', 1);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.call('batched', 'double', [i])));
    expect(results).to.deep.equal(Array.from({ length: 20 }, (_, i) => i * 2));
    const sizes = await pool.call<number[]>('batched', 'sizes');
    expect(Math.max(...sizes)).to.be.at.most(8);
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(20);
  });

  it('numpy rows of one dtype arrive as one array, and each call gets its rows\' outputs', async () => {
    const call = (i: number) => pool.call<Float64Array>('batched', 'row_sums', [ndarray(Float64Array.from([i, i, i, 1, 1, 1]), [2, 3])]);
    await call(0);
    await pool.call('batched', 'reset');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i)));
    results.forEach((sums, i) => expect(Array.from(sums), `call ${i}`).to.deep.equal([3 * i, 3]));
    expect(await pool.call('batched', 'sizes')).to.deep.equal([20]); // 10 calls × 2 rows, one invocation
  });

  it('an NdArray whose memory was transferred away fails its own call, not its batch', async () => {
    const call = (i: number, data = Float64Array.from([i, i, i])) => pool.call<Float64Array>('batched', 'row_sums', [ndarray(data, [1, 3])]);
    await call(0);
    await pool.call('batched', 'reset');
    const gone = Float64Array.from([9, 9, 9]);
    const input = ndarray(gone, [1, 3]);
    structuredClone(gone.buffer, { transfer: [gone.buffer] }); // detached: its typed array now holds no element
    const outcomes = await Promise.allSettled([call(1), pool.call('batched', 'row_sums', [input]), call(2)]);
    expect(outcomes[1]!.status).to.equal('rejected');
    expect((outcomes[1] as PromiseRejectedResult).reason).to.be.instanceOf(EncodeError);
    expect(outcomes.filter((o) => o.status === 'fulfilled').map((o) => Array.from((o as PromiseFulfilledResult<Float64Array>).value))).to.deep.equal([[3], [6]]);
    expect(await pool.call('batched', 'sizes')).to.deep.equal([2]);
  });

  it('an NdArray above maxMessageSize fails its own call with MessageTooLargeError, not its batch', async () => {
    const small = await PythonPool.start({ size: 1, path: fixtures, onOutput: false, maxMessageSize: 64 * 1024 });
    try {
      const rows = (n: number) => ndarray(new Float64Array(n * 4).fill(1), [n, 4]);
      const call = (n: number) => small.call<Float64Array>('batched', 'row_sums', [rows(n)]);
      await call(1);
      await small.call('batched', 'reset');
      // 4,000 rows of 4 float64 are 128,000 bytes.
      const outcomes = await Promise.allSettled([call(2), call(4_000), call(3)]);
      expect(outcomes[1]!.status).to.equal('rejected');
      expect((outcomes[1] as PromiseRejectedResult).reason).to.be.instanceOf(MessageTooLargeError);
      expect(outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<Float64Array>).value.length)).to.deep.equal([2, 3]);
      expect(await small.call('batched', 'sizes')).to.deep.equal([5]);
    } finally {
      await small.stop();
    }
  });

  it('a batch is sent before its calls would pass maxMessageSize; each call gets its output', async () => {
    const small = await PythonPool.start({ size: 1, path: fixtures, onOutput: false, maxMessageSize: 64 * 1024 });
    try {
      const rows = (n: number) => ndarray(new Float64Array(n * 4).fill(1), [n, 4]);
      await small.call('batched', 'row_sums', [rows(1)]);
      await small.call('batched', 'reset');
      // 1,000 rows of 4 float64 are 32,000 bytes: two calls fit in one message, three do not.
      const outputs = await Promise.all([1, 2, 3, 4].map(() => small.call<Float64Array>('batched', 'row_sums', [rows(1_000)])));
      expect(outputs.map((o) => o.length)).to.deep.equal([1_000, 1_000, 1_000, 1_000]);
      expect(await small.call('batched', 'sizes')).to.deep.equal([2_000, 2_000]);
    } finally {
      await small.stop();
    }
  });

  it('a call that fits in a message alone, but not beside another, goes alone', async () => {
    const limit = 64 * 1024;
    const small = await PythonPool.start({ size: 1, path: fixtures, onOutput: false, maxMessageSize: limit });
    try {
      await small.call('batched', 'lengths', [new Uint8Array(1)]);
      await small.call('batched', 'reset');
      // The largest input a call sent alone can carry, found by bisection (called one at a time).
      const fits = (n: number) => small.call('batched', 'lengths', [new Uint8Array(n)]).then(() => true, (e: unknown) => (expect(e).to.be.instanceOf(MessageTooLargeError), false));
      let [largest, over] = [1, limit];
      while (over - largest > 1) {
        const middle = Math.floor((largest + over) / 2);
        if (await fits(middle)) largest = middle;
        else over = middle;
      }
      await small.call('batched', 'reset');
      expect(await Promise.all([small.call('batched', 'lengths', [new Uint8Array(largest)]), small.call('batched', 'lengths', [new Uint8Array(2)])])).to.deep.equal([largest, 2]);
      // Two Python calls of one input each: the large one's own (Python runs a plain call to a
      // batched function as a batch of one) and the small one's batch.
      expect(await small.call('batched', 'sizes')).to.deep.equal([1, 1]);
    } finally {
      await small.stop();
    }
  });

  it('a result of the wrong length fails exactly the calls of that batch with BatchError', async () => {
    await teach('one_short', 1);
    const failed = await Promise.all([1, 2, 3].map((x) => pool.call('batched', 'one_short', [x]).catch((e: unknown) => e)));
    for (const error of failed) {
      expect(error).to.be.instanceOf(BatchError);
      expect(error).to.be.instanceOf(PythonError);
      expect((error as Error).message).to.match(/returned 2 outputs for 3 inputs/);
    }
    expect(await pool.call('batched', 'double', [5])).to.equal(10); // the interpreter stays
  });

  it('an exception fails exactly the calls of its batch; the next batch is served', async () => {
    await teach('refuses_bad', 'ok');
    const first = await Promise.all(['a', 'bad', 'c'].map((x) => pool.call('batched', 'refuses_bad', [x]).catch((e: unknown) => e)));
    for (const error of first) expect((error as PythonError).pythonType).to.equal('ValueError');
    expect(await Promise.all(['d', 'e'].map((x) => pool.call('batched', 'refuses_bad', [x])))).to.deep.equal(['d', 'e']);
  });

  it('a call aborted before its batch is sent leaves it; the others get their outputs', async () => {
    await teach('slow', 0);
    await teach('double', 0);
    const busy = pool.call('batched', 'slow', ['hold']); // the one interpreter is busy: batches fill
    const abort = new AbortController();
    const calls = [1, 2, 3].map((x, i) => pool.call('batched', 'double', [x], i === 1 ? { signal: abort.signal } : {}).catch((e: unknown) => e));
    abort.abort(new Error('the client went away'));
    const [one, aborted, three] = await Promise.all(calls);
    expect(one).to.equal(2);
    expect((aborted as Error).message).to.equal('the client went away');
    expect(three).to.equal(6);
    await busy;
    expect(await pool.call('batched', 'sizes')).to.deep.equal([1, 2]); // slow's batch, then double's two
  });

  it('a call that times out after its batch was sent rejects alone; its batch-mates get their outputs', async () => {
    await teach('slow', 0);
    const [late, patient] = await Promise.all([
      pool.call('batched', 'slow', ['late'], { timeout: 50 }).catch((e: unknown) => e),
      pool.call('batched', 'slow', ['patient']),
    ]);
    expect(late).to.be.instanceOf(CallTimeoutError);
    expect(patient).to.equal('patient');
  });

  it('when the interpreter dies, calls with retries join a later batch, the others reject', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piton-batch-'));
    try {
      const marker = join(dir, 'marker');
      // Taught with the marker present (so that call lives), then the marker goes: the next batch kills.
      writeFileSync(marker, '');
      await pool.call('batched', 'dies_once', [{ marker, n: 0 }]);
      unlinkSync(marker);
      const [retried, lost] = await Promise.all([
        pool.call('batched', 'dies_once', [{ marker, n: 1 }], { retries: 1 }),
        pool.call('batched', 'dies_once', [{ marker, n: 2 }]).catch((e: unknown) => e),
      ]);
      expect(retried).to.equal(1);
      expect(lost).to.be.instanceOf(WorkerExitedError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
