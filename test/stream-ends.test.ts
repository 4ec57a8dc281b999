import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CallTimeoutError, PythonPool } from '@piton/python-bridge';
import { fixtures } from './helpers.js';
import { rejection, until } from './support.js';

// A stream holds its interpreter while it is open: aborting it or leaving it must give it back.
describe('pool.stream: ending a stream from outside', () => {
  let scratch: string;
  let n = 0;
  const marker = () => join(scratch, `marker-${++n}`);

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'piton-stream-ends-'));
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  describe('with the default options', () => {
    let pool: PythonPool;

    before(async () => {
      pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['fates'] });
    });

    after(() => pool.stop());

    it('aborting the signal during a pull rejects it at once with the reason and replaces the interpreter', async () => {
      const controller = new AbortController();
      const closed = marker();
      const iterator = pool.stream('fates', 'slow_after_first', [60, closed], { signal: controller.signal })[Symbol.asyncIterator]();
      expect((await iterator.next()).value).to.equal(0);
      const pid = pool.interpreters()[0]!.pid;
      const pull = iterator.next();
      await until(() => existsSync(`${closed}.started`), 'the generator sleeps in its second pull');
      const reason = new Error('enough');
      controller.abort(reason);
      // The pull would take 60 s: the test's own timeout is what "at once" is held to.
      expect(await rejection(pull)).to.equal(reason);
      await pool.whenReady();
      expect(await pool.call('fates', 'echo', ['after'])).to.equal('after');
      expect(pool.interpreters()[0]!.pid).to.not.equal(pid);
      expect(await iterator.next()).to.deep.equal({ done: true, value: undefined });
    });

    it('aborting the signal between pulls closes the generator and frees the interpreter for the next call', async () => {
      const controller = new AbortController();
      const closed = marker();
      const iterator = pool.stream('fates', 'marked', [closed, 100], { signal: controller.signal })[Symbol.asyncIterator]();
      expect((await iterator.next()).value).to.equal(0);
      const pid = pool.interpreters()[0]!.pid;
      const reason = new Error('no more');
      controller.abort(reason);
      expect(await rejection(iterator.next())).to.equal(reason);
      expect(await pool.call('fates', 'echo', ['after'])).to.equal('after');
      expect(existsSync(closed), "the generator's finally ran").to.equal(true);
      expect(pool.interpreters()[0]!.pid).to.equal(pid);
    });

    it('a stream whose signal is already aborted rejects at its first pull and holds nothing', async () => {
      const reason = new Error('too late');
      const iterator = pool.stream('fates', 'marked', [marker(), 3], { signal: AbortSignal.abort(reason) })[Symbol.asyncIterator]();
      expect(await rejection(iterator.next())).to.equal(reason);
      expect(await pool.call('fates', 'echo', ['after'])).to.equal('after');
    });
  });

  describe('an iterator dropped without break or return()', () => {
    it('gives its interpreter back after streamIdleTimeout; a later pull rejects with CallTimeoutError', async () => {
      const pool = await PythonPool.start({ size: 1, path: fixtures, streamIdleTimeout: 200 });
      try {
        const closed = marker();
        const dropped = pool.stream('fates', 'marked', [closed, 100])[Symbol.asyncIterator]();
        expect((await dropped.next()).value).to.equal(0);
        // The only interpreter is held by the dropped stream until its idle timeout closes it.
        expect(await pool.call('fates', 'echo', ['after'])).to.equal('after');
        expect(existsSync(closed), "the generator's finally ran").to.equal(true);
        const error = await rejection(dropped.next());
        expect(error).to.be.instanceOf(CallTimeoutError);
        expect((error as Error).message).to.match(/not pulled for 200 ms/);
      } finally {
        await pool.stop();
      }
    });

    it('a stream\'s own idleTimeout overrides the pool\'s', async () => {
      const pool = await PythonPool.start({ size: 1, path: fixtures });
      try {
        const dropped = pool.stream('fates', 'marked', [marker(), 100], { idleTimeout: 100 })[Symbol.asyncIterator]();
        expect((await dropped.next()).value).to.equal(0);
        expect(await pool.call('fates', 'echo', ['after'])).to.equal('after');
        expect(await rejection(dropped.next())).to.be.instanceOf(CallTimeoutError);
      } finally {
        await pool.stop();
      }
    });

    it('a stream pulled more often than its idle timeout is never cut', async () => {
      const pool = await PythonPool.start({ size: 1, path: fixtures, streamIdleTimeout: 1_000 });
      try {
        const items: number[] = [];
        for await (const item of pool.stream<number>('fates', 'marked', [marker(), 20], { batch: 3 })) items.push(item);
        expect(items).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
      } finally {
        await pool.stop();
      }
    });
  });
});
