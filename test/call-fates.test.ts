import { expect } from 'chai';
import { CallTimeoutError, EncodeError, PoolStoppedError, PythonPool } from '@piton/python-bridge';
import { fixtures } from './helpers.js';
import { rejection } from './support.js';

/** Resolves with the value, or with the error the promise rejects with. */
function outcome<T>(promise: Promise<T>): Promise<T | unknown> {
  return promise.catch((error: unknown) => error);
}

// Each call keeps its own fate: what another call of the same round trip holds, how large the
// round trip is, or what the caller does with its values after call() never changes it.
describe('PythonPool: each call its own outcome, with the default options', () => {
  let pool: PythonPool;

  before(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['fates'] });
  });

  after(() => pool.stop());

  /** Times `echo` (a short call, so queued ones share a round trip), then occupies the interpreter. */
  async function queueBehindABlocker(seconds = 0.3): Promise<{ blocker: Promise<unknown> }> {
    for (let i = 0; i < 5; i++) await pool.call('fates', 'echo', [i]);
    const blocker = pool.call('fates', 'sleep', [seconds, 'blocker']);
    expect(pool.stats().busy).to.equal(1);
    return { blocker }; // not the promise itself, which `await` would wait for
  }

  it('rejects only the call whose argument cannot be sent; the calls queued with it run', async () => {
    const { blocker } = await queueBehindABlocker();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const getter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter threw');
      },
    });
    const args: unknown[] = [1, Symbol('s'), 3, circular, 5, getter, 7];
    const calls = args.map((arg) => outcome(pool.call('fates', 'echo', [arg])));
    expect(await blocker).to.equal('blocker');
    const [one, symbol, three, loop, five, thrown, seven] = await Promise.all(calls);
    expect([one, three, five, seven]).to.deep.equal([1, 3, 5, 7]);
    expect(symbol).to.be.instanceOf(EncodeError);
    expect((symbol as EncodeError).path).to.equal('args[0]');
    expect(loop).to.be.instanceOf(EncodeError);
    expect((loop as EncodeError).path).to.equal('args[0].self');
    expect((thrown as Error).message).to.equal('getter threw');
  });

  it('gives Python the values as they were at call(): objects and typed arrays', async () => {
    const { blocker } = await queueBehindABlocker();
    const user = { name: 'before' };
    const ones = new Float64Array(1_000_000).fill(1);
    const echoed = pool.call('fates', 'echo', [user]);
    const summed = pool.call('fates', 'total', [ones]);
    user.name = 'after';
    ones.fill(2);
    expect(await blocker).to.equal('blocker');
    expect(await echoed).to.deep.equal({ name: 'before' });
    expect(await summed).to.equal(1_000_000);
  });

  it('a typed array refilled right after call() returns reaches Python as it was, without waiting for a queue', async () => {
    const buffer = new Float64Array(1_000_000);
    for (let round = 1; round <= 3; round++) {
      buffer.fill(round);
      const sum = pool.call('fates', 'total', [buffer]);
      buffer.fill(-1);
      expect(await sum).to.equal(round * 1_000_000);
    }
  });

  it('with transfer: true sends the typed array\'s memory as it is when sent (the caller promised not to touch it)', async () => {
    const { blocker } = await queueBehindABlocker();
    const ones = new Float64Array(1000).fill(1);
    const summed = pool.call('fates', 'total', [ones], { transfer: true });
    ones.fill(2); // breaks the promise on purpose: the queued call sees the change
    expect(await blocker).to.equal('blocker');
    expect(await summed).to.equal(2000);
  });

  it('rejects a transfer option that is not a boolean, and unknown options, naming them', async () => {
    const transfer = await rejection(pool.call('fates', 'echo', [1], { transfer: 'yes' as unknown as boolean }));
    expect(transfer).to.be.instanceOf(TypeError);
    expect((transfer as Error).message).to.match(/options\.transfer must be a boolean/);
    const unknown = await rejection(pool.call('fates', 'echo', [1], { tiemout: 5 } as never));
    expect(unknown).to.be.instanceOf(TypeError);
    expect((unknown as Error).message).to.match(/^options\.tiemout is not an option; did you mean timeout\?/);
  });

  it('takes stream items when they are yielded, whatever the batch', async () => {
    const expected = [0, 1, 2].map((i) => Array.from(new Float64Array(4).fill(i)));
    for (const batch of [1, 3]) {
      const items: number[][] = [];
      for await (const item of pool.stream<Float64Array>('fates', 'refills', [3], { batch })) items.push(Array.from(item));
      expect(items, `batch ${batch}`).to.deep.equal(expected);
    }
  });

  it('stream() refuses what call() refuses, with the same errors', async () => {
    // A call's timeout bounds the whole call; a stream's waitTimeout, the wait for an interpreter:
    // both are checked by the same rule.
    const bad: [unknown, unknown, Record<string, unknown>][] = [
      ['fates', 'not an array', {}],
      ['fates', [1], { kwargs: [1, 2] }],
      ['fates', [1], { kwargs: 'k' }],
      ['fates', [1], { timeout: -1 }],
      ['fates', [1], { timeout: 2.5 }],
      ['fates', [1], { timeout: 'soon' }],
      ['fates', [1], { signal: 'abort' }],
      ['fates', [1], { batchSize: 3 }],
      ['', [1], {}],
    ];
    for (const [module, args, options] of bad) {
      const fromCall = await rejection(pool.call(module as string, 'echo', args as unknown[], options as never));
      const { timeout, ...rest } = options;
      const streamOptions = timeout === undefined ? options : { ...rest, waitTimeout: timeout };
      const iterator = pool.stream(module as string, 'refills', args as unknown[], streamOptions as never)[Symbol.asyncIterator]();
      const fromStream = await rejection(iterator.next());
      const what = `${String(module)} ${JSON.stringify(args)} ${JSON.stringify(options)}`;
      expect(fromStream, what).to.be.instanceOf((fromCall as Error).constructor);
      // batchSize is unknown to both; the known options (and so the likely one) differ.
      const named = (e: unknown) => (e as Error).message.replace(/(; did you mean| \(known:).*/, '').replace('waitTimeout', 'timeout');
      expect(named(fromStream), what).to.equal(named(fromCall));
    }
    const renamed = await rejection(pool.stream('fates', 'refills', [1], { timeout: 5 } as never)[Symbol.asyncIterator]().next());
    expect(renamed).to.be.instanceOf(TypeError).with.property('message', 'options.timeout is now options.waitTimeout: write { waitTimeout: … }');
    expect(await pool.call('fates', 'echo', ['after'])).to.equal('after');
  });
});

describe('PythonPool: sizes are per call', () => {
  it('never fails a queued call or a stream item that fits maxMessageSize alone, arguments or results', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, maxMessageSize: 1024 * 1024 });
    try {
      // Time both functions with small values, so that queued calls to them share a round trip.
      for (let i = 0; i < 5; i++) {
        await pool.call('fates', 'size_of', [Buffer.alloc(10)]);
        await pool.call('fates', 'sized', [10]);
      }
      const blocker = pool.call('fates', 'sleep', [0.3, 'blocker']);
      const big = Buffer.alloc(200_000, 1);
      const sent = Array.from({ length: 8 }, () => outcome(pool.call('fates', 'size_of', [big])));
      const received = Array.from({ length: 8 }, () => outcome(pool.call('fates', 'sized', [200_000])));
      expect(await blocker).to.equal('blocker');
      expect(await Promise.all(sent)).to.deep.equal(Array(8).fill(200_000));
      for (const result of await Promise.all(received)) {
        expect(result).to.be.instanceOf(Uint8Array);
        expect((result as Uint8Array).length).to.equal(200_000);
      }
      // Stream items too: 8 items of 200 KB asked for in one round trip all arrive.
      const lengths: number[] = [];
      for await (const item of pool.stream<Uint8Array>('fates', 'sized_items', [200_000, 8], { batch: 8 })) lengths.push(item.length);
      expect(lengths).to.deep.equal(Array(8).fill(200_000));
    } finally {
      await pool.stop();
    }
  });
});

describe('PythonPool: timeouts beyond 2^31 ms', () => {
  it('accepts startTimeout, callTimeout, a call timeout and shutdownTimeout of 2^31 ms and more', async () => {
    const long = 2 ** 31;
    const pool = await PythonPool.start({ size: 1, path: fixtures, startTimeout: long, callTimeout: long, shutdownTimeout: long * 4 });
    try {
      expect(await pool.call('fates', 'sleep', [0.05, 'default timeout'])).to.equal('default timeout');
      expect(await pool.call('fates', 'sleep', [0.05, 'own timeout'], { timeout: long * 2 })).to.equal('own timeout');
      // stop() lets the running call finish: the shutdown timeout has not run out after 1 ms.
      const running = pool.call('fates', 'sleep', [0.3, 'finished']);
      await pool.stop();
      expect(await running).to.equal('finished');
    } finally {
      await pool.stop();
    }
  });

  it('still rejects a call whose (short) timeout runs out with CallTimeoutError', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures });
    try {
      expect(await rejection(pool.call('fates', 'sleep', [5], { timeout: 50 }))).to.be.instanceOf(CallTimeoutError);
    } finally {
      await pool.stop();
    }
  });
});

describe('PythonPool: whenReady() after stop()', () => {
  it('rejects with PoolStoppedError when called right after stop()', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures });
    const stopped = pool.stop();
    expect(await rejection(pool.whenReady())).to.be.instanceOf(PoolStoppedError);
    await stopped;
    expect(await rejection(pool.whenReady())).to.be.instanceOf(PoolStoppedError);
  });
});
