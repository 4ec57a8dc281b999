// An elastic pool with real interpreters, with both start methods: it grows while calls wait
// (never past max), shrinks back to min after idleTimeout with clean stops that count as nothing,
// never stops an interpreter with a call, a stream or a callback in flight, follows resize(), and
// a growth that cannot start is a failed start like any other. And `env` per slot.
import { expect } from 'chai';
import { PoolStoppedError, PythonPool, type InterpreterEvent, type PoolEvent } from '@piton/python-bridge';
import { fixtures, isAlive } from './helpers.js';
import { until } from './support.js';

const METHODS = ['forkserver', 'spawn'] as const;

/** The pool's `'interpreter'` events from its first moment, and a way to wait for one. */
function recorder() {
  const seen: InterpreterEvent[] = [];
  const waiters: { match: (e: InterpreterEvent) => boolean; resolve: (e: InterpreterEvent) => void }[] = [];
  return {
    seen,
    events: (event: PoolEvent) => {
      if (!('type' in event) || !['launching', 'ready', 'exited', 'replaced'].includes(event.type) || !('worker' in event)) return;
      const e = event as InterpreterEvent;
      seen.push(e);
      for (const w of [...waiters]) if (w.match(e)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(e));
    },
    next(match: (e: InterpreterEvent) => boolean): Promise<InterpreterEvent> {
      const past = seen.find(match);
      if (past) return Promise.resolve(past);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

describe('PythonPool: elastic size', function () {
  this.timeout(60_000);

  for (const startMethod of METHODS) {
    it(`${startMethod}: grows while calls wait, never past max, and is back at min after idleTimeout; its stops count as nothing`, async () => {
      const log = recorder();
      // intensity 0: a single restart would stop the pool, so a shrink counted as one would show.
      const pool = await PythonPool.start({ size: { min: 1, max: 3 }, idleTimeout: 300, supervision: { intensity: 0 }, startMethod, path: fixtures, onOutput: false, events: log.events });
      try {
        expect(pool.stats()).to.include({ size: 1, minimum: 1, grown: 0, shrunk: 0 });
        expect(pool.stats().limits).to.deep.equal({ min: 1, max: 3 });
        let most = 0;
        pool.system.events.on('interpreter', () => (most = Math.max(most, pool.interpreters().length, pool.stats().size)));
        const pids = await Promise.all(Array.from({ length: 12 }, () => pool.call<number>('calls', 'pid_after', [0.15])));
        expect(new Set(pids).size).to.be.within(2, 3);
        expect(most).to.be.at.most(3);
        const { grown } = pool.stats();
        expect(grown).to.be.within(1, 2);
        // Every interpreter it grew to is stopped once idle for idleTimeout: back at min.
        await until(() => pool.stats().size === 1 && pool.stats().stopping === 0 && pool.interpreters().length === 1, 'the pool to be back at min', 10_000);
        const shrinks = log.seen.filter((e) => e.type === 'exited' && e.cause === 'shrink');
        expect(shrinks).to.have.length(grown);
        for (const e of shrinks) expect(e).to.include({ code: 0, signal: null });
        expect(pool.stats()).to.include({ state: 'running', shrunk: grown, crashes: 0, startFailures: 0, restarts: 0 });
        expect(log.seen.filter((e) => e.type === 'replaced')).to.deep.equal([]);
        for (const pid of pids) if (!pool.interpreters().some((i) => i.pid === pid)) expect(isAlive(pid)).to.equal(false);
        // And grows again on the next burst.
        await Promise.all(Array.from({ length: 4 }, () => pool.call('calls', 'sleep', [0.1])));
        expect(pool.stats().grown).to.be.greaterThan(grown);
      } finally {
        await pool.stop();
      }
    });
  }

  it('never stops an interpreter with a callback or a stream in flight, however long past idleTimeout; min 0 scales to zero and back', async () => {
    let release: (value: string) => void = () => undefined;
    const held = new Promise<string>((resolve) => (release = resolve));
    const log = recorder();
    const pool = await PythonPool.start({
      size: { min: 0, max: 3 },
      idleTimeout: 200,
      path: fixtures,
      onOutput: false,
      expose: { hold: () => held },
      events: log.events,
    });
    try {
      expect(pool.interpreters()).to.have.length(0);
      // A call waiting on Node (its callback), and a stream held open after one item.
      const waiting = pool.call<string>('callbacks', 'ask', ['hold']);
      await log.next((e) => e.type === 'ready');
      await until(() => pool.interpreters().some((i) => i.busy), 'the call to run');
      const items = pool.stream<number>('streaming', 'numbers', [3])[Symbol.asyncIterator]();
      expect((await items.next()).value).to.equal(0);
      const held2 = pool.interpreters().filter((i) => i.busy).map((i) => i.pid);
      expect(held2).to.have.length(2);
      // A third interpreter serves one quick call, then idles: its shrink proves idleTimeout passed
      // with the shrink running, while the other two, busy all along, stay.
      expect(await pool.call('calls', 'add', [1, 2])).to.equal(3);
      const third = pool.interpreters().find((i) => !held2.includes(i.pid))!.pid;
      const shrunk = await log.next((e) => e.type === 'exited' && e.cause === 'shrink');
      expect(shrunk.type === 'exited' && shrunk.pid).to.equal(third);
      for (const pid of held2) expect(isAlive(pid)).to.equal(true);
      expect(pool.interpreters().map((i) => i.pid).sort()).to.deep.equal([...held2].sort());
      release('held');
      expect(await waiting).to.equal('held');
      const rest: number[] = [];
      for (let r = await items.next(); !r.done; r = await items.next()) rest.push(r.value);
      expect(rest).to.deep.equal([1, 2]);
      // Then all idle: min 0 stops them all; a call brings one back.
      await until(() => pool.stats().size === 0 && pool.interpreters().length === 0 && pool.stats().stopping === 0, 'the pool to scale to zero');
      for (const pid of held2) expect(isAlive(pid)).to.equal(false);
      expect(await pool.call('calls', 'add', [2, 2])).to.equal(4);
      expect(pool.stats()).to.include({ crashes: 0, startFailures: 0, restarts: 0 });
    } finally {
      release('late');
      await pool.stop();
    }
  });

  it('resize(): up at once; down stops idle interpreters now and busy ones once their calls return (none lost); bad sizes throw', async () => {
    const log = recorder();
    const pool = await PythonPool.start({ size: 2, path: fixtures, onOutput: false, events: log.events });
    try {
      await pool.resize(4);
      expect(pool.interpreters()).to.have.length(4);
      expect(pool.stats()).to.include({ size: 4, minimum: 4 });
      const calls = Array.from({ length: 3 }, (_, i) => pool.call('calls', 'sleep', [0.4, i]));
      await until(() => pool.interpreters().filter((i) => i.busy).length === 3, 'three calls to run');
      const busy = pool.interpreters().filter((i) => i.busy).map((i) => i.pid);
      const resized = pool.resize({ min: 1, max: 1 });
      // The idle one goes at once; the busy ones finish their calls first.
      expect(await Promise.all(calls)).to.deep.equal([0, 1, 2]);
      await resized;
      expect(pool.interpreters()).to.have.length(1);
      expect(pool.stats()).to.include({ size: 1, stopping: 0 });
      expect(pool.stats().limits).to.deep.equal({ min: 1, max: 1 });
      expect(pool.stats().errors).to.deep.equal({});
      expect(log.seen.filter((e) => e.type === 'exited' && e.cause === 'shrink')).to.have.length(3);
      expect(busy.filter((pid) => isAlive(pid))).to.have.length.at.most(1);
      expect(await pool.call('calls', 'add', [1, 1])).to.equal(2);
      for (const bad of [0, 1.5, { min: 3, max: 2 }, { min: -1, max: 2 }]) {
        await pool.resize(bad as never).then(() => expect.fail(`resize(${JSON.stringify(bad)})`), (e: unknown) => expect(e).to.be.instanceOf(RangeError));
      }
      await pool.resize('2' as never).then(() => expect.fail('resize("2")'), (e: unknown) => expect(e).to.be.instanceOf(TypeError));
    } finally {
      await pool.stop();
    }
    await pool.resize(2).then(() => expect.fail('resize after stop'), (e: unknown) => expect(e).to.be.instanceOf(PoolStoppedError));
  });

  it('a growth that cannot start is a failed start: counted, reported, and toward intensity', async () => {
    const log = recorder();
    const pool = await PythonPool.start({
      size: { min: 1, max: 2 },
      startMethod: 'spawn',
      // Slot 0 starts; any other slot's Python cannot (no standard library there).
      env: (index) => (index === 0 ? {} : { PYTHONHOME: '/nonexistent-piton-test' }),
      supervision: { intensity: 2, backoff: { min: 1, max: 10 } },
      path: fixtures,
      onOutput: false,
      events: log.events,
    });
    const gaveUp = new Promise<void>((resolve) => pool.system.events.on('event', (e) => e.type === 'gave_up' && resolve()));
    try {
      const calls = [pool.call('calls', 'sleep', [0.3, 'a']), pool.call('calls', 'sleep', [0.3, 'b'])];
      const failed = await log.next((e) => e.type === 'exited' && e.cause === 'start_failure');
      expect(failed.worker).to.equal('python-2');
      await gaveUp;
      expect(pool.stats().startFailures).to.be.greaterThan(2);
      await until(() => pool.stats().state === 'failed', 'the pool to give up');
      await Promise.allSettled(calls);
    } finally {
      await pool.stop();
    }
  });

  for (const startMethod of METHODS) {
    it(`${startMethod}: env as a function of the slot's index is applied on every start and restart of that slot`, async () => {
      const pool = await PythonPool.start({ size: 3, startMethod, env: (index) => ({ PITON_SLOT: `slot-${index}` }), path: fixtures, onOutput: false });
      try {
        const slots = () => Promise.all(Array.from({ length: 3 }, () => pool.call<string>('calls', 'getenv_after', ['PITON_SLOT', 0.2])));
        expect((await slots()).sort()).to.deep.equal(['slot-0', 'slot-1', 'slot-2']);
        const victim = pool.interpreters().find((i) => i.worker === 'python-2')!;
        process.kill(victim.pid, 'SIGKILL');
        await until(() => pool.interpreters().some((i) => i.worker === 'python-2' && i.pid !== victim.pid), 'python-2 to be replaced');
        await pool.whenReady();
        expect((await slots()).sort()).to.deep.equal(['slot-0', 'slot-1', 'slot-2']);
      } finally {
        await pool.stop();
      }
    });
  }
});
