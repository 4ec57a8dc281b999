import { expect } from 'chai';
import { PoolStoppedError, PythonPool } from '@piton/python-bridge';
import { fixtures, workersOf } from './helpers.js';

describe('PythonPool: stop({ drain: true })', () => {
  let pool: PythonPool;
  afterEach(() => pool?.stop());

  it('runs the queued calls before stopping, and refuses new ones meanwhile', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'] });
    const calls = Array.from({ length: 5 }, (_, i) => pool.call('calls', 'sleep', [0.05, i]));
    expect(pool.stats().queued).to.equal(4);
    const stopped = pool.stop({ drain: true });
    const late = await pool.call('calls', 'echo', ['late']).catch((e: unknown) => e);
    expect(late).to.be.instanceOf(PoolStoppedError);
    expect(await Promise.all(calls)).to.deep.equal([0, 1, 2, 3, 4]);
    await stopped;
    expect(pool.stats().state).to.equal('stopped');
    expect(workersOf()).to.deep.equal([]);
  });

  it('without drain, queued calls reject with PoolStoppedError while the running one finishes', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'] });
    const running = pool.call('calls', 'sleep', [0.1, 'done']);
    const queued = pool.call('calls', 'echo', ['never']).catch((e: unknown) => e);
    await pool.stop();
    expect(await running).to.equal('done');
    expect(await queued).to.be.instanceOf(PoolStoppedError);
  });

  it('drains for at most shutdownTimeout: calls still queued then reject', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'], shutdownTimeout: 300 });
    const first = pool.call('calls', 'sleep', [0.6, 'first']);
    const second = pool.call('calls', 'sleep', [0.6, 'second']).catch((e: unknown) => e);
    await pool.stop({ drain: true });
    // The running call outlived the drain; stopping gave it shutdownTimeout more, then killed it.
    await first.catch(() => {});
    expect(await second).to.be.instanceOf(PoolStoppedError);
    expect(workersOf()).to.deep.equal([]);
  });

  it('pool.drain() waits for the queued and running calls and keeps the interpreters (for a pool stopped by its tree next)', async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'] });
    const calls = Array.from({ length: 6 }, (_, i) => pool.call('calls', 'sleep', [0.05, i]));
    await pool.drain();
    expect(pool.stats()).to.include({ queued: 0, busy: 0, state: 'stopping', completed: 6 });
    expect(await Promise.all(calls)).to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it('refuses unknown stop options and a drain that is not a boolean', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures });
    const unknown = await pool.stop({ drian: true } as never).catch((e: unknown) => e);
    expect(unknown).to.be.instanceOf(TypeError).with.property('message').that.contains('options.drian is not an option; did you mean drain?');
    const wrong = await pool.stop({ drain: 'yes' } as never).catch((e: unknown) => e);
    expect(wrong).to.be.instanceOf(TypeError).with.property('message').that.contains('options.drain');
    expect(pool.stats().state).to.equal('running');
  });
});
