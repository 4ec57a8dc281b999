import { expect } from 'chai';
import { Registry } from 'prom-client';
import { PythonPool, InterpreterExitedError, type InterpreterEvent, type StartMethod } from '@piton/python-bridge';
import { poolMetrics } from '@piton/python-bridge/metrics';
import { fixtures, isAlive, parsePrometheusText, promValue } from './helpers.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Resolves once `check()` holds, checked on every event-loop turn (no timers). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A Node function Python awaits (`coroutines.gated`) until the test opens it: calls kept in
 * flight. Each call waits on its value's own gate; `open()` without a key opens them all.
 */
class Gate {
  readonly #gates = new Map<unknown, { promise: Promise<void>; open: () => void }>();
  #all = false;
  waiting = 0;
  readonly fn = async (key?: unknown): Promise<null> => {
    this.waiting++;
    if (!this.#all) await this.#gate(key).promise;
    return null;
  };
  open(key?: unknown): void {
    if (key !== undefined) return this.#gate(key).open();
    this.#all = true;
    for (const gate of this.#gates.values()) gate.open();
  }
  #gate(key: unknown) {
    let gate = this.#gates.get(key);
    if (gate === undefined) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
      this.#gates.set(key, gate);
    }
    return gate;
  }
}

const inFlight = (pool: PythonPool) => pool.interpreters().reduce((n, i) => n + i.inFlight, 0);

for (const startMethod of ['forkserver', 'spawn'] as StartMethod[]) {
  describe(`concurrency: several calls in flight on one interpreter (${startMethod})`, function () {
    let pool: PythonPool;
    let gate: Gate;

    beforeEach(async () => {
      gate = new Gate();
      pool = await PythonPool.start({
        size: 2,
        concurrency: 4,
        path: fixtures,
        startMethod,
        expose: { echo: async (v: unknown) => v, gate: (key?: unknown) => gate.fn(key) },
      });
    });

    afterEach(async () => {
      gate.open();
      await pool.stop();
    });

    it('runs concurrency calls at once on each interpreter: 4 calls that can only return together do, on each', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.call('coroutines', 'rendezvous', ['all', 4, i])));
      expect(results).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('each interpreter runs its calls on a loop of its own, made in its own process (after the fork, with forkserver)', async () => {
      const owners = await Promise.all(Array.from({ length: 8 }, () => pool.call<[number, number, string]>('coroutines', 'loop_owner')));
      for (const [pid, owner, kind] of owners) {
        expect(owner).to.equal(pid);
        expect(kind).to.equal('uvloop');
      }
      expect(new Set(owners.map(([pid]) => pid)).size).to.equal(2);
    });

    it('puts each call on the least loaded interpreter, and shows calls in flight per interpreter', async () => {
      const held = Array.from({ length: 6 }, (_, i) => pool.call('coroutines', 'gated', ['gate', i]));
      await until(() => gate.waiting === 6);
      expect(pool.interpreters().map((i) => i.inFlight)).to.deep.equal([3, 3]);
      // busy and ready count interpreters; inFlight and free count slots.
      expect(pool.stats()).to.include({ busy: 2, ready: 0, inFlight: 6, free: 2, queued: 0 });
      gate.open();
      expect(await Promise.all(held)).to.deep.equal([0, 1, 2, 3, 4, 5]);
      expect(inFlight(pool)).to.equal(0);
    });

    it('queues what exceeds capacity, and gives each freed slot to the call at the head of the queue', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => `held-${i}`);
      const held = keys.map((key) => pool.call('coroutines', 'gated', ['gate', key]));
      await until(() => gate.waiting === 8);
      const order: number[] = [];
      const queued = Array.from({ length: 4 }, (_, i) => pool.call<number>('coroutines', 'noop', [i]).then((v) => order.push(v)));
      expect(pool.stats()).to.include({ busy: 2, ready: 0, inFlight: 8, free: 0, queued: 4 });
      // One slot frees: it takes the head of the queue, and each queued call, as it returns,
      // hands the slot on to the next, in order.
      gate.open(keys[0]!);
      await Promise.all(queued);
      expect(order).to.deep.equal([0, 1, 2, 3]);
      expect(pool.stats()).to.include({ inFlight: 7, free: 1, queued: 0 });
      gate.open();
      await Promise.all([...held, ...queued]);
    });

    it('a sync function holds its interpreter: no other call runs on it meanwhile', async () => {
      const single = await PythonPool.start({ size: 1, concurrency: 4, path: fixtures, startMethod });
      try {
        let started!: () => void;
        const syncStarted = new Promise<void>((resolve) => (started = resolve));
        const sync = single.call('coroutines', 'sync_section', [0.3], { onProgress: () => started() });
        await syncStarted;
        expect(await single.call('coroutines', 'note', ['async'])).to.equal('async');
        await sync;
        expect(await single.call('coroutines', 'events')).to.deep.equal(['sync:start', 'sync:end', 'async']);
      } finally {
        await single.stop();
      }
    });

    it('a sync function may run asyncio.run() itself while the loop holds other calls', async () => {
      const held = Array.from({ length: 6 }, () => pool.call('coroutines', 'gated', ['gate']));
      await until(() => gate.waiting === 6);
      expect(await pool.call('coroutines', 'runs_its_own_loop', [5])).to.equal(5);
      gate.open();
      await Promise.all(held);
    });

    it('streams async generators side by side on one interpreter, beside calls', async () => {
      const streams = [0, 1, 2, 3, 4, 5].map((k) => collect(pool.stream<number>('coroutines', 'numbers', [3 + k, 0.001])));
      const calls = [1, 2].map((v) => pool.call('coroutines', 'add', [v, 1]));
      expect(await Promise.all(streams)).to.deep.equal([0, 1, 2, 3, 4, 5].map((k) => Array.from({ length: 3 + k }, (_, i) => i)));
      expect(await Promise.all(calls)).to.deep.equal([2, 3]);
    });

    it('calls back into Node from several calls at once, each answered on its own lane', async () => {
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => pool.call('coroutines', 'ask', ['echo', i])));
      expect(results).to.deep.equal(Array.from({ length: 16 }, (_, i) => [i, i]));
    });

    it('an interpreter that dies with calls in flight rejects each of them with its own InterpreterExitedError', async () => {
      const held = Array.from({ length: 8 }, (_, i) => pool.call('coroutines', 'gated', ['gate', i]).then((v) => ({ v }), (e: unknown) => ({ e })));
      await until(() => gate.waiting === 8);
      const [victim] = pool.interpreters();
      process.kill(victim!.pid, 'SIGKILL');
      await pool.whenReady();
      await until(() => pool.interpreters().every((i) => i.pid !== victim!.pid));
      gate.open();
      const outcomes = await Promise.all(held);
      const errors = outcomes.flatMap((o) => ('e' in o ? [o.e] : []));
      expect(errors).to.have.length(4);
      for (const error of errors) {
        expect(error).to.be.instanceOf(InterpreterExitedError);
        expect((error as InterpreterExitedError).signal).to.equal('SIGKILL');
        expect((error as Error).message).to.include('coroutines.gated');
      }
      expect(new Set(errors).size).to.equal(4);
      expect(outcomes.filter((o) => 'v' in o)).to.have.length(4);
    });
  });
}

describe('concurrency: recycling', () => {
  it('recycle.afterCalls stops giving calls to the interpreter and replaces it once its calls in flight have settled', async () => {
    const gate = new Gate();
    const pool = await PythonPool.start({ size: 1, concurrency: 4, recycle: { afterCalls: 4 }, path: fixtures, expose: { gate: (key?: unknown) => gate.fn(key) } });
    try {
      const first = await pool.call<number>('coroutines', 'pid');
      const held = [1, 2, 3].map((i) => pool.call('coroutines', 'gated', ['gate', i]));
      await until(() => gate.waiting === 3);
      // Four calls given: it takes no fifth, which waits for the replacement.
      const fifth = pool.call<number>('coroutines', 'pid');
      expect(pool.stats()).to.include({ queued: 1, inFlight: 3 });
      // It is replaced only once its three calls have settled: it still runs them.
      expect(isAlive(first)).to.equal(true);
      expect(pool.stats().restartsByCause.recycle).to.equal(0);
      gate.open();
      expect(await Promise.all(held)).to.deep.equal([1, 2, 3]);
      const second = await fifth;
      expect(second).to.not.equal(first);
      expect(pool.stats().restartsByCause.recycle).to.equal(1);
    } finally {
      await pool.stop();
    }
  });

  it('recycle.aboveMemory retires an interpreter that went over with calls in flight, and replaces it once they have settled', async () => {
    const MiB = 1024 * 1024;
    const gate = new Gate();
    const pool = await PythonPool.start({
      size: 1,
      concurrency: 4,
      recycle: { aboveMemory: 150 * MiB },
      path: fixtures,
      expose: { gate: (key?: unknown) => gate.fn(key) },
    });
    const events: InterpreterEvent[] = [];
    pool.system.events.on('interpreter', (event) => events.push(event));
    try {
      const first = pool.interpreters()[0]!.pid;
      const held = [1, 2, 3].map((i) => pool.call('coroutines', 'gated', ['gate', i]));
      await until(() => gate.waiting === 3);
      // The fourth slot's call leaves 200 MiB resident: over the limit once it has returned.
      expect(await pool.call('runaways', 'hog', [200])).to.equal(first);
      // Retired: a slot is free, yet the next call is not given to it, but waits for the replacement.
      const next = pool.call<number>('coroutines', 'pid');
      expect(pool.stats()).to.include({ queued: 1, inFlight: 3 });
      // Its three calls still run on it: nothing of it has exited or been replaced.
      expect(isAlive(first)).to.equal(true);
      expect(events.filter((e) => e.type === 'exited' || e.type === 'replaced')).to.deep.equal([]);
      gate.open();
      expect(await Promise.all(held)).to.deep.equal([1, 2, 3]);
      const second = await next;
      expect(second).to.not.equal(first);
      expect(isAlive(first)).to.equal(false);
      const replaced = events.filter((e) => e.type === 'replaced');
      expect(replaced).to.have.length(1);
      expect(replaced[0]).to.include({ cause: 'recycle', reason: 'recycle.aboveMemory', previousPid: first, pid: second });
      expect(pool.stats().restartsByCause.recycle).to.equal(1);
    } finally {
      await pool.stop();
    }
  });
});

describe('concurrency: stats and metrics count capacity', () => {
  it('stats() and the metrics show calls in flight per interpreter, the capacity, free slots and the loop', async () => {
    const gate = new Gate();
    const pool = await PythonPool.start({ size: 2, concurrency: 3, path: fixtures, expose: { gate: (key?: unknown) => gate.fn(key) } });
    const registry = new Registry();
    const metrics = poolMetrics(pool, { registry });
    try {
      expect(pool.stats()).to.include({ concurrency: 3, capacity: 6, inFlight: 0, free: 6, ready: 2, busy: 0, loop: 'uvloop' });
      // Four calls over two interpreters of three slots: the least loaded takes each, so 2 and 2.
      const held = [1, 2, 3, 4].map((i) => pool.call('coroutines', 'gated', ['gate', i]));
      await until(() => gate.waiting === 4);
      const stats = pool.stats();
      expect(stats).to.include({ capacity: 6, inFlight: 4, free: 2, ready: 0, busy: 2, starting: 0, queued: 0 });
      expect(Object.values(stats.inFlightByInterpreter).sort()).to.deep.equal([2, 2]);
      const samples = parsePrometheusText(await registry.metrics()).samples;
      expect(promValue(samples, 'piton_pool_capacity', { pool: pool.path })).to.equal(6);
      for (const { worker } of pool.interpreters()) {
        expect(promValue(samples, 'piton_pool_calls_in_flight', { pool: pool.path, worker })).to.equal(2);
      }
      expect(promValue(samples, 'piton_pool_interpreters', { pool: pool.path, state: 'busy' })).to.equal(2);
      gate.open();
      expect(await Promise.all(held)).to.deep.equal([1, 2, 3, 4]);
      // Utilization is the share of the capacity used: four of six slots, some of the time.
      const after = pool.stats();
      expect(after).to.include({ inFlight: 0, free: 6, ready: 2, busy: 0 });
      expect(after.utilization).to.be.greaterThan(0).and.at.most(4 / 6);
    } finally {
      metrics.close();
      await pool.stop();
    }
  });

  it("stats().loop says 'asyncio' where uvloop cannot be imported", async () => {
    const pool = await PythonPool.start({ size: 1, concurrency: 2, path: fixtures, preload: ['no_uvloop'] });
    try {
      expect(pool.stats().loop).to.equal('asyncio');
      expect(await pool.call('coroutines', 'sleep', [0, 'slept'])).to.equal('slept');
    } finally {
      await pool.stop();
    }
  });
});

describe('concurrency: options', () => {
  it('refuses bad values before anything starts: RangeError for numbers, TypeError for the rest', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 10_001]) {
      const error = await PythonPool.start({ concurrency: bad, path: fixtures }).catch((e: unknown) => e);
      expect(error, String(bad)).to.be.instanceOf(RangeError);
      expect((error as Error).message).to.include('options.concurrency');
    }
    for (const bad of ['4', null, true, {}]) {
      const error = await PythonPool.start({ concurrency: bad as unknown as number, path: fixtures }).catch((e: unknown) => e);
      expect(error, String(bad)).to.be.instanceOf(TypeError);
    }
    const typo = await PythonPool.start({ concurency: 2 } as never).catch((e: unknown) => e);
    expect((typo as Error).message).to.include('did you mean concurrency?');
  });
});
