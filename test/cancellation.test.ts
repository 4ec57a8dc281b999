import { expect } from 'chai';
import { CallTimeoutError, PythonPool, InterpreterExitedError, type StartMethod } from '@piton/python-bridge';
import { fixtures } from './helpers.js';

/** Resolves once `check()` holds, checked on every event-loop turn (no timers). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Imports the fixture and makes the interpreter's event loop with a first async call. A timeout
 * that fires before a call's task has taken its first step (on a cold interpreter the imports and
 * the loop fall inside the call's time) rightly cancels a task whose body never ran: no `finally`
 * to log, no sync code to kill for. The tests below time out calls that are already running.
 */
async function warm(pool: PythonPool): Promise<void> {
  await pool.call('coroutines', 'noop');
}

/** The fixture's log, once it holds `entry`. */
async function logged(pool: PythonPool, entry: string): Promise<string[]> {
  let log: string[] = [];
  await until(async () => (log = await pool.call<string[]>('coroutines', 'log')).includes(entry));
  return log;
}

for (const startMethod of ['forkserver', 'spawn'] as StartMethod[]) {
  for (const concurrency of [1, 4]) {
    describe(`cancelling an async call: its task, not its interpreter (${startMethod}, concurrency ${concurrency})`, function () {
      let pool: PythonPool;
      const tag = (name: string) => `${name}-${startMethod}-${concurrency}`;

      before(async () => {
        pool = await PythonPool.start({ size: 1, concurrency, path: fixtures, startMethod });
        await warm(pool);
      });

      after(async () => {
        await pool.stop();
      });

      it('a timeout cancels the task (its finally runs, seeing CancelledError); the interpreter serves on', async () => {
        const pid = await pool.call('coroutines', 'pid');
        const error = await pool.call('coroutines', 'guarded_sleep', [tag('timeout'), 60], { timeout: 300 }).catch((e: unknown) => e);
        expect(error).to.be.instanceOf(CallTimeoutError);
        await logged(pool, `${tag('timeout')}:cancelled`);
        expect(await pool.call('coroutines', 'pid')).to.equal(pid);
        expect(pool.stats().restarts).to.equal(0);
        expect(pool.stats().outcomes.timeout).to.equal(1);
      });

      it('an AbortSignal cancels the task with the signal\'s reason; the interpreter serves on', async () => {
        const pid = await pool.call('coroutines', 'pid');
        const controller = new AbortController();
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        const options = { signal: controller.signal, onProgress: () => started() };
        const call = pool.call('coroutines', 'guarded_sleep', [tag('abort'), 60], options).catch((e: unknown) => e);
        await running;
        controller.abort(new Error('no longer wanted'));
        expect(await call).to.have.property('message', 'no longer wanted');
        await logged(pool, `${tag('abort')}:cancelled`);
        expect(await pool.call('coroutines', 'pid')).to.equal(pid);
        expect(pool.stats().restarts).to.equal(0);
      });

      it("a cancelled call's finally may still call back into Node", async () => {
        const local = await PythonPool.start({ size: 1, concurrency, path: fixtures, startMethod, expose: { bye: async (t: string) => `bye ${t}` } });
        try {
          await warm(local);
          const error = await local.call('coroutines', 'tidy_up', ['tidy', 'bye'], { timeout: 300 }).catch((e: unknown) => e);
          expect(error).to.be.instanceOf(CallTimeoutError);
          await logged(local, 'tidy:bye tidy');
          expect(local.stats().restarts).to.equal(0);
        } finally {
          await local.stop();
        }
      });
    });
  }

  describe(`cancelling when the task cannot end: the interpreter goes, each call with its own fate (${startMethod})`, function () {
    it('sync code that times out: its interpreter is killed at once; the calls in flight beside it reject with InterpreterExitedError', async () => {
      const pool = await PythonPool.start({ size: 1, concurrency: 4, path: fixtures, startMethod, shutdownTimeout: 200 });
      try {
        const pid = await pool.call('coroutines', 'pid');
        await warm(pool);
        const beside = [0, 1].map(() => pool.call('coroutines', 'sleep', [60]).catch((e: unknown) => e));
        const retried = pool.call('coroutines', 'sleep', [60], { retries: 1 }).catch((e: unknown) => e);
        const error = await pool.call('coroutines', 'sync_sleep', ['sync', 60], { timeout: 300 }).catch((e: unknown) => e);
        expect(error).to.be.instanceOf(CallTimeoutError);
        for (const other of await Promise.all(beside)) expect(other).to.be.instanceOf(InterpreterExitedError);
        await pool.whenReady();
        expect(await pool.call('coroutines', 'pid')).to.not.equal(pid);
        expect(pool.stats().restartsByCause.timeout).to.equal(1);
        // The call that asked for a retry runs again, on the replacement.
        await until(() => pool.interpreters()[0]?.inFlight === 1);
        await pool.stop();
        // It was running again when the pool stopped: it rejects for that, not for the kill.
        expect(await retried).to.be.instanceOf(InterpreterExitedError);
        expect((await retried as InterpreterExitedError).message).to.not.include(String(pid));
      } finally {
        await pool.stop();
      }
    });

    for (const [name, fn] of [
      ['a task that ignores CancelledError', 'stubborn'],
      ['a coroutine that holds the loop with sync code', 'hog'],
    ] as const) {
      it(`${name}: killed once cancelGrace has passed, and the others reject with InterpreterExitedError`, async () => {
        const pool = await PythonPool.start({ size: 1, concurrency: 4, cancelGrace: 500, path: fixtures, startMethod });
        try {
          const pid = await pool.call('coroutines', 'pid');
          await warm(pool);
          const beside = pool.call('coroutines', 'sleep', [60]).catch((e: unknown) => e);
          const started = Date.now();
          const call = pool.call('coroutines', fn, [name, 60], { timeout: 300 }).catch((e: unknown) => e);
          expect(await call).to.be.instanceOf(CallTimeoutError);
          expect(await beside).to.be.instanceOf(InterpreterExitedError);
          expect(Date.now() - started, 'the kill waited for cancelGrace').to.be.at.least(300 + 500);
          await pool.whenReady();
          expect(await pool.call('coroutines', 'pid')).to.not.equal(pid);
          expect(pool.stats().restartsByCause.timeout).to.equal(1);
        } finally {
          await pool.stop();
        }
      });
    }

    it('an abort while an async generator is pulled cancels the pull (its finally runs); the interpreter serves on', async () => {
      const pool = await PythonPool.start({ size: 1, concurrency: 2, path: fixtures, startMethod });
      try {
        const pid = await pool.call('coroutines', 'pid');
        const controller = new AbortController();
        const seen: number[] = [];
        const ended = (async () => {
          for await (const item of pool.stream<number>('coroutines', 'guarded_numbers', ['pulled', 100, 30], { signal: controller.signal })) {
            seen.push(item);
          }
        })().catch((e: unknown) => e);
        await logged(pool, 'pulled:start');
        controller.abort(new Error('stop pulling'));
        expect(await ended).to.have.property('message', 'stop pulling');
        await logged(pool, 'pulled:finally');
        expect(await pool.call('coroutines', 'pid')).to.equal(pid);
        expect(pool.stats().restarts).to.equal(0);
        await until(() => pool.interpreters()[0]!.inFlight === 0);
      } finally {
        await pool.stop();
      }
    });
  });
}

describe('cancelGrace: options', () => {
  it('refuses bad values before anything starts', async () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(await PythonPool.start({ cancelGrace: bad, path: fixtures }).catch((e: unknown) => e), String(bad)).to.be.instanceOf(RangeError);
    }
    expect(await PythonPool.start({ cancelGrace: '1' as never, path: fixtures }).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
  });
});
