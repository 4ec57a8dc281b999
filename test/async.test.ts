import { expect } from 'chai';
import { PythonError, PythonPool, type StartMethod } from '@piton/python-bridge';
import { fixtures } from './helpers.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** The frames of a Python traceback, as "file:function" (line numbers differ between functions). */
function framesOf(traceback: string): string[] {
  return [...traceback.matchAll(/File "[^"]*\/([^/"]+)", line \d+, in (\S+)/g)].map((m) => `${m[1]}:${m[2]}`);
}

for (const startMethod of ['forkserver', 'spawn'] as StartMethod[]) {
  describe(`async def functions and async generators (concurrency 1, ${startMethod})`, function () {
    let pool: PythonPool;

    before(async () => {
      pool = await PythonPool.start({ size: 1, path: fixtures, startMethod, expose: { echo: async (value: unknown) => value } });
    });

    after(async () => {
      await pool.stop();
    });

    it('awaits a coroutine function and returns its result, with kwargs too', async () => {
      expect(await pool.call('coroutines', 'add', [2, 3])).to.equal(5);
      expect(await pool.call('coroutines', 'add', [2], { kwargs: { b: 40 } })).to.equal(42);
      expect(await pool.call('coroutines', 'noop', [{ a: [1n << 70n] }])).to.deep.equal({ a: [1n << 70n] });
    });

    it("rejects with the same PythonError a sync function's exception gives, traceback from the user's code", async () => {
      const [asyncError, syncError] = await Promise.all([
        pool.call('coroutines', 'fail', ['boom']).catch((e: unknown) => e),
        pool.call('coroutines', 'sync_fail', ['boom']).catch((e: unknown) => e),
      ]);
      for (const error of [asyncError, syncError]) {
        expect(error).to.be.instanceOf(PythonError);
        expect((error as PythonError).pythonType).to.equal('ValueError');
        expect((error as PythonError).message).to.include('boom');
      }
      expect(framesOf((asyncError as PythonError).pythonTraceback)).to.deep.equal(['coroutines.py:fail']);
      expect(framesOf((syncError as PythonError).pythonTraceback)).to.deep.equal(['coroutines.py:sync_fail']);
    });

    it('a sync function that runs asyncio.run() itself keeps working', async () => {
      expect(await pool.call('coroutines', 'add', [1])).to.equal(1); // the interpreter's loop exists now
      expect(await pool.call('coroutines', 'runs_its_own_loop', ['own'])).to.equal('own');
    });

    it('streams an async generator, pulled in batches', async () => {
      for (const batch of [1, 3, 100]) {
        expect(await collect(pool.stream('coroutines', 'numbers', [7], { batch })), `batch ${batch}`).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
      }
    });

    it('break closes an async generator (its finally runs) and frees the interpreter', async () => {
      const tag = `break-${startMethod}`;
      const seen: number[] = [];
      for await (const item of pool.stream<number>('coroutines', 'guarded_numbers', [tag, 1000])) {
        seen.push(item);
        if (item === 2) break;
      }
      expect(seen).to.deep.equal([0, 1, 2]);
      expect((await pool.call<string[]>('coroutines', 'log')).slice(-2)).to.deep.equal([`${tag}:start`, `${tag}:finally`]);
    });

    it('an abort between pulls closes the async generator; the interpreter stays', async () => {
      const tag = `abort-${startMethod}`;
      const pid = await pool.call('coroutines', 'pid');
      const controller = new AbortController();
      const pulled: number[] = [];
      const error = await (async () => {
        for await (const item of pool.stream<number>('coroutines', 'guarded_numbers', [tag, 1000], { signal: controller.signal })) {
          pulled.push(item);
          if (item === 1) controller.abort(new Error('enough'));
        }
      })().catch((e: unknown) => e);
      expect((error as Error).message).to.equal('enough');
      expect((await pool.call<string[]>('coroutines', 'log')).slice(-2)).to.deep.equal([`${tag}:start`, `${tag}:finally`]);
      expect(await pool.call('coroutines', 'pid')).to.equal(pid);
    });

    it('node.acall asks Node without blocking the loop; node.call from a coroutine works too', async () => {
      expect(await pool.call('coroutines', 'ask', ['echo', 'hi'])).to.deep.equal(['hi', 'hi']);
      expect(await pool.call('coroutines', 'ask_blocking', ['echo', 7])).to.equal(7);
      expect(await collect(pool.stream('coroutines', 'ask_while_streaming', ['echo', 3]))).to.deep.equal([0, 1, 2]);
    });

    it('await aprogress reaches onProgress in order before the call settles', async () => {
      const seen: unknown[] = [];
      expect(await pool.call('coroutines', 'report', [4], { onProgress: (v) => seen.push(v) })).to.equal(4);
      expect(seen).to.deep.equal([0, 1, 2, 3]);
      expect(await pool.call('coroutines', 'report', [2])).to.equal(2); // nobody listens: nothing is sent
    });
  });
}
