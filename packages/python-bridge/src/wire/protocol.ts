/**
 * The envelopes of PROTOCOL.md on the Node side: building requests and checking replies.
 * Every envelope is `[kind, id, ...]`; a reply carries the id of the request it answers.
 */
import type { Codec } from './codec.js';
import { EncodeError, MessageTooLargeError, ProtocolError, PythonError, type PythonReportedError } from '../errors.js';
import type { EncodedCall } from './encoded-call.js';

/** The protocol version this side speaks (sent in `hello`). */
export const PROTOCOL_VERSION = 3;

export type Kwargs = Record<string, unknown> | Map<string, unknown>;

/** One call of a `batch` request. */
export interface BatchCall {
  module: string;
  fn: string;
  args: unknown[];
  kwargs?: Record<string, unknown>;
}

/** The error shape of an `error` reply (and of a failed batch entry). */
export interface RemoteError {
  type: string;
  message: string;
  traceback: string;
}

/** What Node tells Python of an exposed function's error (`throw`): Python raises `NodeError` with it. */
export interface ThrownError {
  name: string;
  message: string;
  stack: string;
}

export interface ReadyInfo {
  pid: number;
  python: string;
  protocol: number;
  piton: string;
  /** The event loop the interpreter runs coroutines on: `'uvloop'` or `'asyncio'` ('' if it did not say). */
  loop: string;
  /** Where the other lanes connect (PROTOCOL.md, "Lanes"), when the hello asked for more than one. */
  lanes?: string;
  /** Where the control lane connects (PROTOCOL.md, "Cancelling"). */
  control?: string;
}

/** What the control lane says of a request it was asked to cancel (PROTOCOL.md, "Cancelling"). */
export type CancelStatus = 'cancelled' | 'blocked' | 'done';
const CANCEL_STATUSES: readonly string[] = ['cancelled', 'blocked', 'done'];

/** A reply, checked against PROTOCOL.md. */
export type Reply =
  | { kind: 'ready'; id: number; info: ReadyInfo }
  | { kind: 'ok'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: RemoteError }
  | { kind: 'items'; id: number; items: unknown[]; done: boolean }
  | { kind: 'closed'; id: number }
  | { kind: 'bye'; id: number }
  | { kind: 'results'; id: number; results: Array<{ ok: true; value: unknown } | { ok: false; error: PythonReportedError }> }
  | { kind: 'callback'; id: number; name: string; args: unknown[]; kwargs: Record<string, unknown> | undefined }
  | { kind: 'progress'; id: number; value: unknown }
  | { kind: 'cancelled'; id: number; statuses: CancelStatus[] };

// Root names used in EncodeError paths, one per envelope item.
const CALL_NAMES = ['kind', 'id', 'module', 'function', 'args', 'kwargs', 'options'] as const;
const STREAM_NAMES = ['kind', 'id', 'module', 'function', 'args', 'kwargs', 'batch'] as const;
const SIMPLE_NAMES = ['kind', 'id', 'batch'] as const;
const BATCH_NAMES = ['kind', 'id', 'calls'] as const;
const HELLO_NAMES = ['kind', 'id', 'protocol', 'options'] as const;
const ANSWER_NAMES = ['kind', 'id', 'value'] as const;
const CANCEL_NAMES = ['kind', 'id', 'entries'] as const;
/** The options item of a call whose caller listens for progress. */
const LISTENING = { progress: true } as const;

/**
 * `["hello", id, protocol]`, with an options map when there is something to say: `{expose:
 * [names]}` when Python may call Node functions, `{lanes: n}` when Node opens n > 1 lanes.
 */
export function encodeHello(codec: Codec, id: number, expose: readonly string[] = [], lanes = 1): Buffer[] {
  const options: { expose?: readonly string[]; lanes?: number } = {};
  if (expose.length > 0) options.expose = expose;
  if (lanes > 1) options.lanes = lanes;
  const envelope = options.expose === undefined && options.lanes === undefined ? ['hello', id, PROTOCOL_VERSION] : ['hello', id, PROTOCOL_VERSION, options];
  return codec.encodeEnvelope(envelope, HELLO_NAMES);
}

export function encodeCall(
  codec: Codec,
  id: number,
  module: string,
  fn: string,
  args: readonly unknown[],
  kwargs: Kwargs | undefined,
  listening = false,
): Buffer[] {
  // Without a listener the options item is left out: the worker's fast path takes 6 items.
  const envelope = listening ? ['call', id, module, fn, args, kwargs ?? null, LISTENING] : ['call', id, module, fn, args, kwargs ?? null];
  return codec.encodeEnvelope(envelope, CALL_NAMES);
}

/** `["cancel", id, [[lane, request], …]]`: the control lane's one request (PROTOCOL.md, "Cancelling"). */
export function encodeCancel(codec: Codec, id: number, entries: readonly (readonly [lane: number, request: number])[]): Buffer[] {
  return codec.encodeEnvelope(['cancel', id, entries], CANCEL_NAMES);
}

/** `["return", id, value]`: the answer to a `callback`, the exposed function's result. */
export function encodeReturn(codec: Codec, id: number, value: unknown): Buffer[] {
  return codec.encodeEnvelope(['return', id, value], ANSWER_NAMES);
}

/** `["throw", id, {name, message, stack}]`: the answer to a `callback` whose function threw. */
export function encodeThrow(codec: Codec, id: number, error: ThrownError): Buffer[] {
  return codec.encodeEnvelope(['throw', id, { name: error.name, message: error.message, stack: error.stack }], ANSWER_NAMES);
}

/** `["resume", id]`: the answer to a `progress` message. */
export function encodeResume(codec: Codec, id: number): Buffer[] {
  return codec.encodeEnvelope(['resume', id], SIMPLE_NAMES);
}

export function encodeStream(
  codec: Codec,
  id: number,
  module: string,
  fn: string,
  args: readonly unknown[],
  kwargs: Kwargs | undefined,
  batch: number,
): Buffer[] {
  return codec.encodeEnvelope(['stream', id, module, fn, args, kwargs ?? null, batch], STREAM_NAMES);
}

export function encodeNext(codec: Codec, id: number, batch: number): Buffer[] {
  return codec.encodeEnvelope(['next', id, batch], SIMPLE_NAMES);
}

export function encodeClose(codec: Codec, id: number): Buffer[] {
  return codec.encodeEnvelope(['close', id], SIMPLE_NAMES);
}

export function encodeStop(codec: Codec, id: number): Buffer[] {
  return codec.encodeEnvelope(['stop', id], SIMPLE_NAMES);
}

/** `["batch", id, [[module, function, args, kwargs], …]]`, answered by `["results", id, [[status, value], …]]`. */
export function encodeBatch(codec: Codec, id: number, calls: readonly BatchCall[]): Buffer[] {
  const items = calls.map((c) => [c.module, c.fn, c.args, c.kwargs ?? null]);
  try {
    return codec.encodeEnvelope(['batch', id, items], BATCH_NAMES);
  } catch (err) {
    // Name the call the way the caller wrote it: calls[2].args[0] rather than calls[2][2][0].
    if (err instanceof EncodeError) {
      const path = err.path.replace(/^calls\[(\d+)\]\[(\d)\]/, (_m, i: string, field: string) => {
        return `calls[${i}].${BATCH_CALL_FIELDS[Number(field)] ?? field}`;
      });
      if (path !== err.path) throw new EncodeError(err.message.replace(err.path, path), path);
    }
    throw err;
  }
}

const BATCH_CALL_FIELDS = ['module', 'fn', 'args', 'kwargs'];

// The worker's own messages, "request of N bytes exceeds the worker's maximum message size of M
// bytes" (PROTOCOL.md, "Size limits"), give the numbers.
const TOO_LARGE = /of (\d+) bytes exceeds .* of (\d+) bytes/;

/**
 * Turns the error shape into the error it stands for: one class per condition, whichever side
 * found it, so the worker's `EncodeError`, `MessageTooLarge` and `ProtocolError` are the classes
 * Node uses for the same conditions (with `origin: 'python'`); any other type is a {@link PythonError}.
 */
export function toPythonError({ type, message, traceback }: RemoteError): PythonReportedError {
  const python = { type, traceback };
  switch (type) {
    case 'EncodeError':
      return new EncodeError(message, '', python);
    case 'MessageTooLarge': {
      const numbers = TOO_LARGE.exec(message);
      return new MessageTooLargeError(Number(numbers?.[1] ?? NaN), Number(numbers?.[2] ?? NaN), message, python);
    }
    case 'ProtocolError':
      return new ProtocolError(message, { python });
    default:
      return new PythonError(type, message, traceback);
  }
}

/** MessagePack of the envelopes' fixed starts: fixarray 6 + "call", fixarray 3 + "batch". */
const CALL_HEAD = Buffer.from([0x96, 0xa4, ...Buffer.from('call')]);
/** A call whose caller listens for progress has a 7th item, its options (protocol 2). */
const LISTENING_CALL_HEAD = Buffer.from([0x97, 0xa4, ...Buffer.from('call')]);
const BATCH_HEAD = Buffer.from([0x93, 0xa5, ...Buffer.from('batch')]);

/**
 * `["call", id, module, function, args, kwargs]` from a call encoded in advance: the same bytes
 * {@link encodeCall} writes, made of the head `["call", id` and the body's four items (the body
 * without its own array header), then, when the caller listens for progress, the options item.
 */
export function spliceCall(codec: Codec, id: number, call: EncodedCall, listening = false): Buffer[] {
  const head = listening ? LISTENING_CALL_HEAD : CALL_HEAD;
  const options = listening ? codec.encode(LISTENING)[0]! : undefined;
  const idSize = uintSize(id);
  const frame0 = Buffer.allocUnsafe(head.length + idSize + call.body.length - 1 + (options?.length ?? 0));
  head.copy(frame0, 0);
  writeUint(frame0, head.length, id, idSize);
  const end = head.length + idSize + call.body.copy(frame0, head.length + idSize, 1);
  options?.copy(frame0, end);
  return call.frames.length === 0 ? [frame0] : [frame0, ...call.frames];
}

/**
 * `["batch", id, [[module, function, args, kwargs], …]]` from calls encoded in advance: the same
 * bytes {@link encodeBatch} writes. Each call's frames follow those of the calls before it, so its
 * frame indices are renumbered; they must stay one-byte fixints (the batch holds at most
 * `MAX_FIXINT_FRAMES` frames), which {@link fitsInBatch} ensures.
 */
export function spliceBatch(_codec: Codec, id: number, calls: readonly EncodedCall[]): Buffer[] {
  const idSize = uintSize(id);
  const callsHeader = arrayHeader(calls.length);
  const headLength = BATCH_HEAD.length + idSize;
  let length = headLength + callsHeader.length;
  for (const call of calls) length += call.body.length;
  const frame0 = Buffer.allocUnsafe(length);
  BATCH_HEAD.copy(frame0, 0);
  writeUint(frame0, BATCH_HEAD.length, id, idSize);
  let at = headLength + callsHeader.copy(frame0, headLength);
  const frames: Buffer[] = [frame0];
  for (const call of calls) {
    call.body.copy(frame0, at);
    const offset = frames.length - 1;
    if (offset > 0) {
      for (let i = 0; i < call.frameIndexAt.length; i++) {
        const index = offset + i + 1;
        if (index > 0x7f) throw new RangeError(`a batch may hold at most 127 array frames, got ${index}`);
        frame0[at + call.frameIndexAt[i]!] = index;
      }
    }
    for (const frame of call.frames) frames.push(frame);
    at += call.body.length;
  }
  return frames;
}

/** Bytes of a non-negative integer in its smallest MessagePack form (PROTOCOL.md, canonical encoding). */
function uintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

/** Writes `n` (a safe integer >= 0) in its smallest MessagePack form of `size` bytes. */
function writeUint(buf: Buffer, at: number, n: number, size: number): void {
  switch (size) {
    case 1:
      buf[at] = n;
      return;
    case 2:
      buf[at] = 0xcc;
      buf[at + 1] = n;
      return;
    case 3:
      buf[at] = 0xcd;
      buf.writeUInt16BE(n, at + 1);
      return;
    case 5:
      buf[at] = 0xce;
      buf.writeUInt32BE(n, at + 1);
      return;
    default:
      buf[at] = 0xcf;
      buf.writeBigUInt64BE(BigInt(n), at + 1);
  }
}

/** A MessagePack array header (fixarray, array 16, array 32). */
function arrayHeader(length: number): Buffer {
  if (length < 16) return Buffer.of(0x90 | length);
  if (length < 0x10000) return Buffer.of(0xdc, length >> 8, length & 0xff);
  const header = Buffer.alloc(5);
  header[0] = 0xdd;
  header.writeUInt32BE(length, 1);
  return header;
}

function fail(what: string): never {
  throw new ProtocolError(`malformed reply: ${what}`);
}

function describe(value: unknown): string {
  if (value === null) return 'nil';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}

function parseRemoteError(value: unknown, where: string): RemoteError {
  if (!isRecord(value)) fail(`${where} must be a map {type, message, traceback}, got ${describe(value)}`);
  const { type, message, traceback } = value;
  if (typeof type !== 'string' || typeof message !== 'string') {
    fail(`${where} must have string fields type and message`);
  }
  return { type, message, traceback: typeof traceback === 'string' ? traceback : '' };
}

function expectLength(kind: string, envelope: unknown[], n: number): void {
  if (envelope.length !== n) fail(`'${kind}' must have ${n} items, got ${envelope.length}`);
}

/** The id of a decoded reply, or undefined if it has none (it is then malformed). */
export function replyId(envelope: unknown): number | undefined {
  if (!Array.isArray(envelope) || envelope.length < 2) return undefined;
  const id = envelope[1] as unknown;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

/** Checks a decoded reply against PROTOCOL.md. Throws {@link ProtocolError} naming what is wrong. */
export function parseReply(envelope: unknown): Reply {
  if (!Array.isArray(envelope)) fail(`expected an array [kind, id, ...], got ${describe(envelope)}`);
  const kind = envelope[0] as unknown;
  const id = replyId(envelope);
  if (typeof kind !== 'string') fail(`kind must be a string, got ${describe(kind)}`);
  if (id === undefined) fail(`'${kind}' has no valid request id`);
  switch (kind) {
    case 'ok':
      expectLength(kind, envelope, 3);
      return { kind, id, value: envelope[2] };
    case 'error':
      expectLength(kind, envelope, 3);
      return { kind, id, error: parseRemoteError(envelope[2], "'error' item 2") };
    case 'items': {
      expectLength(kind, envelope, 4);
      const items = envelope[2] as unknown;
      const done = envelope[3] as unknown;
      if (!Array.isArray(items)) fail(`'items' item 2 must be an array, got ${describe(items)}`);
      if (typeof done !== 'boolean') fail(`'items' item 3 (done) must be a boolean, got ${describe(done)}`);
      return { kind, id, items, done };
    }
    case 'ready': {
      expectLength(kind, envelope, 3);
      const info = envelope[2] as unknown;
      if (!isRecord(info)) fail(`'ready' item 2 must be a map, got ${describe(info)}`);
      const { pid, python, protocol, piton, loop, lanes, control } = info;
      if (typeof pid !== 'number' || typeof protocol !== 'number') fail(`'ready' must carry numeric pid and protocol`);
      if (lanes !== undefined && typeof lanes !== 'string') fail(`'ready' item lanes must be an endpoint string, got ${describe(lanes)}`);
      if (control !== undefined && typeof control !== 'string') fail(`'ready' item control must be an endpoint string, got ${describe(control)}`);
      const ready: ReadyInfo = {
        pid,
        protocol,
        python: typeof python === 'string' ? python : '',
        piton: typeof piton === 'string' ? piton : '',
        loop: typeof loop === 'string' ? loop : '',
      };
      if (lanes !== undefined) ready.lanes = lanes;
      if (control !== undefined) ready.control = control;
      return { kind, id, info: ready };
    }
    case 'closed':
    case 'bye':
      expectLength(kind, envelope, 2);
      return { kind, id };
    case 'results': {
      expectLength(kind, envelope, 3);
      const entries = envelope[2] as unknown;
      if (!Array.isArray(entries)) fail(`'results' item 2 must be an array, got ${describe(entries)}`);
      const results = entries.map((entry: unknown, i) => {
        if (!Array.isArray(entry) || entry.length !== 2) fail(`'results' entry ${i} must be [status, value]`);
        if (entry[0] === 'ok') return { ok: true as const, value: entry[1] as unknown };
        if (entry[0] === 'error') return { ok: false as const, error: toPythonError(parseRemoteError(entry[1], `'results' entry ${i}`)) };
        return fail(`'results' entry ${i} has status ${JSON.stringify(entry[0])}; expected "ok" or "error"`);
      });
      return { kind, id, results };
    }
    case 'callback': {
      expectLength(kind, envelope, 5);
      const name = envelope[2] as unknown;
      const args = envelope[3] as unknown;
      const kwargs = envelope[4] as unknown;
      if (typeof name !== 'string') fail(`'callback' item 2 (name) must be a string, got ${describe(name)}`);
      if (!Array.isArray(args)) fail(`'callback' item 3 (args) must be an array, got ${describe(args)}`);
      if (kwargs !== null && !isRecord(kwargs)) fail(`'callback' item 4 (kwargs) must be a map with string keys or nil, got ${describe(kwargs)}`);
      return { kind, id, name, args, kwargs: kwargs ?? undefined };
    }
    case 'progress':
      expectLength(kind, envelope, 3);
      return { kind, id, value: envelope[2] };
    case 'cancelled': {
      expectLength(kind, envelope, 3);
      const statuses = envelope[2] as unknown;
      if (!Array.isArray(statuses) || !statuses.every((v) => typeof v === 'string' && CANCEL_STATUSES.includes(v))) {
        fail(`'cancelled' item 2 must be an array of "cancelled", "blocked" or "done", got ${describe(statuses)}`);
      }
      return { kind, id, statuses: statuses as CancelStatus[] };
    }
    default:
      return fail(`unknown reply kind ${JSON.stringify(kind).slice(0, 60)}`);
  }
}
