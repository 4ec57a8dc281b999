import { expect } from 'chai';
import { CallTimeoutError, PythonPool, InterpreterExitedError } from '@piton/python-bridge';
import { fixtures, isAlive } from './helpers.js';
import { until } from './support.js';

/** Resolves when `pool` has started a replacement for the interpreter `pid`. */
async function replaced(pool: PythonPool, pid: number): Promise<void> {
  for (;;) {
    await pool.whenReady();
    if (!pool.interpreters().some((i) => i.pid === pid)) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('PythonPool: an interpreter that dies or hangs', () => {
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'], supervision: { intensity: 20 } });
  });

  afterEach(() => pool.stop());

  for (const [what, fn, check] of [
    ['is SIGKILLed from outside', 'sleep', (e: InterpreterExitedError) => expect(e.signal).to.equal('SIGKILL')],
    ['calls os._exit(3)', 'exit_hard', (e: InterpreterExitedError) => expect(e.exitCode).to.equal(3)],
    ['segfaults', 'segfault', (e: InterpreterExitedError) => expect(e.signal).to.equal('SIGSEGV')],
  ] as const) {
    it(`rejects the call with InterpreterExitedError when the interpreter ${what}, and replaces it`, async () => {
      const args = fn === 'sleep' ? [30] : fn === 'exit_hard' ? [3] : [];
      const pids = pool.interpreters().map((i) => i.pid);
      const call = pool.call('calls', fn, args).catch((e: unknown) => e);
      if (fn === 'sleep') {
        await eventuallyBusy(pool);
        const busy = pool.interpreters().find((i) => i.busy)!;
        process.kill(busy.pid, 'SIGKILL');
      }
      const error = await call;
      expect(error).to.be.instanceOf(InterpreterExitedError);
      check(error as InterpreterExitedError);
      await pool.whenReady();
      await eventuallyReplaced(pool, pids);
      expect(pool.stats().restarts).to.equal(1);
      expect(await pool.call('calls', 'echo', ['still serving'])).to.equal('still serving');
    });
  }

  it('hands queued calls to the remaining interpreters: none lost, none answered twice', async () => {
    const busy = pool.call('calls', 'sleep', [30]).catch((e: unknown) => e);
    await eventuallyBusy(pool);
    const doomed = pool.interpreters().find((i) => i.busy)!;
    const settled = new Map<number, number>();
    const calls = Array.from({ length: 50 }, (_, i) =>
      pool.call<number>('calls', 'echo', [i]).then((v) => settled.set(i, (settled.get(i) ?? 0) + v - i + 1)),
    );
    process.kill(doomed.pid, 'SIGKILL');
    expect(await busy).to.be.instanceOf(InterpreterExitedError);
    await Promise.all(calls);
    expect(settled.size).to.equal(50);
    for (const [, times] of settled) expect(times).to.equal(1);
    await replaced(pool, doomed.pid);
  });

  it('times out a call, kills its interpreter even when it ignores SIGTERM, and replaces it', async () => {
    const error = await pool.call('calls', 'stuck', [], { timeout: 300 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CallTimeoutError);
    expect((error as CallTimeoutError).timeout).to.equal(300);
    await pool.whenReady();
    expect(await pool.call('calls', 'echo', [7])).to.equal(7);
  });

  it('applies the pool-wide callTimeout unless the call sets its own', async () => {
    const strict = await PythonPool.start({ size: 1, path: fixtures, callTimeout: 200 });
    try {
      const error = await strict.call('calls', 'sleep', [5]).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(CallTimeoutError);
      await strict.whenReady();
      expect(await strict.call('calls', 'sleep', [0.3, 'patient'], { timeout: 5_000 })).to.equal('patient');
    } finally {
      await strict.stop();
    }
  });

  it('removes an aborted queued call without touching any interpreter', async () => {
    const single = await PythonPool.start({ size: 1, path: fixtures });
    try {
      const pid = single.interpreters()[0]!.pid;
      const running = single.call('calls', 'sleep', [0.3, 'done']);
      const controller = new AbortController();
      const queued = single.call('calls', 'echo', [1], { signal: controller.signal }).catch((e: unknown) => e);
      controller.abort(new Error('caller gave up'));
      expect(String(await queued)).to.contain('caller gave up');
      expect(await running).to.equal('done');
      expect(single.interpreters()[0]!.pid).to.equal(pid);
      expect(single.stats().queued).to.equal(0);
    } finally {
      await single.stop();
    }
  });

  it('kills and replaces the interpreter of an aborted running call', async () => {
    const controller = new AbortController();
    const call = pool.call('calls', 'stuck', [], { signal: controller.signal }).catch((e: unknown) => e);
    await eventuallyBusy(pool);
    const victim = pool.interpreters().find((i) => i.busy)!.pid;
    controller.abort(new Error('no longer needed'));
    expect(String(await call)).to.contain('no longer needed');
    await replaced(pool, victim);
    expect(isAlive(victim)).to.equal(false);
  });

  it('retries a call whose interpreter died when asked to, never one that raised', async () => {
    // kill_self dies on every attempt: with retries: 2 it runs three times, then rejects.
    const before = pool.stats().restarts;
    const error = await pool.call('calls', 'kill_self', [], { retries: 2 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InterpreterExitedError);
    await pool.whenReady();
    await eventuallyRestarts(pool, before + 3);
    const raised = await pool.call('calls', 'fail', ['once'], { retries: 5 }).catch((e: unknown) => e);
    expect((raised as Error).message).to.equal('once');
  });
});

function eventuallyBusy(pool: PythonPool): Promise<void> {
  return until(() => pool.interpreters().some((i) => i.busy), 'an interpreter to be busy', 5_000);
}

function eventuallyReplaced(pool: PythonPool, oldPids: number[]): Promise<void> {
  const replaced = () => pool.interpreters().filter((i) => !oldPids.includes(i.pid)).length >= 1 && pool.interpreters().length >= 2;
  return until(replaced, 'a replacement interpreter');
}

function eventuallyRestarts(pool: PythonPool, count: number): Promise<void> {
  return until(() => pool.stats().restarts >= count, `${count} restarts (saw ${pool.stats().restarts} when it began)`);
}
