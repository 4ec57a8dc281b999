import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { NdArray, PythonError, PythonPool, InterpreterExitedError } from '@piton/python-bridge';
import { fixtures } from './helpers.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('pool.stream (PROTOCOL.md "stream", "next", "close")', function () {
  // One interpreter: every test also shows that a stream gives it back for the next call.
  let pool: PythonPool;
  let scratch: string;

  before(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['streaming'] });
    scratch = mkdtempSync(join(tmpdir(), 'piton-streams-'));
  });

  after(async () => {
    await pool.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const onlyPid = () => {
    const all = pool.interpreters();
    expect(all).to.have.length(1);
    return all[0]!.pid;
  };

  it('iterates a generator item by item, for several batch sizes', async () => {
    for (const batch of [1, 3, 16, 100]) {
      expect(await collect(pool.stream('streaming', 'numbers', [10], { batch })), `batch ${batch}`).to.deep.equal([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    }
    expect(await collect(pool.stream('streaming', 'numbers', [0]))).to.deep.equal([]);
  });

  it('iterates an iterator (iter of a list) and an iterable (range)', async () => {
    const items = ['a', 2n ** 70n, null, { k: [1] }];
    expect(await collect(pool.stream('streaming', 'listed', [items], { batch: 2 }))).to.deep.equal(items);
    expect(await collect(pool.stream('streaming', 'range_of', [5], { batch: 2 }))).to.deep.equal([0, 1, 2, 3, 4]);
  });

  it('streams numpy values: rows of a received NdArray come back as typed arrays', async () => {
    const matrix = new NdArray(new Int32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    const rows = await collect(pool.stream<Int32Array>('streaming', 'squares_of', [matrix], { batch: 2 }));
    expect(rows.map((r) => r.constructor)).to.deep.equal([Int32Array, Int32Array, Int32Array]);
    expect(rows.map((r) => [...r])).to.deep.equal([
      [1, 4],
      [9, 16],
      [25, 36],
    ]);
  });

  it('passes kwargs to the generator', async () => {
    expect(await collect(pool.stream('streaming', 'numbers', [], { kwargs: { n: 3 } }))).to.deep.equal([0, 1, 2]);
  });

  it('break out of for await closes the generator (its finally runs) and frees the interpreter', async () => {
    const pid = onlyPid();
    for (const batch of [1, 4]) {
      const tag = `break-${batch}`;
      const seen: number[] = [];
      for await (const item of pool.stream<number>('streaming', 'guarded', [tag, 1000], { batch })) {
        seen.push(item);
        if (item === 2) break;
      }
      expect(seen).to.deep.equal([0, 1, 2]);
      // A pool of one serves this call only if the stream gave its interpreter back.
      const log = await pool.call<string[]>('streaming', 'log');
      expect(log.slice(-2), `batch ${batch}`).to.deep.equal([`${tag}:start`, `${tag}:finally`]);
    }
    expect(onlyPid()).to.equal(pid);
    expect(pool.stats().restarts).to.equal(0);
  });

  it('a throw inside for await closes the generator too', async () => {
    const error = await (async () => {
      for await (const item of pool.stream<number>('streaming', 'guarded', ['throw', 1000])) {
        if (item === 1) throw new Error('consumer failed');
      }
    })().catch((e: unknown) => e);
    expect((error as Error).message).to.equal('consumer failed');
    expect((await pool.call<string[]>('streaming', 'log')).slice(-2)).to.deep.equal(['throw:start', 'throw:finally']);
  });

  it('runs the generator ahead of the consumer by at most `batch` items (default 1)', async () => {
    for (const [batch, options] of [[1, {}], [1, { batch: 1 }], [4, { batch: 4 }]] as const) {
      const progress = join(scratch, `progress-${batch}`);
      const produced = () => Number(readFileSync(progress, 'utf8'));
      let consumed = 0;
      for await (const item of pool.stream<number>('streaming', 'counting_into', [progress, 20], options)) {
        expect(item).to.equal(consumed);
        consumed++;
        // Python runs only while answering a pull of `batch` items.
        expect(produced() - consumed, `batch ${batch}, after ${consumed} items`).to.be.within(0, batch - 1);
        expect(produced(), `batch ${batch}, after ${consumed} items`).to.equal(Math.min(20, Math.ceil(consumed / batch) * batch));
      }
      expect(consumed).to.equal(20);
    }
  });

  it('an exception mid-stream rejects with PythonError after the items before it; the interpreter stays', async () => {
    const pid = onlyPid();
    for (const batch of [1, 2, 8]) {
      const seen: number[] = [];
      const error = await (async () => {
        for await (const item of pool.stream<number>('streaming', 'fails_after', [3], { batch })) seen.push(item);
      })().catch((e: unknown) => e);
      expect(seen, `batch ${batch}`).to.deep.equal([0, 1, 2]);
      expect(error, `batch ${batch}`).to.be.instanceOf(PythonError);
      expect((error as PythonError).pythonType).to.equal('ValueError');
      expect((error as PythonError).message).to.equal('stopped after 3 items');
      expect((error as PythonError).pythonTraceback).to.contain('fails_after');
    }
    expect(await pool.call('streaming', 'pid')).to.equal(pid);
    expect(onlyPid()).to.equal(pid);
  });

  it('a result that is not iterable rejects with PythonError TypeError', async () => {
    const error = await collect(pool.stream('streaming', 'not_iterable')).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PythonError);
    expect((error as PythonError).pythonType).to.equal('TypeError');
    expect(await pool.call('streaming', 'pid')).to.equal(onlyPid());
  });

  it('an interpreter killed mid-stream rejects with InterpreterExitedError and is replaced', async () => {
    const iterator = pool.stream<number | string>('streaming', 'pid_then_sleep', [60])[Symbol.asyncIterator]();
    const first = await iterator.next();
    const pid = first.value as number;
    expect(pid).to.equal(onlyPid());
    // The pull of the next item is outstanding (Python sleeps in the generator) when the process dies.
    const pending = iterator.next();
    process.kill(pid, 'SIGKILL');
    const error = await pending.catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InterpreterExitedError);
    expect((error as InterpreterExitedError).signal).to.equal('SIGKILL');
    expect(await iterator.next()).to.deep.equal({ done: true, value: undefined });
    await pool.whenReady();
    const replacement = onlyPid();
    expect(replacement).to.not.equal(pid);
    expect(await pool.call('streaming', 'pid')).to.equal(replacement);
    expect(pool.stats().restarts).to.equal(1);
  });

  it('an interpreter killed between pulls rejects the next pull with InterpreterExitedError', async () => {
    const iterator = pool.stream<number | string>('streaming', 'pid_then_sleep', [0])[Symbol.asyncIterator]();
    const pid = (await iterator.next()).value as number;
    process.kill(pid, 'SIGKILL');
    const error = await iterator.next().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InterpreterExitedError);
    await pool.whenReady();
    expect(await pool.call('streaming', 'pid')).to.not.equal(pid);
  });

  it('waits its turn in the FIFO queue like a call, and holds the interpreter until it ends', async () => {
    const events: string[] = [];
    const first = pool.call('streaming', 'pid').then(() => events.push('call 1'));
    // Iteration starts (and queues the stream) at the first next().
    const iterator = pool.stream<number>('streaming', 'guarded', ['fifo', 3])[Symbol.asyncIterator]();
    const streamed = (async () => {
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) events.push(`item ${r.value}`);
      events.push('stream end');
    })();
    const last = pool.call<string[]>('streaming', 'log').then((log) => (events.push('call 2'), log));
    // The first call runs; the stream and the second call wait, in that order.
    expect(pool.stats().queued).to.equal(2);
    const [, , seenByCall2] = await Promise.all([first, streamed, last]);
    // The second call ran once the generator had ended: its finally had run.
    expect(seenByCall2.slice(-2)).to.deep.equal(['fifo:start', 'fifo:finally']);
    expect(events.slice(0, 4)).to.deep.equal(['call 1', 'item 0', 'item 1', 'item 2']);
    // The interpreter is given back as the consumer's last next() settles, as a call's is as
    // its promise settles: a reply read at once may settle the second call first.
    expect(events.slice(4)).to.have.members(['stream end', 'call 2']);
  });

  it('a call queued behind an open stream runs once the stream is closed early', async () => {
    const iterator = pool.stream<number>('streaming', 'guarded', ['queued', 1000])[Symbol.asyncIterator]();
    expect((await iterator.next()).value).to.equal(0);
    let served = false;
    const call = pool.call<string[]>('streaming', 'log').then((log) => {
      served = true;
      return log;
    });
    // The stream holds the only interpreter: the call is queued, not running.
    expect(pool.stats().queued).to.equal(1);
    expect((await iterator.next()).value).to.equal(1);
    expect(served).to.equal(false);
    await iterator.return!();
    expect((await call).slice(-2)).to.deep.equal(['queued:start', 'queued:finally']);
  });
});
