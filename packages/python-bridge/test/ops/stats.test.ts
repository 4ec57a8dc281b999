import { expect } from 'chai';
import { ActorSystem } from '@piton/core';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { encoded, FakeExecutor } from '../helpers.js';
import { CallTimeoutError, PoolStoppedError, PythonError, QueueFullError, InterpreterExitedError } from '../../src/errors.js';
import { followPoolEvents, PoolLifecycle, type InterpreterEvent, type PoolEvent } from '../../src/ops/lifecycle.js';
import { CallStats, LatencyWindow, outcomeOf, type CallTiming } from '../../src/ops/stats.js';

describe('LatencyWindow', () => {
  it('gives nearest-rank p50, p90, p99 and max, and zeros before any sample', () => {
    const window = new LatencyWindow(1_000);
    expect(window.percentiles()).to.deep.equal({ p50: 0, p90: 0, p99: 0, max: 0 });
    for (let ms = 100; ms >= 1; ms--) window.record(ms);
    expect(window.percentiles()).to.deep.equal({ p50: 50, p90: 90, p99: 99, max: 100 });
  });

  it('keeps only the most recent samples', () => {
    const window = new LatencyWindow(4);
    for (const ms of [1_000, 1_000, 1, 2, 3, 4]) window.record(ms);
    expect(window.percentiles().max).to.equal(4);
  });
});

describe('outcomeOf', () => {
  it('labels each failure by its error class, and an aborted call as aborted', () => {
    expect(outcomeOf(new PythonError('ValueError', 'x', ''), false)).to.equal('python_error');
    expect(outcomeOf(new InterpreterExitedError(null, 'SIGKILL'), false)).to.equal('exited');
    expect(outcomeOf(new CallTimeoutError(10), false)).to.equal('timeout');
    expect(outcomeOf(new QueueFullError(1), false)).to.equal('queue_full');
    expect(outcomeOf(new PoolStoppedError('stopped'), false)).to.equal('stopped');
    expect(outcomeOf(new DOMException('gone', 'AbortError'), true)).to.equal('aborted');
    expect(outcomeOf(new Error('what'), false)).to.equal('error');
  });
});

describe('CallStats', () => {
  it('splits wait from run, counts errors by class and outcomes, and fills a traced call in', () => {
    const stats = new CallStats();
    const timing: CallTiming = {};
    stats.settled(true, undefined, false, 0, 10, 15, timing); // waited 10, ran 5
    expect(timing).to.deep.equal({ outcome: 'ok', waitMs: 10, runMs: 5 });
    stats.settled(false, new PythonError('KeyError', 'k', ''), false, 0, 0, 3);
    stats.settled(false, new CallTimeoutError(7), false, 0, undefined, 7); // timed out in the queue: no run
    stats.refused(new QueueFullError(1));
    const summary = stats.summary(1);
    expect(summary).to.include({ completed: 1, failed: 3 });
    expect(summary.errors).to.deep.equal({ PythonError: 1, CallTimeoutError: 1, QueueFullError: 1 });
    expect(summary.wait.max).to.equal(10);
    expect(summary.run.max).to.equal(5);
    expect(stats.outcomes()).to.include({ ok: 1, python_error: 1, timeout: 1, queue_full: 1, exited: 0 });
  });
});

describe('Dispatcher: seal and whenIdle (a drain)', () => {
  const request = () => ({ call: encoded('f'), retries: 0 });

  it('refuses new calls once sealed, runs the queued ones, and resolves whenIdle when none is left', async () => {
    const dispatcher = new Dispatcher<FakeExecutor>({ maxQueue: 10, batchCallsUnderMs: 0 });
    const executor = new FakeExecutor('python-1');
    dispatcher.attach(executor);
    const first = dispatcher.call(request());
    const second = dispatcher.call(request());
    dispatcher.seal(new PoolStoppedError('draining'));
    const refused = await dispatcher.call(request()).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(PoolStoppedError);
    let idle = false;
    const whenIdle = dispatcher.whenIdle().then(() => (idle = true));
    executor.answer();
    expect(await first).to.equal('f');
    expect(idle).to.equal(false); // the second call is running now
    executor.answer();
    expect(await second).to.equal('f');
    await whenIdle;
    expect(idle).to.equal(true);
  });

  it('whenIdle resolves at once when nothing is queued or running', async () => {
    const dispatcher = new Dispatcher<FakeExecutor>({ maxQueue: 10, batchCallsUnderMs: 0 });
    await dispatcher.whenIdle();
  });
});

describe('PoolLifecycle', () => {
  let system: ActorSystem;
  beforeEach(() => (system = new ActorSystem({ name: 'life' })));
  afterEach(() => system.stop());

  it('counts a replacement once the new interpreter is ready, with the cause noted, else crash', () => {
    const lifecycle = new PoolLifecycle(system, 'life/pool');
    const events: InterpreterEvent[] = [];
    system.events.on('interpreter', (e) => events.push(e));
    lifecycle.ready('python-1', 100); // first start: not a restart
    lifecycle.note('python-1', 'recycle', 'recycle.afterCalls');
    lifecycle.ready('python-1', 101);
    system.emit({ type: 'exited', supervisor: 'life/pool', id: 'python-1', path: 'life/pool/python-1', at: 0, reason: new Error('boom') });
    lifecycle.ready('python-1', 102);
    system.emit({ type: 'exited', supervisor: 'life/pool', id: 'python-1', path: 'life/pool/python-1', at: 0, reason: 'shutdown' });
    expect(events.map((e) => [e.cause, e.reason, e.previousPid, e.pid])).to.deep.equal([
      ['recycle', 'recycle.afterCalls', 100, 101],
      ['crash', 'Error: boom', 101, 102],
    ]);
    expect(lifecycle.restartsByCause).to.deep.equal({ crash: 1, recycle: 1, timeout: 0, abort: 0 });
    expect(lifecycle.restarts).to.equal(2);
    lifecycle.dispose();
  });

  it('followPoolEvents passes on the pool’s own events only, and stops after the pool’s exit', () => {
    const seen: PoolEvent[] = [];
    followPoolEvents(system, 'life/pool', (e) => seen.push(e));
    const at = 0;
    system.emit({ type: 'started', supervisor: 'life/pool', id: 'python-1', path: 'life/pool/python-1', at });
    system.emit({ type: 'started', supervisor: 'life', id: 'pool-2', path: 'life/pool-2', at }); // a neighbour with a similar path
    system.emit({ type: 'exited', supervisor: 'life', id: 'pool', path: 'life/pool', at, reason: 'shutdown' });
    system.emit({ type: 'started', supervisor: 'life', id: 'pool', path: 'life/pool', at }); // a later incarnation
    expect(seen.map((e) => `${e.type}:${'path' in e ? e.path : ''}`)).to.deep.equal(['started:life/pool/python-1', 'exited:life/pool']);
  });
});
