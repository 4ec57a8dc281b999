import { expect } from 'chai';
import { CallTimeoutError, PythonError, PythonPool, InterpreterExitedError, type InterpreterEvent, type InterpreterReplacedEvent, type PoolEvent } from '@piton/python-bridge';
import type { SupervisorEvent } from '@piton/core';
import { fixtures } from './helpers.js';

/** The next `'interpreter'` event of `pool` (subscribe before causing it). */
/** The next `'interpreter'` event that reports a replacement (launching, ready and exited come too). */
function nextReplacement(pool: PythonPool): Promise<InterpreterReplacedEvent> {
  return new Promise((resolve) => {
    const on = (event: InterpreterEvent) => {
      if (event.type !== 'replaced') return;
      pool.system.events.off('interpreter', on);
      resolve(event);
    };
    pool.system.events.on('interpreter', on);
  });
}

describe('PythonPool: stats() and lifecycle events', () => {
  let pool: PythonPool;
  afterEach(() => pool?.stop());

  it('reports state from running to stopped, and the interpreters as ready, busy or starting', async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'] });
    const stats = pool.stats();
    expect(stats).to.include({ state: 'running', size: 2, ready: 2, busy: 0, starting: 0, queued: 0, restarts: 0 });
    expect(stats.restartsByCause).to.deep.equal({ crash: 0, recycle: 0, timeout: 0, abort: 0 });
    const running = pool.call('calls', 'sleep', [0.3]);
    expect(pool.stats()).to.include({ ready: 1, busy: 1 });
    await running;
    const stopping = pool.stop();
    await stopping;
    expect(pool.stats()).to.include({ state: 'stopped', starting: 0 });
  });

  it('times waiting and running separately, with p50, p90, p99 and max', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'] });
    // One interpreter: the second call waits for the whole of the first.
    await Promise.all([pool.call('calls', 'sleep', [0.2]), pool.call('calls', 'sleep', [0.2])]);
    const { wait, run, latency } = pool.stats();
    for (const p of [wait, run, latency]) {
      expect(Object.keys(p)).to.deep.equal(['p50', 'p90', 'p99', 'max']);
      expect(p.p50).to.be.at.most(p.p90);
      expect(p.p90).to.be.at.most(p.p99);
      expect(p.p99).to.be.at.most(p.max);
    }
    expect(run.p50).to.be.at.least(190);
    expect(wait.max).to.be.at.least(190); // the second call waited for the first
    expect(wait.p50).to.be.below(100); // the first did not wait
    expect(latency.max).to.be.at.least(380);
    expect(pool.stats().utilization).to.be.greaterThan(0).and.at.most(1);
  });

  it('counts errors by type and calls by outcome', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'] });
    await pool.call('calls', 'echo', [1]);
    await pool.call('calls', 'fail', ['no']).catch((e: unknown) => expect(e).to.be.instanceOf(PythonError));
    await pool.call('calls', 'fail', ['no']).catch(() => {});
    const aborted = new AbortController();
    const queued = pool.call('calls', 'sleep', [0.2]);
    const cancelled = pool.call('calls', 'echo', [2], { signal: aborted.signal }).catch((e: unknown) => e);
    aborted.abort();
    await Promise.all([queued, cancelled]);
    const stats = pool.stats();
    expect(stats.errors).to.deep.equal({ PythonError: 2, AbortError: 1 });
    expect(stats.outcomes).to.include({ ok: 2, python_error: 2, aborted: 1, exited: 0, timeout: 0 });
    expect(stats).to.include({ completed: 2, failed: 3 });
  });

  it('counts a crash, a timeout and a recycle as restarts, each with its cause and an event', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'], recycle: { afterCalls: 1_000 } });
    const events: InterpreterEvent[] = [];
    pool.system.events.on('interpreter', (e) => events.push(e));

    const [first] = pool.interpreters();
    let replaced = nextReplacement(pool);
    const crash = await pool.call('calls', 'kill_self').catch((e: unknown) => e);
    expect(crash).to.be.instanceOf(InterpreterExitedError);
    expect(await replaced).to.include({ type: 'replaced', cause: 'crash', worker: 'python-1', previousPid: first!.pid });

    replaced = nextReplacement(pool);
    const timeout = await pool.call('calls', 'sleep', [30], { timeout: 200 }).catch((e: unknown) => e);
    expect(timeout).to.be.instanceOf(CallTimeoutError);
    expect((await replaced).cause).to.equal('timeout');

    // The replacement serves recycle.afterCalls calls, then is recycled.
    await pool.whenReady();
    replaced = nextReplacement(pool);
    await Promise.all(Array.from({ length: 1_000 }, (_, i) => pool.call('calls', 'echo', [i])));
    const recycle = await replaced;
    expect(recycle).to.include({ cause: 'recycle', reason: 'recycle.afterCalls' });
    expect(recycle.pid).to.not.equal(recycle.previousPid);

    expect(events.filter((e) => e.type === 'replaced').map((e) => e.cause)).to.deep.equal(['crash', 'timeout', 'recycle']);
    // The processes' side: the crash and the timeout's kill were exits of served interpreters.
    expect(events.filter((e) => e.type === 'exited').map((e) => e.cause)).to.deep.equal(['crash', 'crash', 'recycle']);
    expect(pool.stats().restartsByCause).to.deep.equal({ crash: 1, recycle: 1, timeout: 1, abort: 0 });
    expect(pool.stats().restarts).to.equal(3);
  });

  it('options.events sees the start-up: each interpreter worker started, before start() resolves', async () => {
    const seen: PoolEvent[] = [];
    pool = await PythonPool.start({ size: 2, path: fixtures, events: (e) => seen.push(e) });
    const started = seen.filter((e): e is SupervisorEvent => e.type === 'started').map((e) => e.id);
    expect(started).to.include.members(['python-1', 'python-2']);
    const pid = pool.interpreters()[0]!.pid;
    const replaced = nextReplacement(pool);
    process.kill(pid, 'SIGKILL');
    await replaced;
    expect(seen.map((e) => e.type)).to.include.members(['exited', 'restarting', 'replaced']);
  });

  it('options.events must be a function', async () => {
    const error = await PythonPool.start({ events: 'log' as never }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TypeError).with.property('message').that.contains('options.events');
  });

  it('reports failed once the pool gave up', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, supervision: { intensity: 0 } });
    // The pool's own exit, reported by its system once the pool has given up.
    const exited = new Promise<void>((resolve) =>
      pool.system.events.on('event', (e) => e.type === 'exited' && e.path === pool.path && resolve()),
    );
    // An interpreter that dies before serving anything is a failed start (a crash in a call would
    // be replaced in place): with intensity 0, the first one makes the pool give up.
    process.kill(pool.interpreters()[0]!.pid, 'SIGKILL');
    await exited;
    expect(pool.stats().state).to.equal('failed');
  });
});
