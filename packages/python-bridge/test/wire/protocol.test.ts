/**
 * The messages of calling back into Node (PROTOCOL.md, "Calling back into Node") against the
 * shared vectors: what this side writes is byte for byte what the vectors hold, and what the worker
 * writes parses to the reply it means.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createCodec } from '../../src/wire/codec.js';
import { ProtocolError } from '../../src/errors.js';
import { ndarray } from '../../src/wire/ndarray.js';
import { encodeCancel, encodeHello, encodeResume, encodeReturn, encodeStream, encodeThrow, parseReply, spliceBatch, spliceCall } from '../../src/wire/protocol.js';
import { encodeCall } from './envelopes.js';
import { encodeCallBody, withOptions, type EncodedCall } from '../../src/wire/encoded-call.js';
import { encodeCallOptions, type CallOptionsItem } from '../../src/wire/call-options.js';

const VECTORS = fileURLToPath(new URL('../../../../protocol/vectors.json', import.meta.url));
const cases = new Map(
  (JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: { name: string; frames: string[] }[] }).cases.map((c) => [c.name, c.frames]),
);

function framesOf(name: string): Buffer[] {
  const frames = cases.get(name);
  if (frames === undefined) throw new Error(`no vector named ${JSON.stringify(name)}`);
  return frames.map((h) => Buffer.from(h, 'hex'));
}

function hex(frames: readonly Uint8Array[]): string[] {
  return frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('hex'));
}

const THROWN = {
  name: 'TypeError',
  message: 'key must be a string',
  stack: 'TypeError: key must be a string\n    at lookup (file:///app/index.js:3:11)',
};

describe('protocol: calling back into Node', () => {
  const codec = createCodec();
  const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const traced = (call: EncodedCall, item: CallOptionsItem) => withOptions(call, encodeCallOptions(codec, item), codec.maxMessageSize);

  describe('what Node writes is what the vectors hold', () => {
    const written: [string, () => Buffer[]][] = [
      ['envelope hello', () => encodeHello(codec, 1)],
      ['envelope hello with exposed functions', () => encodeHello(codec, 1, ['lookup', 'flag'])],
      ['envelope hello with lanes', () => encodeHello(codec, 1, [], 4)],
      ['envelope call', () => encodeCall(codec, 2, 'functions', 'fib', [20], undefined)],
      ['envelope call listening for progress', () => encodeCall(codec, 12, 'jobs', 'train', [3], undefined, true)],
      ['envelope call with trace context', () => spliceCall(codec, 16, traced(encodeCallBody(codec, 'functions', 'fib', [20], undefined), { trace: { traceparent: TRACEPARENT } }))],
      [
        'envelope call with trace context, baggage and values',
        () =>
          spliceCall(
            codec,
            17,
            traced(encodeCallBody(codec, 'jobs', 'train', [3], undefined), {
              progress: true,
              trace: { traceparent: TRACEPARENT, tracestate: 'vendor=opaque', baggage: 'tenant=acme%20corp' },
              context: { requestId: 'r-17' },
            }),
            true,
          ),
      ],
      [
        'envelope batch with a traced call',
        () =>
          spliceBatch(codec, 18, [
            encodeCallBody(codec, 'functions', 'fib', [10], undefined),
            traced(encodeCallBody(codec, 'functions', 'fib', [11], undefined), { trace: { traceparent: TRACEPARENT } }),
          ]),
      ],
      ['envelope stream with values', () => encodeStream(codec, 19, 'streaming', 'count', [3], undefined, 2, { context: { requestId: 'r-18' } })],
      ['envelope return', () => encodeReturn(codec, 13, { name: 'Ada' })],
      ['envelope return with an array', () => encodeReturn(codec, 13, new Int32Array([3, 4]))],
      ['envelope throw', () => encodeThrow(codec, 14, THROWN)],
      ['envelope resume', () => encodeResume(codec, 15)],
      ['envelope cancel', () => encodeCancel(codec, 7, [[1, 9], [0, 12]])],
    ];
    for (const [name, write] of written) {
      it(name, () => expect(hex(write())).to.deep.equal(hex(framesOf(name))));
    }
  });

  describe('what the worker writes parses to the reply it means', () => {
    it('callback: name, args, no kwargs', () => {
      expect(parseReply(codec.decode(framesOf('envelope callback')))).to.deep.equal({
        kind: 'callback',
        id: 12,
        name: 'lookup',
        args: ['user:1'],
        kwargs: undefined,
      });
    });

    it('callback with kwargs: a plain object', () => {
      const reply = parseReply(codec.decode(framesOf('envelope callback with kwargs')));
      expect(reply).to.deep.equal({ kind: 'callback', id: 12, name: 'find', args: ['x'], kwargs: { limit: 3 } });
    });

    it('callback with an array: a typed array viewing its frame', () => {
      const reply = parseReply(codec.decode(framesOf('envelope callback with an array')));
      expect(reply.kind).to.equal('callback');
      const args = (reply as { args: unknown[] }).args;
      expect(args[0]).to.be.instanceOf(Float64Array).and.deep.equal(new Float64Array([1, 2]));
    });

    it('ready with lanes: the loop and the endpoint of the other lanes', () => {
      expect(parseReply(codec.decode(framesOf('envelope ready with lanes')))).to.deep.equal({
        kind: 'ready',
        id: 1,
        info: {
          pid: 4242,
          python: '3.11.7 (main) [GCC 12.2.0]',
          protocol: 3,
          piton: '0.1.0',
          loop: 'uvloop',
          lanes: 'ipc:///tmp/piton-x/worker.sock-lanes',
          control: 'ipc:///tmp/piton-x/worker.sock-control',
        },
      });
      const plain = parseReply(codec.decode(framesOf('envelope ready')));
      expect(plain).to.deep.include({ kind: 'ready' });
      expect((plain as { info: object }).info).to.deep.equal({ pid: 4242, python: '3.11.7 (main) [GCC 12.2.0]', protocol: 3, piton: '0.1.0', loop: 'asyncio' });
    });

    it("cancelled: the control lane's status of each request named, in order", () => {
      expect(parseReply(codec.decode(framesOf('envelope cancelled')))).to.deep.equal({ kind: 'cancelled', id: 7, statuses: ['cancelled', 'blocked', 'done'] });
      expect(() => parseReply(['cancelled', 7, ['gone']])).to.throw(ProtocolError, "'cancelled' item 2");
    });

    it('progress: any value', () => {
      expect(parseReply(codec.decode(framesOf('envelope progress')))).to.deep.equal({ kind: 'progress', id: 14, value: 0.25 });
    });

    const malformed: [string, unknown[], string][] = [
      ['a callback without kwargs', ['callback', 1, 'f', []], "'callback' must have 5 items"],
      ['a callback whose name is not a string', ['callback', 1, 7, [], null], "'callback' item 2 (name) must be a string"],
      ['a callback whose args are not an array', ['callback', 1, 'f', 'x', null], "'callback' item 3 (args) must be an array"],
      ['a callback whose kwargs have other keys', ['callback', 1, 'f', [], new Map([[1, 2]])], "'callback' item 4 (kwargs)"],
      ['a progress without a value', ['progress', 1], "'progress' must have 3 items"],
    ];
    for (const [what, envelope, says] of malformed) {
      it(`refuses ${what}`, () => {
        expect(() => parseReply(codec.decode(codec.encode(envelope)))).to.throw(ProtocolError, says);
      });
    }
  });

  it('uses ndarray for a 2-d return value like any call', () => {
    const frames = encodeReturn(codec, 3, ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]));
    expect(frames.length).to.equal(2);
  });
});
