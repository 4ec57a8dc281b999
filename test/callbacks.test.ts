import { expect } from 'chai';
import {
  CallTimeoutError,
  EncodeError,
  PythonError,
  PythonPool,
  ReentrantCallError,
  InterpreterExitedError,
  pythonPool,
} from '@piton/python-bridge';
import { ActorSystem, supervisor } from '@piton/core';
import { fixtures } from './helpers.js';
import { until } from './support.js';

/** A promise the test settles by hand: a Node function that is still running when it wants. */
function gate<T = unknown>(): { promise: Promise<T>; open(value: T): void; entered: Promise<void>; enter(): void } {
  let open!: (value: T) => void;
  let enter!: () => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  return { promise, open, entered, enter };
}

describe('PythonPool: Python calls back into Node', () => {
  describe('expose and node.call, with default options', () => {
    let pool: PythonPool;
    const seen: unknown[][] = [];

    before(async () => {
      pool = await PythonPool.start({
        path: fixtures,
        expose: {
          lookup: async (key: string) => ({ key, value: `value of ${key}` }),
          record: (...args: unknown[]) => {
            seen.push(args);
            return args.length;
          },
          double: (n: number) => n * 2,
          scale: (values: Float64Array) => values.map((v) => v * 10),
          fails: () => {
            throw new RangeError('out of range on purpose');
          },
          rejects: async () => Promise.reject(new TypeError('rejected on purpose')),
          throwsString: () => {
            throw 'a string'; // eslint-disable-line no-throw-literal
          },
          unsendable: () => () => 1,
        },
      });
    });

    after(() => pool.stop());

    it('runs the exposed function and returns its awaited result to Python', async () => {
      expect(await pool.call('callbacks', 'ask', ['lookup', 'user:1'])).to.deep.equal({ key: 'user:1', value: 'value of user:1' });
    });

    it('passes keyword arguments as one last plain object, and none when there are none', async () => {
      seen.length = 0;
      expect(await pool.call('callbacks', 'ask', ['record', 1, 'two'], { kwargs: { limit: 3 } })).to.equal(3);
      expect(await pool.call('callbacks', 'ask', ['record', 1])).to.equal(1);
      expect(seen).to.deep.equal([[1, 'two', { limit: 3 }], [1]]);
    });

    it('carries arrays both ways as arrays', async () => {
      const out = await pool.call('callbacks', 'scaled', ['scale', 4]);
      expect(out).to.deep.equal({ type: 'ndarray', dtype: 'float64', sum: 60, owndata: false });
    });

    it('runs several callbacks in one call, in order', async () => {
      expect(await pool.call('callbacks', 'twice', ['double'])).to.deep.equal([2, 4]);
    });

    it('raises NodeError in Python with the JavaScript name and message, thrown or rejected', async () => {
      const thrown = await pool.call<Record<string, string>>('callbacks', 'caught', ['fails']);
      expect(thrown).to.include({ type: 'NodeError', name: 'RangeError', message: 'out of range on purpose' });
      expect(thrown.str).to.equal('RangeError: out of range on purpose');
      expect(thrown.stack).to.contain('out of range on purpose');
      const rejected = await pool.call<Record<string, string>>('callbacks', 'caught', ['rejects']);
      expect(rejected).to.include({ type: 'NodeError', name: 'TypeError', message: 'rejected on purpose' });
      const odd = await pool.call<Record<string, string>>('callbacks', 'caught', ['throwsString']);
      expect(odd).to.include({ type: 'NodeError', name: 'Error' });
      expect(odd.message).to.contain('a string');
    });

    it('a NodeError that Python does not catch rejects the call with PythonError NodeError', async () => {
      const error = await pool.call('callbacks', 'raises_node_error', ['fails']).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PythonError);
      expect((error as PythonError).pythonType).to.equal('NodeError');
      expect((error as PythonError).message).to.equal('RangeError: out of range on purpose');
    });

    it('a result calls cannot carry raises NodeError naming why', async () => {
      const error = await pool.call<Record<string, string>>('callbacks', 'caught', ['unsendable']);
      expect(error).to.include({ type: 'NodeError', name: 'EncodeError' });
      expect(error.message).to.contain('function');
      expect(await pool.call('callbacks', 'ask', ['double', 21])).to.equal(42);
    });

    it('a name that is not exposed raises at once, naming it and the exposed ones', async () => {
      const error = await pool.call<Record<string, string>>('callbacks', 'caught', ['nope']);
      expect(error.type).to.equal('NotExposedError');
      expect(error.str).to.contain("'nope'").and.contain('double, fails, lookup');
    });

    it('Python learns the exposed names in the handshake', async () => {
      expect(await pool.call('callbacks', 'exposed')).to.deep.equal([
        'double', 'fails', 'lookup', 'record', 'rejects', 'scale', 'throwsString', 'unsendable',
      ]);
    });

    it('a generator may call back while a stream pulls it', async () => {
      const items: unknown[] = [];
      for await (const item of pool.stream('callbacks', 'numbers', [4])) items.push(item);
      expect(items).to.deep.equal([0, 2, 4, 6]);
    });

    it('a pool without expose: node.call raises NotExposedError, nothing runs', async () => {
      const plain = await PythonPool.start({ size: 1, path: fixtures });
      try {
        const error = await plain.call<Record<string, string>>('callbacks', 'caught', ['lookup']);
        expect(error.type).to.equal('NotExposedError');
        expect(error.str).to.contain('(exposed: none)');
      } finally {
        await plain.stop();
      }
    });
  });

  describe('progress', () => {
    let pool: PythonPool;

    before(async () => {
      pool = await PythonPool.start({ path: fixtures, expose: { double: (n: number) => n * 2 } });
    });

    after(() => pool.stop());

    it('reaches onProgress in order, every value before the call settles', async () => {
      const events: unknown[] = [];
      const result = pool.call('callbacks', 'count', [5], { onProgress: (p) => events.push(p) }).then((r) => {
        events.push('settled');
        return r;
      });
      expect(await result).to.equal(5);
      expect(events).to.deep.equal([
        { done: 1, of: 5 }, { done: 2, of: 5 }, { done: 3, of: 5 }, { done: 4, of: 5 }, { done: 5, of: 5 }, 'settled',
      ]);
    });

    it('interleaves with callbacks', async () => {
      const events: unknown[] = [];
      expect(await pool.call('callbacks', 'mixed', [4], { onProgress: (p) => events.push(p) })).to.equal(12);
      expect(events).to.deep.equal([0, 2, 6, 12]);
    });

    it('without onProgress, progress() returns and the call goes on', async () => {
      expect(await pool.call('callbacks', 'count', [1000])).to.equal(1000);
    });

    it('an onProgress that throws rejects the call with its error once Python returns; the interpreter stays', async () => {
      const pids = pool.interpreters().map((i) => i.pid).sort();
      const seen: unknown[] = [];
      const error = await pool
        .call('callbacks', 'count', [3], {
          onProgress: (p) => {
            seen.push(p);
            throw new Error('listener broke');
          },
        })
        .catch((e: unknown) => e);
      expect((error as Error).message).to.equal('listener broke');
      expect(seen).to.have.length(1); // no more values for a listener that threw
      expect(pool.interpreters().map((i) => i.pid).sort()).to.deep.equal(pids);
      expect(await pool.call('callbacks', 'echo', ['after'])).to.equal('after');
    });

    it('refuses an onProgress that is not a function, and unknown call options', async () => {
      const notFn = await pool.call('callbacks', 'echo', [1], { onProgress: 5 as never }).catch((e: unknown) => e);
      expect(notFn).to.be.instanceOf(TypeError).with.property('message').that.contains('options.onProgress must be a function');
      const typo = await pool.call('callbacks', 'echo', [1], { onprogress: () => {} } as never).catch((e: unknown) => e);
      expect(typo).to.be.instanceOf(TypeError).with.property('message').that.contains('options.onprogress is not an option');
    });
  });

  describe('under failure', () => {
    it('a timeout covers the time spent in a callback; the late result is dropped and the pool serves on', async () => {
      const slow = gate<string>();
      const pool = await PythonPool.start({
        size: 1,
        path: fixtures,
        expose: { slow: () => (slow.enter(), slow.promise), double: (n: number) => n * 2 },
      });
      try {
        const call = pool.call('callbacks', 'ask', ['slow'], { timeout: 1_000 }).catch((e: unknown) => e);
        await slow.entered;
        expect(await call).to.be.instanceOf(CallTimeoutError);
        // Sync code waiting on Node cannot be cancelled: its interpreter is killed, once the
        // control lane has said so, a moment after the call rejected. The callback's result is
        // given only then: given earlier, it could let the Python call return before the control
        // lane answers, and a call that has ended needs no kill.
        await until(() => pool.stats().restarts === 1, 'the interpreter to be replaced');
        slow.open('too late');
        await pool.whenReady();
        expect(await pool.call('callbacks', 'ask', ['double', 4])).to.equal(8);
        expect(pool.stats().restarts).to.equal(1);
      } finally {
        await pool.stop();
      }
    });

    it('an AbortSignal covers the time spent in a callback', async () => {
      const slow = gate<string>();
      const pool = await PythonPool.start({ size: 1, path: fixtures, expose: { slow: () => (slow.enter(), slow.promise) } });
      try {
        const controller = new AbortController();
        const call = pool.call('callbacks', 'ask', ['slow'], { signal: controller.signal }).catch((e: unknown) => e);
        await slow.entered;
        controller.abort(new Error('no longer wanted'));
        expect(await call).to.have.property('message', 'no longer wanted');
        slow.open('too late');
        await pool.whenReady();
        expect(await pool.call('callbacks', 'echo', [1])).to.equal(1);
      } finally {
        await pool.stop();
      }
    });

    it('an interpreter that dies while a callback runs: the call rejects with InterpreterExitedError, the result is dropped', async () => {
      const slow = gate<string>();
      const pool = await PythonPool.start({
        size: 1,
        path: fixtures,
        expose: {
          killMe: (pid: number) => {
            process.kill(pid, 'SIGKILL');
            slow.enter();
            return slow.promise;
          },
        },
      });
      try {
        const error = await pool.call('callbacks', 'ask_with_pid', ['killMe']).catch((e: unknown) => e);
        expect(error).to.be.instanceOf(InterpreterExitedError);
        expect((error as InterpreterExitedError).signal).to.equal('SIGKILL');
        slow.open('nobody listens');
        await pool.whenReady();
        expect(await pool.call('callbacks', 'echo', ['served'])).to.equal('served');
      } finally {
        await pool.stop();
      }
    });
  });

  describe('stopping', () => {
    it('stop() gives a call waiting on its callback shutdownTimeout, then kills it; nothing is left running', async function () {
      this.timeout(20_000);
      const never = gate<never>();
      const pool = await PythonPool.start({ size: 1, path: fixtures, expose: { never: () => (never.enter(), never.promise) } });
      const call = pool.call('callbacks', 'ask', ['never']).catch((e: unknown) => e);
      await never.entered;
      await pool.stop(); // resolves although the function never returns
      expect(await call).to.be.instanceOf(InterpreterExitedError);
      expect(pool.interpreters()).to.deep.equal([]);
    });
  });

  describe('values Python cannot send', () => {
    it('an argument node.call cannot encode raises EncodeError in Python; nothing reaches Node', async () => {
      let called = false;
      const pool = await PythonPool.start({ size: 1, path: fixtures, expose: { record: () => (called = true) } });
      try {
        const error = await pool.call('callbacks', 'ask_with_set', ['record']).catch((e: unknown) => e);
        // One class per condition, whichever side found it (README, errors): Python's EncodeError
        // arrives as Node's, with origin 'python'.
        expect(error).to.be.instanceOf(EncodeError);
        expect((error as EncodeError).origin).to.equal('python');
        expect((error as EncodeError).pythonType).to.equal('EncodeError');
        expect((error as EncodeError).message).to.contain('set');
        expect(called).to.equal(false);
        expect(await pool.call('callbacks', 'echo', ['in step'])).to.equal('in step');
      } finally {
        await pool.stop();
      }
    });
  });

  describe('a callback that calls its own pool', () => {
    it('is refused with ReentrantCallError on a pool of 1 instead of deadlocking, and the call goes on', async () => {
      let pool!: PythonPool;
      pool = await PythonPool.start({
        size: 1,
        path: fixtures,
        expose: {
          again: async () => {
            const error = await pool.call('callbacks', 'echo', [1]).catch((e: unknown) => e);
            return error instanceof ReentrantCallError ? `refused: ${error.message}` : 'not refused';
          },
          streamAgain: async () => {
            try {
              for await (const _ of pool.stream('callbacks', 'numbers', [1])) return 'not refused';
            } catch (error) {
              return error instanceof ReentrantCallError ? 'refused' : `other: ${String(error)}`;
            }
            return 'empty';
          },
          later: () => {
            // Started by the callback but not awaited: refused too, since it inherits the scope.
            const late = pool.call('callbacks', 'echo', [1]);
            return late.then(
              () => 'not refused',
              (e: unknown) => (e instanceof ReentrantCallError ? 'refused' : 'other'),
            );
          },
        },
      });
      try {
        const answer = await pool.call<string>('callbacks', 'ask', ['again']);
        expect(answer).to.match(/^refused: the call to callbacks\.echo was made to the pool .* from inside a function it exposes/);
        expect(await pool.call('callbacks', 'ask', ['streamAgain'])).to.equal('refused');
        expect(await pool.call('callbacks', 'ask', ['later'])).to.equal('refused');
        // Outside a callback the pool is called as ever.
        expect(await pool.call('callbacks', 'echo', ['outside'])).to.equal('outside');
      } finally {
        await pool.stop();
      }
    });

    it('another pool may be called from a callback, and a chain back to the first is refused', async () => {
      let first!: PythonPool;
      const second = await PythonPool.start({
        size: 1,
        path: fixtures,
        expose: {
          toFirst: () => first.call('callbacks', 'echo', ['back']).then(
            () => 'not refused',
            (e: unknown) => (e instanceof ReentrantCallError ? 'refused' : `other: ${String(e)}`),
          ),
        },
      });
      first = await PythonPool.start({
        size: 1,
        path: fixtures,
        expose: {
          viaSecond: (value: unknown) => second.call('callbacks', 'echo', [value]),
          chain: () => second.call('callbacks', 'ask', ['toFirst']),
        },
      });
      try {
        expect(await first.call('callbacks', 'ask', ['viaSecond', 'hop'])).to.equal('hop');
        expect(await first.call('callbacks', 'ask', ['chain'])).to.equal('refused');
      } finally {
        await Promise.all([first.stop(), second.stop()]);
      }
    });

    it('holds for a pool in a supervision tree too', async () => {
      const system = new ActorSystem({ name: 'callbacks-tree' });
      try {
        let py!: { call(m: string, f: string, a?: unknown[]): Promise<unknown> };
        await system.start(
          supervisor({
            children: [
              {
                id: 'py',
                type: 'supervisor',
                name: 'py-callbacks',
                start: pythonPool({
                  size: 1,
                  path: fixtures,
                  expose: { again: () => py.call('callbacks', 'echo', [1]).catch((e: unknown) => (e as Error).name) },
                }),
              },
            ],
          }),
        );
        py = system.whereis('py-callbacks') as unknown as typeof py;
        expect(await py.call('callbacks', 'ask', ['again'])).to.equal('ReentrantCallError');
      } finally {
        await system.stop();
      }
    });
  });

  describe('batching', () => {
    it('a pool that exposes functions runs queued short calls alone, so none waits on another call\'s callback', async () => {
      const held = gate<string>();
      const pool = await PythonPool.start({ size: 1, path: fixtures, supervision: { backoff: false }, expose: { hold: () => (held.enter(), held.promise) } });
      try {
        for (let i = 0; i < 20; i++) await pool.call('callbacks', 'maybe_die', [false, i]);
        const blocker = pool.call('callbacks', 'ask', ['hold']);
        await held.entered;
        const calls = Array.from({ length: 5 }, (_, i) => pool.call('callbacks', 'maybe_die', [i === 2, i]).catch((e: unknown) => e));
        held.open('released');
        expect(await blocker).to.equal('released');
        const outcomes = await Promise.all(calls);
        // Each ran in its own round trip: only the call that killed its interpreter failed.
        expect(outcomes.slice(0, 2)).to.deep.equal([0, 1]);
        expect(outcomes[2]).to.be.instanceOf(InterpreterExitedError);
        expect(outcomes.slice(3)).to.deep.equal([3, 4]);
      } finally {
        await pool.stop();
      }
    });

    it('a call with onProgress is never batched with others', async () => {
      // Any timed function counts as short here: what is checked is that onProgress opts out.
      const pool = await PythonPool.start({ size: 1, path: fixtures, supervision: { backoff: false }, batchCallsUnderMs: 60_000 });
      try {
        await pool.call('callbacks', 'maybe_die', [false, 0]);
        await pool.call('callbacks', 'echo', [0]);
        const blocker = pool.call('callbacks', 'echo', ['blocker']);
        const before = pool.call('callbacks', 'echo', ['before']);
        const listened = pool.call('callbacks', 'maybe_die', [true, 'x'], { onProgress: () => {} }).catch((e: unknown) => e);
        const after = pool.call('callbacks', 'echo', ['after']);
        expect(await blocker).to.equal('blocker');
        expect(await before).to.equal('before');
        expect(await listened).to.be.instanceOf(InterpreterExitedError);
        expect(await after).to.equal('after');
      } finally {
        await pool.stop();
      }
    });
  });

  describe('options', () => {
    it('refuses expose that is not an object of functions, naming the field', async () => {
      const notObject = await PythonPool.start({ path: fixtures, expose: [] as never }).catch((e: unknown) => e);
      expect(notObject).to.be.instanceOf(TypeError).with.property('message').that.contains('options.expose must be an object of functions');
      const notFn = await PythonPool.start({ path: fixtures, expose: { lookup: 'x' as never } }).catch((e: unknown) => e);
      expect(notFn).to.be.instanceOf(TypeError).with.property('message').that.contains('options.expose.lookup must be a function');
    });

    it('refuses batchCallsUnderMs together with expose', async () => {
      const error = await PythonPool.start({ path: fixtures, expose: { f: () => 1 }, batchCallsUnderMs: 5 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(RangeError).with.property('message').that.contains('cannot be used with options.expose');
    });

    it('refuses an unknown option name', async () => {
      const error = await PythonPool.start({ path: fixtures, exposed: {} } as never).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TypeError).with.property('message').that.contains('options.exposed is not an option');
    });
  });
});
