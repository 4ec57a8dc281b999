/**
 * Arrow tables in the codec (PROTOCOL.md, "Tables (ext 3)"), without Python: what each apache-arrow
 * value is sent as, that a received table views its frame, which copy of apache-arrow writes a
 * value, the snapshot at `call()` leaving a table's stream alone, and the worker's
 * MissingDependency read back. The vectors (codec.test.ts) and a real pool (test/tables.test.ts)
 * check the same from the other sides.
 */
import { expect } from 'chai';
import { createRequire } from 'node:module';
import {
  Float64,
  Int64,
  RecordBatch,
  Table,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  Utf8,
  Vector,
  vectorFromArray,
} from 'apache-arrow';
import { comparable, tableContent, vectorContent } from '../../../../test/arrow-values.js';
import { createCodec, isOwnedFrame } from '../../src/wire/codec.js';
import { encodeCallBody } from '../../src/wire/encoded-call.js';
import { peekReplyHead, toPythonError } from '../../src/wire/protocol.js';
import { EncodeError, MissingDependencyError, ProtocolError } from '../../src/errors.js';

function sample(): Table {
  return new Table({
    n: vectorFromArray([1n, null, 2n ** 60n + 1n], new Int64()),
    s: vectorFromArray(['', 'Grüße 👋🏽', null], new Utf8()),
    f: vectorFromArray([NaN, -0, 1.5], new Float64()),
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

describe('Arrow tables in the codec (ext 3)', () => {
  const codec = createCodec();

  it('sends a Table as kind "table", its IPC stream as a frame of its own, and receives it back', () => {
    const table = sample();
    const frames = codec.encode({ t: table });
    expect(frames).to.have.length(2);
    expect(hex(frames[0]!)).to.equal('81a174' + 'd70392a57461626c6501');
    expect(comparable(tableFromIPC(frames[1]!))).to.deep.equal(comparable(table));
    const back = codec.decode(frames) as { t: Table };
    expect(back.t).to.be.instanceOf(Table);
    expect(tableContent(back.t)).to.deep.equal(tableContent(table));
    expect(Object.is(back.t.getChild('f')!.get(1), -0)).to.equal(true);
    expect(back.t.getChild('n')!.get(2)).to.equal(2n ** 60n + 1n);
  });

  it('sends a RecordBatch as a table and a Vector as kind "vector", received as a Vector', () => {
    const table = sample();
    const batch = table.batches[0]!;
    expect(batch).to.be.instanceOf(RecordBatch);
    expect(tableContent(codec.decode(codec.encode(batch)) as Table)).to.deep.equal(tableContent(table));
    const vector = table.getChild('s')!;
    const frames = codec.encode(vector);
    expect(hex(frames[0]!)).to.equal('c7090392a6766563746f7201');
    const back = codec.decode(frames);
    expect(back).to.be.instanceOf(Vector);
    expect(vectorContent(back as Vector)).to.deep.equal(vectorContent(vector));
    expect([...(back as Vector)]).to.deep.equal(['', 'Grüße 👋🏽', null]);
  });

  it('makes a received table view its frame (no copy), and copies a frame that typed arrays cannot view', () => {
    const frames = codec.encode(tableFromArrays({ x: Float64Array.from({ length: 1024 }, (_, i) => i / 3) }));
    const aligned = Buffer.alloc(frames[1]!.length);
    frames[1]!.copy(aligned);
    const viewing = codec.decode([frames[0]!, aligned]) as Table;
    const values = viewing.getChild('x')!.data[0]!.values;
    expect(values.buffer).to.equal(aligned.buffer);
    expect(values.byteOffset).to.be.at.least(aligned.byteOffset).and.below(aligned.byteOffset + aligned.length);
    // At an odd offset a Float64Array cannot view the bytes: the frame is copied once, and reads the same.
    const odd = Buffer.alloc(frames[1]!.length + 1).subarray(1);
    frames[1]!.copy(odd);
    const copied = codec.decode([frames[0]!, odd]) as Table;
    expect(copied.getChild('x')!.data[0]!.values.buffer).to.not.equal(odd.buffer);
    expect(tableContent(copied)).to.deep.equal(tableContent(viewing));
  });

  it("writes a value made by apache-arrow's CommonJS build with that build's writer", () => {
    const cjs = createRequire(import.meta.url)('apache-arrow') as typeof import('apache-arrow');
    const table = cjs.tableFromArrays({ a: new Float64Array([1, 2, 3]), b: ['x', 'y', 'z'] });
    const back = codec.decode(codec.encode(table)) as Table;
    expect(back.numRows).to.equal(3);
    expect([...back.getChild('a')!]).to.deep.equal([1, 2, 3]);
    expect([...back.getChild('b')!]).to.deep.equal(['x', 'y', 'z']);
  });

  it('names the path of an apache-arrow value it cannot write, and refuses other objects as before', () => {
    const broken = sample();
    Object.defineProperty(broken, 'batches', { get: () => { throw new Error('no batches today'); } });
    let error: unknown;
    try {
      codec.encode({ rows: [broken] });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(EncodeError);
    expect((error as EncodeError).path).to.equal('value.rows[0]');
    expect((error as EncodeError).message).to.match(/^cannot send an apache-arrow Table \(no batches today\) at value\.rows\[0\]$/);
    expect(() => codec.encode(new (class Point {})())).to.throw(EncodeError, 'an instance of class Point');
  });

  it("writes the ext 3 header right wherever the value falls in the encoder's buffer", () => {
    // An encoder writes messages one after another into a 64 KiB buffer (here after a one-byte
    // message): strings before the vector put its ext at each of the last 40 offsets of that
    // buffer in turn, where room for the header runs out and the message moves to a new buffer.
    const vector = vectorFromArray(['x', null]);
    for (let k = 1; k <= 40; k++) {
      const before = 64 * 1024 - k - 1 - 3; // bytes of elements before the ext, after the first message and an array 16 header
      const long = Math.floor((before - 60) / 31); // 30-character strings take 31 bytes
      const items: unknown[] = [...Array<string>(long).fill('p'.repeat(30)), ...Array<string>(before - 31 * long).fill(''), vector];
      const codec = createCodec();
      codec.encode(0);
      const back = createCodec().decode(codec.encode(items)) as unknown[];
      expect(back.length, `k ${k}`).to.equal(items.length);
      expect([...(back.at(-1) as Vector)], `ext ${k} bytes before the end`).to.deep.equal(['x', null]);
    }
  });

  it('refuses a stream that is not one, and a "vector" of more than one column, with ProtocolError', () => {
    const two = Buffer.from(tableToIPC(sample(), 'stream'));
    expect(() => codec.decode([Buffer.from('c7090392a6766563746f7201', 'hex'), two])).to.throw(ProtocolError, 'must hold one column, got 3');
    const cut = two.subarray(0, two.length - 8);
    expect(() => codec.decode([Buffer.from('d70392a57461626c6501', 'hex'), cut])).to.throw(ProtocolError, 'end-of-stream marker');
    const garbage = Buffer.concat([Buffer.from('ffffffff10000000', 'hex'), Buffer.alloc(16, 7), Buffer.from('ffffffff00000000', 'hex')]);
    expect(() => codec.decode([Buffer.from('d70392a57461626c6501', 'hex'), garbage])).to.throw(ProtocolError, 'not a readable Arrow IPC stream');
  });

  it('leaves a table stream out of the snapshot at call(): it was written at call() into memory of its own', () => {
    const copies: Buffer[] = [];
    const copy = (view: Buffer): Buffer => {
      copies.push(view);
      return Buffer.from(view);
    };
    const array = new Float64Array(4);
    const call = encodeCallBody(codec, 'm', 'f', [sample(), array], undefined, { copy });
    expect(call.frames).to.have.length(2);
    expect(isOwnedFrame(call.frames[0]!)).to.equal(true);
    expect(copies).to.have.length(1, 'only the typed array is copied');
    expect(copies[0]!.buffer).to.equal(array.buffer);
    expect(call.size).to.equal(call.body.length + call.frames[0]!.length + call.frames[1]!.length, 'the IPC bytes count');
  });
});

describe('peekReplyHead (a reply received whole that cannot be decoded)', () => {
  it('reads the kind and id of the start of frame 0, or says it cannot', () => {
    expect(peekReplyHead(Buffer.from('95a863616c6c6261636b0c', 'hex'))).to.deep.equal({ kind: 'callback', id: 12 });
    expect(peekReplyHead(Buffer.from('93a26f6bcf0000000100000001c0', 'hex'))).to.deep.equal({ kind: 'ok', id: 2 ** 32 + 1 });
    expect(peekReplyHead(Buffer.from('93a26f6bcd1a6d', 'hex'))).to.deep.equal({ kind: 'ok', id: 6765 });
    expect(peekReplyHead(Buffer.from('93a26f', 'hex'))).to.equal(undefined);
    expect(peekReplyHead(Buffer.from('93a26f6bff', 'hex'))).to.equal(undefined);
    expect(peekReplyHead(Buffer.from('c0', 'hex'))).to.equal(undefined);
    expect(peekReplyHead(Buffer.alloc(0))).to.equal(undefined);
  });
});

describe("the worker's MissingDependency", () => {
  it('is a MissingDependencyError naming the library and the command that installs it', () => {
    const message =
      "pyarrow is not installed in the worker's Python: cannot send a pandas.DataFrame as an Arrow table; install it with: npx piton setup --arrow";
    const error = toPythonError({ type: 'MissingDependency', message, traceback: 'tb' });
    expect(error).to.be.instanceOf(MissingDependencyError);
    const missing = error as MissingDependencyError;
    expect([missing.dependency, missing.command, missing.origin, missing.pythonType, missing.message]).to.deep.equal([
      'pyarrow',
      'npx piton setup --arrow',
      'python',
      'MissingDependency',
      message,
    ]);
  });
});
