/**
 * The envelopes of PROTOCOL.md on the Node side: building requests and checking replies.
 * Every envelope is `[kind, id, ...]`; a reply carries the id of the request it answers.
 */
import type { Codec } from './codec.js';
import { BatchError, EncodeError, MessageTooLargeError, MissingDependencyError, ProtocolError, PythonError, type PythonReportedError } from '../errors.js';
import type { EncodedCall } from './encoded-call.js';
import { optionsMap, type CallOptionsItem } from './call-options.js';
import { describe } from '../validation.js';

/** The protocol version this side speaks (sent in `hello`). */
export const PROTOCOL_VERSION = 3;

export type Kwargs = Record<string, unknown> | Map<string, unknown>;

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

/** What a worker says of itself in `ready`: the answer to the handshake. */
export interface ReadyInfo {
  pid: number;
  /** The interpreter's `sys.version`. */
  python: string;
  protocol: number;
  /** The worker runtime's version. */
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

/** How one call ended: its value, or its error (for a batch entry, what the worker reported). */
export type Outcome<E = unknown> = { ok: true; value: unknown } | { ok: false; error: E };

/** A reply, checked against PROTOCOL.md. */
export type Reply =
  | { kind: 'ready'; id: number; info: ReadyInfo }
  | { kind: 'ok'; id: number; value: unknown; batched?: BatchPolicy }
  | { kind: 'error'; id: number; error: RemoteError }
  | { kind: 'items'; id: number; items: unknown[]; done: boolean }
  | { kind: 'closed'; id: number }
  | { kind: 'bye'; id: number }
  | { kind: 'results'; id: number; results: Outcome<PythonReportedError>[] }
  | { kind: 'callback'; id: number; name: string; args: unknown[]; kwargs: Record<string, unknown> | undefined }
  | { kind: 'progress'; id: number; value: unknown }
  | { kind: 'cancelled'; id: number; statuses: CancelStatus[] };

// Root names used in EncodeError paths, one per envelope item.
const STREAM_NAMES = ['kind', 'id', 'module', 'function', 'args', 'kwargs', 'batch'] as const;
const SIMPLE_NAMES = ['kind', 'id', 'batch'] as const;
const HELLO_NAMES = ['kind', 'id', 'protocol', 'options'] as const;
const ANSWER_NAMES = ['kind', 'id', 'value'] as const;
const CANCEL_NAMES = ['kind', 'id', 'entries'] as const;
/** The options item of a call whose caller listens for progress. */
export const LISTENING = { progress: true } as const;

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
  options?: CallOptionsItem,
): Buffer[] {
  const map = options && optionsMap(options);
  const envelope = map === undefined ? ['stream', id, module, fn, args, kwargs ?? null, batch] : ['stream', id, module, fn, args, kwargs ?? null, batch, map];
  return codec.encodeEnvelope(envelope, STREAM_NAMES);
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

// The worker's own messages, "request of N bytes exceeds the worker's maximum message size of M
// bytes" (PROTOCOL.md, "Size limits"), give the numbers.
const TOO_LARGE = /of (\d+) bytes exceeds .* of (\d+) bytes/;

// The worker's MissingDependency, "pyarrow is not installed in the worker's Python: …; install it
// with: npx piton setup --arrow", gives the library and the command.
const MISSING = /^(\S+) is not installed\b[^]*; install it with: ([^]+)$/;

/**
 * Turns the error shape into the error it stands for: one class per condition, whichever side
 * found it, so the worker's `EncodeError`, `MessageTooLarge`, `ProtocolError` and `MissingDependency` are the classes
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
    case 'MissingDependency': {
      const found = MISSING.exec(message);
      return new MissingDependencyError(found?.[1] ?? '', found?.[2] ?? '', message, python);
    }
    case 'BatchError':
      return new BatchError(message, traceback);
    default:
      return new PythonError(type, message, traceback);
  }
}

/** MessagePack of the envelopes' fixed starts: fixarray 6 + "call", fixarray 3 + "batch". */
const CALL_HEAD = Buffer.from([0x96, 0xa4, ...Buffer.from('call')]);
/** A call whose caller listens for progress has a 7th item, its options (protocol 2). */
const LISTENING_CALL_HEAD = Buffer.from([0x97, 0xa4, ...Buffer.from('call')]);
const BATCH_HEAD = Buffer.from([0x93, 0xa5, ...Buffer.from('batch')]);
/** The header of a batch entry that carries its options item. */
const BATCH_ENTRY_WITH_OPTIONS = 0x95;

/**
 * `["call", id, module, function, args, kwargs]` from a call encoded in advance: the bytes that
 * envelope encodes to whole, made of the head `["call", id` and the body's four items (the body
 * without its own array header), then, when the caller listens for progress, the options item.
 * (test/wire/envelopes.ts writes the whole envelopes the tests hold this to.)
 */
export function spliceCall(codec: Codec, id: number, call: EncodedCall, listening = false): Buffer[] {
  // A call made with options (trace context, values) carries them, its progress flag among them.
  const options = call.options ?? (listening ? codec.encode(LISTENING)[0]! : undefined);
  const head = options === undefined ? CALL_HEAD : LISTENING_CALL_HEAD;
  const idSize = uintSize(id);
  const frame0 = Buffer.allocUnsafe(head.length + idSize + call.body.length - 1 + (options?.length ?? 0));
  head.copy(frame0, 0);
  writeUint(frame0, head.length, id, idSize);
  const end = head.length + idSize + call.body.copy(frame0, head.length + idSize, 1);
  options?.copy(frame0, end);
  return call.frames.length === 0 ? [frame0] : [frame0, ...call.frames];
}

/**
 * `["batch", id, [[module, function, args, kwargs], …]]` from calls encoded in advance, answered by
 * `["results", id, [[status, value], …]]`: the bytes that envelope encodes to whole. Each call's frames follow those of the calls before it, so its
 * frame indices are renumbered; they must stay one-byte fixints (the batch holds at most
 * `MAX_FIXINT_FRAMES` frames), which {@link fitsInBatch} ensures.
 */
export function spliceBatch(_codec: Codec, id: number, calls: readonly EncodedCall[]): Buffer[] {
  const idSize = uintSize(id);
  const callsHeader = arrayHeader(calls.length);
  const headLength = BATCH_HEAD.length + idSize;
  let length = headLength + callsHeader.length;
  for (const call of calls) length += call.body.length + (call.options?.length ?? 0);
  const frame0 = Buffer.allocUnsafe(length);
  BATCH_HEAD.copy(frame0, 0);
  writeUint(frame0, BATCH_HEAD.length, id, idSize);
  let at = headLength + callsHeader.copy(frame0, headLength);
  const frames: Buffer[] = [frame0];
  for (const call of calls) {
    call.body.copy(frame0, at);
    // With options, the entry is [module, function, args, kwargs, options]: fixarray 5, not 4.
    if (call.options !== undefined) frame0[at] = BATCH_ENTRY_WITH_OPTIONS;
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
    if (call.options !== undefined) at += call.options.copy(frame0, at);
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

/**
 * The kind and id of a reply read from the start of frame 0 alone, for a reply that was received
 * whole but could not be decoded for a reason that leaves the socket in step (an Arrow table
 * without apache-arrow). Undefined when the start is not `[kind, id, …` with a short kind.
 */
export function peekReplyHead(frame0: Buffer): { kind: string; id: number } | undefined {
  const head = frame0[0];
  let at = 1;
  if (head === undefined) return undefined;
  if (head >= 0x92 && head <= 0x9f) at = 1;
  else if (head === 0xdc) at = 3;
  else if (head === 0xdd) at = 5;
  else return undefined;
  const str = frame0[at++];
  if (str === undefined || str < 0xa0 || str > 0xbf) return undefined;
  const end = at + (str & 0x1f);
  if (end > frame0.length) return undefined;
  const kind = frame0.toString('utf8', at, end);
  at = end;
  const form = frame0[at++];
  if (form === undefined) return undefined;
  let id: number | bigint | undefined;
  if (form < 0x80) id = form;
  else if (form === 0xcc && at + 1 <= frame0.length) id = frame0.readUInt8(at);
  else if (form === 0xcd && at + 2 <= frame0.length) id = frame0.readUInt16BE(at);
  else if (form === 0xce && at + 4 <= frame0.length) id = frame0.readUInt32BE(at);
  else if (form === 0xcf && at + 8 <= frame0.length) id = frame0.readBigUInt64BE(at);
  if (id === undefined || id > Number.MAX_SAFE_INTEGER) return undefined;
  return { kind, id: Number(id) };
}

/** How the pool merges calls to a batched function (PROTOCOL.md, "Dynamic batching"). */
export interface BatchPolicy {
  /** Inputs per merged call, at most. */
  readonly maxSize: number;
  /** ms a merged call waits for more inputs once it has one, at most. */
  readonly maxWaitMs: number;
}

/** The 4th item of an `ok`: `{batched: {maxSize, maxWaitMs}}`. */
function parseBatchPolicy(options: unknown): BatchPolicy {
  const batched = (options as { batched?: unknown } | null)?.batched as { maxSize?: unknown; maxWaitMs?: unknown } | undefined;
  const maxSize = batched?.maxSize;
  const maxWaitMs = batched?.maxWaitMs;
  if (typeof options !== 'object' || options === null || typeof batched !== 'object' || batched === null ||
      typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize < 1 ||
      typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0 && maxWaitMs <= 60_000)) {
    fail(`'ok' item 3 must be {batched: {maxSize, maxWaitMs}}, got ${describe(options)}`);
  }
  return { maxSize, maxWaitMs };
}

/** Checks a decoded reply against PROTOCOL.md. Throws {@link ProtocolError} naming what is wrong. */
export function parseReply(envelope: unknown): Reply {
  if (!Array.isArray(envelope)) fail(`expected an array [kind, id, ...], got ${describe(envelope)}`);
  const kind = envelope[0] as unknown;
  const id = replyId(envelope);
  if (typeof kind !== 'string') fail(`kind must be a string, got ${describe(kind)}`);
  if (id === undefined) fail(`'${kind}' has no valid request id`);
  switch (kind) {
    case 'ok': {
      if (envelope.length === 4) return { kind, id, value: envelope[2], batched: parseBatchPolicy(envelope[3]) };
      expectLength(kind, envelope, 3);
      return { kind, id, value: envelope[2] };
    }
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
