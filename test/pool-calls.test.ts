import { expect } from 'chai';
import { PythonError, PythonPool, PoolStoppedError, QueueFullError } from '@piton/python-bridge';
import { fixtures, isAlive } from './helpers.js';

describe('PythonPool: calls', () => {
  let pool: PythonPool;

  before(async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'] });
  });

  after(() => pool.stop());

  it('runs the seed example: fib(20) is 6765', async () => {
    const fib = await PythonPool.start({ size: 1, path: `${fixtures}/../../examples/fibonacci` });
    try {
      expect(await fib.call('functions', 'fib', [20])).to.equal(6765);
    } finally {
      await fib.stop();
    }
  });

  it('passes positional and keyword arguments', async () => {
    expect(await pool.call('calls', 'add', [2, 3], { kwargs: { scale: 10 } })).to.equal(50);
    expect(await pool.call('calls', 'add', [2], { kwargs: { b: 5 } })).to.equal(7);
  });

  it('offers a typed module proxy', async () => {
    const calls = pool.module<{ add(a: number, b: number): number; echo<T>(v: T): T }>('calls');
    expect(await calls.add(1, 2)).to.equal(3);
    expect(await calls.echo({ a: [1, 'two', null] })).to.deep.equal({ a: [1, 'two', null] });
  });

  it('rejects with PythonError when Python raises, and the interpreter stays', async () => {
    const before = pool.interpreters().map((i) => i.pid).sort();
    const error = await pool.call('calls', 'fail', ['bad input']).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PythonError);
    const pyError = error as PythonError;
    expect(pyError.pythonType).to.equal('ValueError');
    expect(pyError.message).to.equal('bad input');
    expect(pyError.pythonTraceback).to.contain('raise ValueError(message)');
    expect(pool.interpreters().map((i) => i.pid).sort()).to.deep.equal(before);
    expect(pool.stats().restarts).to.equal(0);
    expect(await pool.call('calls', 'add', [1, 1])).to.equal(2);
  });

  it('runs concurrent calls on different interpreters at once', async () => {
    const pids = await Promise.all([pool.call<number>('calls', 'pid_after', [0.2]), pool.call<number>('calls', 'pid_after', [0.2])]);
    expect(new Set(pids).size).to.equal(2);
    expect(pids.sort()).to.deep.equal(pool.interpreters().map((i) => i.pid).sort());
  });

  it('serves queued calls in arrival order', async () => {
    const single = await PythonPool.start({ size: 1, path: fixtures });
    try {
      const order: number[] = [];
      await Promise.all(Array.from({ length: 20 }, (_, i) => single.call('calls', 'echo', [i]).then((v) => order.push(v as number))));
      expect(order).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await single.stop();
    }
  });

  it('reports stats', async () => {
    const stats = pool.stats();
    expect(stats.size).to.equal(2);
    expect(stats.ready + stats.busy).to.equal(2);
    expect(stats.queued).to.equal(0);
    expect(stats.completed).to.be.greaterThan(5);
    expect(stats.failed).to.be.greaterThan(0);
    expect(stats.latency.p50).to.be.greaterThan(0);
    expect(stats.latency.p99).to.be.at.least(stats.latency.p50);
  });

  it('rejects with QueueFullError beyond maxQueue, and keeps serving', async () => {
    const small = await PythonPool.start({ size: 1, path: fixtures, maxQueue: 2 });
    try {
      const running = small.call('calls', 'sleep', [0.3, 'first']);
      const queued = [small.call('calls', 'echo', [1]), small.call('calls', 'echo', [2])];
      const error = await small.call('calls', 'echo', [3]).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(QueueFullError);
      expect(await running).to.equal('first');
      expect(await Promise.all(queued)).to.deep.equal([1, 2]);
      expect(await small.call('calls', 'echo', [4])).to.equal(4);
    } finally {
      await small.stop();
    }
  });

  it('rejects bad arguments with a clear error before anything is queued', async () => {
    const error = await pool.call('calls', '', []).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TypeError);
    expect(String(error)).to.contain('function name');
    const badTimeout = await pool.call('calls', 'echo', [1], { timeout: -5 }).catch((e: unknown) => e);
    expect(badTimeout).to.be.instanceOf(RangeError);
    expect(String(badTimeout)).to.contain('options.timeout');
    expect(await pool.call('calls', 'echo', [1])).to.equal(1);
  });

  it('replaces an interpreter after recycle.afterCalls calls, without losing a call', async () => {
    const recycling = await PythonPool.start({ size: 1, path: fixtures, recycle: { afterCalls: 3 } });
    try {
      const pids: number[] = [];
      for (let i = 0; i < 7; i++) pids.push(await recycling.call<number>('calls', 'pid'));
      expect(new Set(pids.slice(0, 3)).size).to.equal(1);
      expect(new Set(pids.slice(3, 6)).size).to.equal(1);
      expect(new Set([pids[0], pids[3], pids[6]]).size).to.equal(3);
      expect(isAlive(pids[0]!)).to.equal(false);
      // Recycling is routine, not a crash: concurrent calls are all answered meanwhile.
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => recycling.call('calls', 'echo', [i])));
      expect(values).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
      expect(recycling.stats().restarts).to.be.at.least(8);
    } finally {
      await recycling.stop();
    }
  });

  it('rejects with PoolStoppedError after stop()', async () => {
    const stopping = await PythonPool.start({ size: 1, path: fixtures });
    await stopping.stop();
    const error = await stopping.call('calls', 'echo', [1]).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PoolStoppedError);
  });
});
