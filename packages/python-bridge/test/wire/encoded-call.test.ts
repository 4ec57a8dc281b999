import { expect } from 'chai';
import { tableFromArrays, vectorFromArray } from 'apache-arrow';
import { createCodec } from '../../src/wire/codec.js';
import { EncodeError, MessageTooLargeError } from '../../src/errors.js';
import { NdArray } from '../../src/wire/ndarray.js';
import { callSizeBound, encodeCallBody } from '../../src/wire/encoded-call.js';
import { spliceBatch, spliceCall } from '../../src/wire/protocol.js';
import { encodeBatch, encodeCall } from './envelopes.js';
import { MIN_REUSED_BYTES, SnapshotBuffers } from '../../src/pool/snapshots.js';
import { FakeClock } from '../../../../test/support.js';

const hex = (frames: Buffer[]) => frames.map((f) => f.toString('hex'));

// Values whose arrays make frames, so that splicing has indices to renumber.
const CALLS: { module: string; fn: string; args: unknown[]; kwargs?: Record<string, unknown> }[] = [
  { module: 'functions', fn: 'fib', args: [10] },
  { module: 'stats', fn: 'describe', args: [new Float64Array([1, 2, 4]), new NdArray(new Int32Array([0, 1, 2, 3]), [2, 2])] },
  { module: 'functions', fn: 'scale', args: [2.5], kwargs: { factor: 3, weights: new Float32Array([0.5]) } },
  { module: 'm', fn: 'f', args: [{ nested: [new Uint16Array(3), 'x'.repeat(40)] }, 2 ** 40, -1, null] },
  // Arrow tables (ext 3) among arrays: their frames are numbered with the arrays'.
  {
    module: 'reports',
    fn: 'summarize',
    args: [new Float64Array([7]), tableFromArrays({ a: new Float64Array([1, 2]), b: ['x', 'y'] })],
    kwargs: { column: vectorFromArray(['p', null]), weights: new Int32Array([1]) },
  },
];

describe('calls encoded in advance (payload.ts) and spliced into messages (protocol.ts)', () => {
  const codec = createCodec();

  it('a spliced call is the bytes encodeCall writes, whatever the id', () => {
    for (const id of [0, 1, 127, 128, 65_536, 2 ** 32 + 1]) {
      for (const c of CALLS) {
        const body = encodeCallBody(codec, c.module, c.fn, c.args, c.kwargs);
        expect(hex(spliceCall(codec, id, body)), `${c.fn} id ${id}`).to.deep.equal(hex(encodeCall(codec, id, c.module, c.fn, c.args, c.kwargs)));
      }
    }
  });

  it('a spliced batch is the bytes encodeBatch writes, frames renumbered across its calls', () => {
    const bodies = CALLS.map((c) => encodeCallBody(codec, c.module, c.fn, c.args, c.kwargs));
    for (const id of [3, 300]) {
      for (let n = 1; n <= CALLS.length; n++) {
        expect(hex(spliceBatch(codec, id, bodies.slice(0, n))), `${n} calls`).to.deep.equal(
          hex(encodeBatch(codec, id, CALLS.slice(0, n) as never)),
        );
      }
    }
    // Splicing twice (a call queued again) gives the same bytes: the bodies are left as they were.
    expect(hex(spliceBatch(codec, 3, bodies))).to.deep.equal(hex(encodeBatch(codec, 3, CALLS as never)));
    const reversed = [...bodies].reverse();
    expect(hex(spliceBatch(codec, 3, reversed))).to.deep.equal(hex(encodeBatch(codec, 3, [...CALLS].reverse() as never)));
  });

  it('a batch of 17 calls uses an array 16 header', () => {
    const calls = Array.from({ length: 17 }, (_, i) => ({ module: 'm', fn: 'f', args: [i] }));
    const bodies = calls.map((c) => encodeCallBody(codec, c.module, c.fn, c.args, undefined));
    expect(hex(spliceBatch(codec, 9, bodies))).to.deep.equal(hex(encodeBatch(codec, 9, calls)));
  });

  it('copies typed arrays at encoding, unless transfer: the caller may then write to them', () => {
    const data = new Float64Array([1, 2, 3]);
    const copied = encodeCallBody(codec, 'm', 'f', [data], undefined);
    const transferred = encodeCallBody(codec, 'm', 'f', [data], undefined, { transfer: true });
    data.fill(9);
    expect([...new Float64Array(new Uint8Array(copied.frames[0]!).buffer)]).to.deep.equal([1, 2, 3]);
    expect([...new Float64Array(new Uint8Array(transferred.frames[0]!).buffer)]).to.deep.equal([9, 9, 9]);
  });

  it("names a bad value by the call's own path, and refuses a call too large to be sent alone", () => {
    const error = (() => {
      try {
        encodeCallBody(codec, 'm', 'f', [1, { fn: () => 1 }], undefined);
      } catch (e) {
        return e;
      }
    })();
    expect(error).to.be.instanceOf(EncodeError);
    expect((error as EncodeError).path).to.equal('args[1].fn');
    const small = createCodec({ maxMessageSize: 1024 });
    expect(() => encodeCallBody(small, 'm', 'f', [Buffer.alloc(1024)], undefined)).to.throw(MessageTooLargeError);
  });

  it('callSizeBound is never below the size an intact NdArray call encodes to, and close to it', () => {
    const names: [string, string][] = [['m', 'f'], ['módulo_ñ', 'función_€'], ['a'.repeat(40), 'b'.repeat(40)]];
    for (const [module, fn] of names) {
      for (const shape of [[7], [3, 5], [1, 1, 1, 1, 1, 1, 1, 2]]) {
        for (const Type of [Float64Array, Int8Array, Uint16Array]) {
          const value = new NdArray(new Type(shape.reduce((a, b) => a * b, 1)), shape);
          const size = encodeCallBody(codec, module, fn, [value], undefined).size;
          const bound = callSizeBound(module, fn, value)!;
          expect(bound, `${module}.${fn} ${shape}`).to.be.at.least(size);
          // Short names: the bound gives up little of the limit.
          if (module === 'm') expect(bound - size, `${shape}`).to.be.at.most(140 + 9 * shape.length);
        }
      }
    }
    const data = Float64Array.from([1]);
    const transferred = new NdArray(data, [1]);
    expect(callSizeBound('m', 'f', transferred)).to.be.a('number');
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(callSizeBound('m', 'f', transferred)).to.equal(undefined); // it encodes to an EncodeError
    expect(callSizeBound('m', 'f', Float64Array.from([1]))).to.equal(undefined); // not an NdArray: encode to know
  });
});

describe('SnapshotBuffers (snapshot memory reused from call to call)', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock().install();
  });

  afterEach(() => clock.uninstall());

  const view = (bytes: number, fill: number) => Buffer.alloc(bytes, fill);

  it('copies, and reuses the memory of a snapshot given back for the next of its size only', () => {
    const snapshots = new SnapshotBuffers({ maxBytes: 1 << 20, idleMs: 1_000 });
    const first = snapshots.take(view(MIN_REUSED_BYTES, 1));
    const second = snapshots.take(view(MIN_REUSED_BYTES, 2));
    expect(first).to.not.equal(second); // first is still lent: never handed out twice
    expect(first[0]).to.equal(1);
    snapshots.give([first]);
    const third = snapshots.take(view(MIN_REUSED_BYTES, 3));
    expect(third).to.equal(first);
    expect(third[0]).to.equal(3);
    expect(snapshots.take(view(MIN_REUSED_BYTES + 8, 4))).to.not.equal(second);
  });

  it('ignores buffers it did not lend, or lent and got back already', () => {
    const snapshots = new SnapshotBuffers({ maxBytes: 1 << 20, idleMs: 1_000 });
    const lent = snapshots.take(view(MIN_REUSED_BYTES, 1));
    snapshots.give([view(MIN_REUSED_BYTES, 0), lent, lent]);
    expect(snapshots.freeBytes).to.equal(MIN_REUSED_BYTES);
  });

  it('keeps at most maxBytes, and lets all go once idle for idleMs', () => {
    const snapshots = new SnapshotBuffers({ maxBytes: MIN_REUSED_BYTES * 2, idleMs: 1_000 });
    const lent = [1, 2, 3].map((i) => snapshots.take(view(MIN_REUSED_BYTES, i)));
    snapshots.give(lent);
    expect(snapshots.freeBytes).to.equal(MIN_REUSED_BYTES * 2);
    clock.tick(999);
    expect(snapshots.freeBytes).to.equal(MIN_REUSED_BYTES * 2);
    clock.tick(1);
    expect(snapshots.freeBytes).to.equal(0);
    expect(clock.pending).to.equal(0);
  });

  it("lends reused memory for a table's IPC stream, written straight into it", () => {
    const snapshots = new SnapshotBuffers({ maxBytes: 1 << 24, idleMs: 1_000 });
    const codec = createCodec({ allocate: (size) => snapshots.lend(size) });
    const table = tableFromArrays({ x: Float64Array.from({ length: MIN_REUSED_BYTES }, (_, i) => i) });
    const first = encodeCallBody(codec, 'm', 'f', [table], undefined);
    const stream = first.frames[0]!;
    snapshots.give(first.frames);
    expect(snapshots.freeBytes).to.equal(stream.length);
    const again = encodeCallBody(codec, 'm', 'f', [table], undefined);
    expect(again.frames[0]).to.equal(stream, 'the same memory, given back and lent again');
    expect(snapshots.freeBytes).to.equal(0);
  });

  it('copies small frames into fresh memory, never kept', () => {
    const snapshots = new SnapshotBuffers({ maxBytes: 1 << 20, idleMs: 1_000 });
    const small = snapshots.take(view(100, 7));
    snapshots.give([small]);
    expect(snapshots.freeBytes).to.equal(0);
    expect(small[99]).to.equal(7);
  });
});
