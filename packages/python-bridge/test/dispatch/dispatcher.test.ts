import { expect } from 'chai';
import { Dispatcher, type DispatcherOptions } from '../../src/dispatch/dispatcher.js';
import { CallTimeoutError, PoolStoppedError, QueueFullError, InterpreterExitedError } from '../../src/errors.js';
import { MAX_FIXINT_FRAMES } from '../../src/wire/encoded-call.js';
import { encoded, FakeExecutor } from '../helpers.js';
import { FakeClock, flush } from '../../../../test/support.js';

/** Settles to `{ value }` or `{ error }`, so a test can look at an outcome without awaiting it first. */
function track<T>(promise: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

describe('Dispatcher (fake executors, fake clock)', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock().install();
  });

  afterEach(() => clock.uninstall());

  function dispatcher(options: Partial<DispatcherOptions<FakeExecutor>> = {}) {
    return new Dispatcher<FakeExecutor>({ maxQueue: 100, maxMessageSize: 1024 * 1024, batchCallsUnderMs: 0, ...options });
  }

  /** Runs `fn` once on `executor` taking `ms`, so the dispatcher has timed it. */
  async function timeOnce(d: Dispatcher<FakeExecutor>, executor: FakeExecutor, fn: string, ms: number) {
    const call = d.call({ call: encoded(fn), retries: 0 });
    clock.tick(ms);
    executor.answer();
    await call;
  }

  it('runs calls first come, first served, each on the interpreter that frees up', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    d.attach(a);
    const calls = ['f1', 'f2', 'f3'].map((fn) => track(d.call({ call: encoded(fn), retries: 0 })));
    expect(d.counts).to.include({ busy: 1, queued: 2 });
    for (const fn of ['f1', 'f2', 'f3']) {
      expect(a.current.calls.map((c) => c.fn)).to.deep.equal([fn]);
      a.answer();
      await flush();
    }
    expect(calls.map((c) => c.value)).to.deep.equal(['f1', 'f2', 'f3']);
    expect(d.counts).to.include({ ready: 1, busy: 0, queued: 0, completed: 3, failed: 0 });
  });

  it('sends queued short calls in one round trip, in order, each with its own outcome', async () => {
    const d = dispatcher({ batchCallsUnderMs: 2 });
    const a = new FakeExecutor('a');
    d.attach(a);
    await timeOnce(d, a, 'short', 1);
    const blocker = track(d.call({ call: encoded('long'), retries: 0 }));
    const queued = [1, 2, 3].map(() => track(d.call({ call: encoded('short'), retries: 0 })));
    a.answer();
    await flush();
    expect(blocker.value).to.equal('long');
    expect(a.current.batch).to.equal(true);
    expect(a.current.calls).to.have.length(3);
    a.current.resolve([
      { ok: true, value: 'one' },
      { ok: false, error: new Error('two failed') },
      { ok: true, value: 'three' },
    ]);
    await flush();
    expect(queued.map((q) => q.value ?? (q.error as Error).message)).to.deep.equal(['one', 'two failed', 'three']);
  });

  it('never lets a batch grow past maxMessageSize: calls that fit alone go in the next round trip', async () => {
    const d = dispatcher({ batchCallsUnderMs: 2, maxMessageSize: 10_000 });
    const a = new FakeExecutor('a');
    d.attach(a);
    await timeOnce(d, a, 'short', 1);
    const blocker = d.call({ call: encoded('long'), retries: 0 });
    const big = Buffer.alloc(4_000);
    const queued = [1, 2, 3, 4, 5].map(() => track(d.call({ call: encoded('short', [big]), retries: 0 })));
    a.answer();
    await blocker;
    const sizes: number[] = [];
    while (queued.some((q) => !q.settled)) {
      sizes.push(a.current.calls.length);
      const bytes = a.current.calls.reduce((sum, c) => sum + c.size, 0);
      expect(bytes).to.be.at.most(10_000);
      a.answer();
      await flush();
    }
    expect(sizes).to.deep.equal([2, 2, 1]);
    expect(queued.every((q) => q.value === 'short')).to.equal(true);
  });

  it('keeps a batch to the frames a one-byte index can name', async () => {
    const d = dispatcher({ batchCallsUnderMs: 2 });
    const a = new FakeExecutor('a');
    d.attach(a);
    await timeOnce(d, a, 'short', 1);
    const blocker = d.call({ call: encoded('long'), retries: 0 });
    const arrays = Array.from({ length: 100 }, () => new Float64Array(1));
    const queued = [1, 2].map(() => track(d.call({ call: encoded('short', arrays), retries: 0 })));
    a.answer();
    await blocker;
    expect(a.current.calls).to.have.length(1); // 200 frames > MAX_FIXINT_FRAMES
    expect(MAX_FIXINT_FRAMES).to.equal(127);
    a.answer();
    await flush();
    a.answer();
    await flush();
    expect(queued.map((q) => q.value)).to.deep.equal(['short', 'short']);
  });

  it('queues again, at the head and in order, the calls a batch ended before (its retries untouched)', async () => {
    const d = dispatcher({ batchCallsUnderMs: 2 });
    const a = new FakeExecutor('a');
    d.attach(a);
    await timeOnce(d, a, 'short', 1);
    const blocker = d.call({ call: encoded('long'), retries: 0 });
    const queued = ['s1', 's2', 's3', 's4'].map(() => track(d.call({ call: encoded('short'), retries: 0 })));
    clock.tick(10); // 'long' is not short
    a.answer();
    await blocker;
    const later = track(d.call({ call: encoded('long', [2]), retries: 0 }));
    const first = a.current;
    expect(first.calls).to.have.length(4);
    first.resolve([{ ok: true, value: 1 }]); // the reply reached the size limit after one result
    await flush();
    expect(a.current).to.not.equal(first);
    expect(a.current.calls).to.deep.equal(first.calls.slice(1));
    a.current.resolve([2, 3, 4].map((value) => ({ ok: true, value })));
    await flush();
    expect(queued.map((q) => q.value)).to.deep.equal([1, 2, 3, 4]);
    expect(later.settled).to.equal(false);
    expect(a.current.calls[0]!.fn).to.equal('long');
  });

  it('never batches a call with a timeout or a signal', async () => {
    const d = dispatcher({ batchCallsUnderMs: 2 });
    const a = new FakeExecutor('a');
    d.attach(a);
    await timeOnce(d, a, 'short', 1);
    const blocker = d.call({ call: encoded('long'), retries: 0 });
    d.call({ call: encoded('short'), retries: 0 });
    d.call({ call: encoded('short'), retries: 0, timeout: 1_000 });
    d.call({ call: encoded('short'), retries: 0, signal: new AbortController().signal });
    a.answer();
    await blocker;
    for (let i = 0; i < 3; i++) {
      expect(a.current.calls).to.have.length(1);
      a.answer();
      await flush();
    }
  });

  it('retries a call whose interpreter died, at the head of the queue, as often as it asked', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    const b = new FakeExecutor('b');
    d.attach(a);
    const retried = track(d.call({ call: encoded('again'), retries: 1 }));
    const other = track(d.call({ call: encoded('other'), retries: 0 }));
    a.die();
    await flush();
    expect(d.counts).to.include({ queued: 2, busy: 0 });
    d.attach(b);
    expect(b.current.calls[0]!.fn).to.equal('again');
    b.die();
    await flush();
    expect(retried.error).to.be.instanceOf(InterpreterExitedError);
    expect(other.settled).to.equal(false);
  });

  it('a timeout removes a queued call, and kills the interpreter of a running one', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    d.attach(a);
    const running = track(d.call({ call: encoded('slow'), retries: 0, timeout: 100 }));
    const queued = track(d.call({ call: encoded('queued'), retries: 0, timeout: 50 }));
    clock.tick(50);
    await flush();
    expect(queued.error).to.be.instanceOf(CallTimeoutError);
    expect(d.counts.queued).to.equal(0);
    expect(a.killed).to.equal(false);
    clock.tick(50);
    await flush();
    expect(running.error).to.be.instanceOf(CallTimeoutError);
    expect(a.killed).to.equal(true);
    expect(d.serving()).to.deep.equal([]);
  });

  it('a timeout beyond 2^31 ms fires when it is due, not 1 ms after the call', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    d.attach(a);
    const long = 2 ** 31 + 5_000;
    const call = track(d.call({ call: encoded('slow'), retries: 0, timeout: long }));
    clock.tick(2 ** 31);
    await flush();
    expect(call.settled).to.equal(false);
    clock.tick(5_000);
    await flush();
    expect(call.error).to.be.instanceOf(CallTimeoutError);
  });

  it('aborting removes a queued call, or kills the interpreter of a running one, with the reason', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    d.attach(a);
    const first = new AbortController();
    const second = new AbortController();
    const running = track(d.call({ call: encoded('slow'), retries: 0, signal: first.signal }));
    const queued = track(d.call({ call: encoded('queued'), retries: 0, signal: second.signal }));
    second.abort('queued reason');
    await flush();
    expect(queued.error).to.equal('queued reason');
    expect(d.counts.queued).to.equal(0);
    first.abort('running reason');
    await flush();
    expect(running.error).to.equal('running reason');
    expect(a.killed).to.equal(true);
  });

  it('refuses a call beyond maxQueue with QueueFullError while every interpreter is busy', async () => {
    const d = dispatcher({ maxQueue: 1 });
    d.attach(new FakeExecutor('a'));
    d.call({ call: encoded('running'), retries: 0 });
    d.call({ call: encoded('queued'), retries: 0 });
    const refused = track(d.call({ call: encoded('refused'), retries: 0 }));
    await flush();
    expect(refused.error).to.be.instanceOf(QueueFullError);
  });

  it('lends an interpreter in queue order and takes it back on release (once)', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    d.attach(a);
    const lease = await d.acquire({});
    const after = track(d.call({ call: encoded('after'), retries: 0 }));
    expect(d.counts).to.include({ busy: 1, queued: 1 });
    lease.release();
    lease.release();
    expect(a.current.calls[0]!.fn).to.equal('after');
    a.answer();
    await flush();
    expect(after.value).to.equal('after');
  });

  it('one predicate says what has work in flight (a call, a lease, a call waiting on Node); only an idle executor retires, and at once', async () => {
    let queuedSeen = 0;
    const d = dispatcher({ onQueued: () => queuedSeen++ });
    const a = new FakeExecutor('a');
    const b = new FakeExecutor('b');
    d.attach(a);
    d.attach(b);
    expect(d.hasWorkInFlight(a)).to.equal(false);
    clock.tick(50);
    expect(d.idleFor(a)).to.equal(50);
    const call = track(d.call({ call: encoded('running'), retries: 0 }));
    const lease = await d.acquire({});
    const busy = [a, b].filter((e) => d.hasWorkInFlight(e));
    expect(busy).to.have.length(2);
    expect(queuedSeen).to.equal(0);
    const waiting = track(d.call({ call: encoded('waits'), retries: 0 }));
    expect(queuedSeen).to.equal(1);
    // Neither may be taken out while it has work in flight.
    expect(d.retireIfIdle(a)).to.equal(false);
    expect(d.retireIfIdle(b)).to.equal(false);
    expect(d.idleFor(a)).to.equal(undefined);
    lease.release();
    await flush();
    // The lease's executor took the queued call at once: still not idle.
    const other = lease.executor === a ? b : a;
    expect(d.hasWorkInFlight(lease.executor)).to.equal(true);
    other.answer();
    lease.executor.answer();
    await flush();
    expect(call.settled && waiting.settled).to.equal(true);
    clock.tick(10);
    expect(d.idleFor(a)).to.equal(10);
    expect(d.retireIfIdle(a)).to.equal(true);
    expect(d.retireIfIdle(a)).to.equal(false);
    // A retired executor never takes a call again: the next goes to b.
    const runsOfA = a.runs.length;
    const next = track(d.call({ call: encoded('next'), retries: 0 }));
    expect(b.current.calls[0]!.fn).to.equal('next');
    expect(a.runs.length).to.equal(runsOfA);
    b.answer();
    await flush();
    expect(next.value).to.equal('next');
  });

  it('close() rejects queued calls and whenServing(), even when enough interpreters serve', async () => {
    const d = dispatcher();
    d.attach(new FakeExecutor('a'));
    d.call({ call: encoded('running'), retries: 0 });
    const queued = track(d.call({ call: encoded('queued'), retries: 0 }));
    d.close(new PoolStoppedError('stopping'));
    await flush();
    expect(queued.error).to.be.instanceOf(PoolStoppedError);
    const waiting = track(d.whenServing(1));
    await flush();
    expect(waiting.error).to.be.instanceOf(PoolStoppedError);
  });

  it('records the latency of every call from submission to settlement', async () => {
    const d = dispatcher();
    const a = new FakeExecutor('a');
    d.attach(a);
    for (const ms of [10, 20, 30]) {
      const call = d.call({ call: encoded('f'), retries: 0 });
      clock.tick(ms);
      a.answer();
      await call;
    }
    expect(d.stats.summary(1).latency).to.deep.include({ p50: 20, p99: 30, max: 30 });
  });
});
