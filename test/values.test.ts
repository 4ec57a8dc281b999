import { decode as unpack, encode as pack } from '@msgpack/msgpack';
import { expect } from 'chai';
import { Request } from 'zeromq';
import { EncodeError, MessageTooLargeError, NdArray, ProtocolError, PythonError, PythonPool } from '@piton/python-bridge';
import { endpointOf, fixtures, processesMatching, reportedByPython } from './helpers.js';
import { rejection } from './support.js';

describe('bad values never break anything (issue 4, item 5)', function () {
  const LIMIT = 64 * 1024;
  let pool: PythonPool;
  let pid: number;

  before(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['bad_values'], maxMessageSize: LIMIT });
    pid = pool.interpreters()[0]!.pid;
  });

  after(() => pool.stop());

  /** The pool still works, on the same interpreter, and nothing restarted. */
  async function stillServing(): Promise<void> {
    expect(await pool.call('bad_values', 'pid')).to.equal(pid);
    expect(pool.interpreters().map((i) => i.pid)).to.deep.equal([pid]);
    expect(pool.stats().restarts).to.equal(0);
  }

  describe('JavaScript values that cannot be sent reject before anything is sent, naming the path', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const circular: Record<string, unknown> = { name: 'loop' };
    circular['inner'] = { back: circular };
    const sym = Symbol('tag');

    const cases: Array<{ what: string; args: unknown[]; kwargs?: Record<string, unknown>; path: string; message: RegExp }> = [
      {
        what: 'a function deep in args',
        args: [1, { user: { name: 'ann', callback: function onDone() {} } }],
        path: 'args[1].user.callback',
        message: /cannot send a function \(onDone\) at args\[1\]\.user\.callback/,
      },
      { what: 'an arrow function', args: [() => 1], path: 'args[0]', message: /a function/ },
      { what: 'a symbol', args: ['ok', [sym]], path: 'args[1][0]', message: /a symbol \(Symbol\(tag\)\) at args\[1\]\[0\]/ },
      {
        what: 'a circular reference',
        args: [circular],
        path: 'args[0].inner.back',
        message: /circular reference at args\[0\]\.inner\.back \(it refers back to args\[0\]\)/,
      },
      { what: 'a class instance', args: [{ at: new Point(1, 2) }], path: 'args[0].at', message: /an instance of class Point at args\[0\]\.at/ },
      { what: 'a Set', args: [new Set([1])], path: 'args[0]', message: /a Set/ },
      { what: 'a Promise', args: [[Promise.resolve(1)]], path: 'args[0][0]', message: /a Promise/ },
      { what: 'a Uint8ClampedArray', args: [new Uint8ClampedArray(2)], path: 'args[0]', message: /Uint8ClampedArray/ },
      { what: 'a DataView', args: [new DataView(new ArrayBuffer(2))], path: 'args[0]', message: /DataView/ },
      { what: 'an invalid Date', args: [{ when: new Date(NaN) }], path: 'args[0].when', message: /an invalid Date at args\[0\]\.when/ },
      {
        what: "a Date past Python's datetime (new Date(8.64e15))",
        args: [{ when: new Date(8.64e15) }],
        path: 'args[0].when',
        message: /a Date outside the years 1 to 9999 that Python's datetime holds \(\+275760-09-13T00:00:00\.000Z\) at args\[0\]\.when/,
      },
      { what: 'a Date before the year 1 in kwargs', args: [], kwargs: { since: new Date(-8.64e15) }, path: 'kwargs.since', message: /outside the years 1 to 9999/ },
      {
        what: 'a function as a Map value',
        args: [new Map<unknown, unknown>([['k', () => 0]])],
        path: 'args[0].get("k")',
        message: /at args\[0\]\.get\("k"\)/,
      },
      { what: 'a key with a space', args: [{ 'a b': { f: Math.max } }], path: 'args[0]["a b"].f', message: /a function \(max\)/ },
      {
        what: 'a function in kwargs',
        args: [],
        kwargs: { options: { retry: 1, fn: () => 0 } },
        path: 'kwargs.options.fn',
        message: /at kwargs\.options\.fn/,
      },
      { what: 'a symbol in kwargs', args: [1], kwargs: { tag: sym }, path: 'kwargs.tag', message: /a symbol/ },
      { what: 'a circular reference in kwargs', args: [], kwargs: { loop: circular }, path: 'kwargs.loop.inner.back', message: /circular/ },
      { what: 'a class instance in kwargs', args: [], kwargs: { p: [new Point(0, 0)] }, path: 'kwargs.p[0]', message: /class Point/ },
    ];

    for (const c of cases) {
      it(`${c.what}: EncodeError at ${c.path}, then a normal call`, async () => {
        const before = await pool.call<number>('bad_values', 'received');
        const error = await rejection(pool.call('bad_values', 'record', c.args, { kwargs: c.kwargs }));
        expect(error).to.be.instanceOf(EncodeError);
        expect((error as EncodeError).path).to.equal(c.path);
        expect((error as EncodeError).message).to.match(c.message);
        // The call never reached Python.
        expect(await pool.call('bad_values', 'received')).to.equal(before);
        expect(await pool.call('bad_values', 'record', [1])).to.equal(before + 1);
        await stillServing();
      });
    }

    it('refuses nesting beyond the codec depth, naming where', async () => {
      let deep: unknown = 'bottom';
      for (let i = 0; i < 600; i++) deep = [deep];
      const error = await rejection(pool.call('bad_values', 'record', [deep]));
      expect(error).to.be.instanceOf(EncodeError);
      expect((error as EncodeError).message).to.match(/nested deeper than \d+ levels at args\[0\](\[0\])+/);
      await stillServing();
    });

    it('sends the same object twice (shared, not circular) without complaint', async () => {
      const shared = { a: [1, 2] };
      expect(await pool.call('bad_values', 'echo', [[shared, shared, { again: shared }]])).to.deep.equal([shared, shared, { again: shared }]);
    });

    it('refuses a bad value in a stream before opening it, and frees the interpreter', async () => {
      const error = await rejection(
        (async () => {
          for await (const _ of pool.stream('bad_values', 'stream_then_unsendable', [], { kwargs: { f: () => 0 } })) {
            throw new Error('no item was expected');
          }
        })(),
      );
      expect(error).to.be.instanceOf(EncodeError);
      expect((error as EncodeError).path).to.equal('kwargs.f');
      await stillServing();
    });

    it('a Map key Python cannot hash is refused by Python as a ProtocolError, and the interpreter stays', async () => {
      const error = await reportedByPython(pool.call('bad_values', 'echo', [new Map([[[1, 2], 'list key']])]), ProtocolError, 'ProtocolError');
      expect(error.message).to.contain('unhashable');
      await stillServing();
    });
  });

  describe('Python results that cannot be encoded reject with EncodeError (origin python) naming the type', () => {
    const cases: Array<[string, string]> = [
      ['object', "cannot encode object of type 'object'"],
      ['set', "cannot encode object of type 'set'"],
      ['frozenset', "cannot encode object of type 'frozenset'"],
      ['decimal', "cannot encode object of type 'decimal.Decimal'"],
      ['class', "cannot encode object of type 'bad_values.Thing'"],
      ['function', "cannot encode object of type 'function'"],
      ['nested', "cannot encode object of type 'object'"],
      ['complex', "cannot encode object of type 'complex'"],
      ['generator', "cannot encode object of type 'generator'"],
    ];
    for (const [kind, message] of cases) {
      it(`${kind}: EncodeError, same interpreter`, async () => {
        const error = await reportedByPython(pool.call('bad_values', 'unsendable', [kind]), EncodeError, 'EncodeError');
        expect(error.message).to.equal(message);
        expect(error.path).to.equal('');
        expect(error).to.not.be.instanceOf(PythonError);
        await stillServing();
      });
    }

    it('a str with a lone surrogate: EncodeError naming the character', async () => {
      const error = await reportedByPython(pool.call('bad_values', 'unsendable', ['lone_surrogate']), EncodeError, 'EncodeError');
      expect(error.message).to.contain('\\ud800');
      await stillServing();
    });

    it('a stream item that cannot be encoded rejects the iteration after the items before it', async () => {
      const seen: unknown[] = [];
      const error = await reportedByPython(
        (async () => {
          for await (const item of pool.stream('bad_values', 'stream_then_unsendable', [], { batch: 1 })) seen.push(item);
        })(),
        EncodeError,
        'EncodeError',
      );
      expect(seen).to.deep.equal([1]);
      expect(error.message).to.contain("'object'");
      await stillServing();
    });
  });

  describe('messages above maxMessageSize', () => {
    it('Node refuses a request above the limit before sending it', async () => {
      const before = await pool.call<number>('bad_values', 'received');
      for (const big of [Buffer.alloc(LIMIT), new Float64Array(LIMIT / 8 + 1), new NdArray(new Int32Array(LIMIT / 4), [2, LIMIT / 8])]) {
        const error = await rejection(pool.call('bad_values', 'record', [big]));
        expect(error).to.be.instanceOf(MessageTooLargeError);
        const tooLarge = error as MessageTooLargeError;
        expect(tooLarge.limit).to.equal(LIMIT);
        expect(tooLarge.size).to.be.greaterThan(LIMIT);
        expect(tooLarge.message).to.equal(`message of ${tooLarge.size} bytes exceeds maxMessageSize of ${LIMIT} bytes`);
      }
      const kwargsError = await rejection(pool.call('bad_values', 'record', [], { kwargs: { text: 'é'.repeat(LIMIT / 2) } }));
      expect(kwargsError).to.be.instanceOf(MessageTooLargeError);
      expect(await pool.call('bad_values', 'received')).to.equal(before);
      // Just below the limit goes through.
      expect(await pool.call('bad_values', 'record', [Buffer.alloc(LIMIT - 200)])).to.equal(before + 1);
      await stillServing();
    });

    it('Python refuses a result above the limit: MessageTooLargeError as on the Node side, and the interpreter stays', async () => {
      const error = await reportedByPython(pool.call('bad_values', 'bytes_of', [LIMIT + 1]), MessageTooLargeError, 'MessageTooLarge');
      expect(error.limit).to.equal(LIMIT);
      expect(error.size).to.be.greaterThan(LIMIT + 1);
      expect(error.message).to.match(new RegExp(`\\b${LIMIT}\\b`));
      expect(error).to.not.be.instanceOf(PythonError);
      const fits = await pool.call<Buffer>('bad_values', 'bytes_of', [LIMIT - 100]);
      expect(fits.length).to.equal(LIMIT - 100);
      await stillServing();
    });

    it('a stream item above the limit rejects the iteration with MessageTooLargeError', async () => {
      const seen: unknown[] = [];
      const error = await reportedByPython(
        (async () => {
          for await (const item of pool.stream('bad_values', 'stream_then_big', [LIMIT * 2], { batch: 1 })) seen.push(item);
        })(),
        MessageTooLargeError,
        'MessageTooLarge',
      );
      expect(seen).to.deep.equal(['small']);
      expect(error.limit).to.equal(LIMIT);
      await stillServing();
    });
  });

  describe('foreign frames on a worker socket', () => {
    it('answers the sender of a malformed or foreign request, never the pool, and keeps serving', async () => {
      const endpoint = endpointOf(pid);
      const foreign = new Request({ linger: 0, receiveTimeout: 10_000 });
      try {
        foreign.connect(endpoint);
        // The pool's call is in the worker when the foreign requests arrive.
        const mine = pool.call('bad_values', 'slow', [0.2, 'for the pool']);
        await foreign.send(Buffer.from([0xc1, 0x00]));
        const [garbageReply] = await foreign.receive();
        const [kind, id, info] = unpack(garbageReply!) as [string, number, { type: string; message: string }];
        expect([kind, id, info.type]).to.deep.equal(['error', 0, 'ProtocolError']);
        // A well-formed call with an id the pool might use gets its own answer on its own socket.
        await foreign.send(Buffer.from(pack(['call', 2, 'bad_values', 'echo', ['foreign'], null])));
        const [callReply] = await foreign.receive();
        expect(unpack(callReply!)).to.deep.equal(['ok', 2, 'foreign']);
        expect(await mine).to.equal('for the pool');
      } finally {
        foreign.close();
      }
      await stillServing();
    });
  });
});
