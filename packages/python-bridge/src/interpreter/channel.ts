/**
 * The REQ channel to one worker: one ZeroMQ `Request` socket, one request outstanding at a time
 * (REQ/REP lock-step), replies matched by id (PROTOCOL.md).
 *
 * The channel knows nothing of how its worker was made. Whoever owns it tells it when the worker
 * has exited ({@link RequestChannel.fail}): that, not a socket timeout, is what fails an outstanding
 * request, so a crash is reported as soon as it is known.
 *
 * While it answers a request, the worker may ask something of Node instead of replying (PROTOCOL.md,
 * "Calling back into Node"): a `callback` runs an exposed function and its result goes back as
 * the next request (`return`/`throw`); a `progress` reaches the listener and `resume` goes back.
 * The original request stays outstanding throughout; the worker's replies from then on answer
 * the latest of these requests, so the id the channel waits for follows them. If the worker
 * exits (or the request is failed) while a function runs, its result is dropped.
 *
 * A reply that cannot be read, or that answers another id, means the socket can no longer be
 * trusted to pair replies with requests: the pending request rejects with {@link ProtocolError}
 * and `onProtocolError` hears of it (the owner kills the worker; a fresh one gets a fresh socket).
 * A reply that is merely too large was received whole, so only its request fails; so does one that
 * holds an Arrow table while apache-arrow cannot be loaded (if it was the worker's question, the
 * answer is a `throw` naming the missing library, and the conversation goes on).
 *
 * apache-arrow is loaded (wire/arrow-module.ts) before the first reply that holds a table is
 * decoded, and before the first request that holds one is encoded: each waits for it once.
 */
import { Request } from 'zeromq';
import { thrownOf, type Conversation } from './callbacks.js';
import { ArrowNotLoaded, arrowLoadSettled, createCodec, loadArrow, looksLikeIPC, type Codec } from '../wire/codec.js';
import type { ConnectTarget } from '../launch/launcher.js';
import { MessageTooLargeError, MissingDependencyError, ProtocolError } from '../errors.js';
import { encodeResume, encodeReturn, encodeThrow, parseReply, peekReplyHead, toPythonError, type BatchPolicy, type Reply } from '../wire/protocol.js';

/** What the outstanding request expects back. */
export const enum Expect {
  Hello,
  Call,
  Batch,
  Items,
  Closed,
  Bye,
  Cancelled,
}

/** The reply kind each expectation accepts (any request may also get `error`). */
const EXPECTED_KIND: Record<Expect, Reply['kind']> = {
  [Expect.Hello]: 'ready',
  [Expect.Call]: 'ok',
  [Expect.Batch]: 'results',
  [Expect.Items]: 'items',
  [Expect.Closed]: 'closed',
  [Expect.Bye]: 'bye',
  [Expect.Cancelled]: 'cancelled',
};

/** What a request is about, for error messages (`a call to m.f`, `a batch of 3 calls`); `''` for none. */
export type RequestLabel = string;

interface Inflight {
  label: RequestLabel;
  /** The id the next reply must carry: the request's, then that of each answer sent since. */
  id: number;
  /** The request's own id (what the control lane names it by). */
  readonly first: number;
  /** Its caller gave up on it (cancelled): progress no longer reaches the listener. */
  abandoned: boolean;
  expect: Expect;
  conversation: Conversation | undefined;
  /** What a progress listener threw: the request rejects with it once the worker has answered. */
  listenerError?: { error: unknown };
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
}

export interface ChannelOptions {
  endpoint: string;
  codec: Codec;
  /** The owner's name for the worker, in error messages. */
  id: string;
  /** The socket is out of step; the request already rejected with `error`. */
  onProtocolError: (error: ProtocolError) => void;
  /**
   * For a worker on another host: the socket's CURVE keys and heartbeats (see `ConnectTarget`);
   * for a lane after the first, its routing id (its number, PROTOCOL.md "Lanes").
   */
  socketOptions?: Partial<ConnectTarget['socketOptions']> & { routingId?: string };
  /** Told when an established connection drops (only asked for remote workers). */
  onDisconnect?: (address: string) => void;
  /** Told when a reply says the function called is a batched one, and how to merge calls to it. */
  onBatched?: (policy: BatchPolicy) => void;
}

export class RequestChannel {
  readonly #socket: Request;
  readonly #codec: Codec;
  /**
   * Decodes replies that carry several entries (`results`, `items`): the worker stops adding
   * entries once the reply reaches the limit, so such a reply may exceed it by one entry, itself
   * within the limit (PROTOCOL.md, "Size limits"): twice the limit at most.
   */
  #entriesCodec: Codec | undefined;
  readonly #id: string;
  readonly #onProtocolError: (error: ProtocolError) => void;
  readonly #onBatched: ((policy: BatchPolicy) => void) | undefined;
  #nextId = 1;
  #inflight: Inflight | undefined;
  /** Set by fail(): every later request rejects with what it makes. */
  #failure: ((label: RequestLabel) => Error) | undefined;

  constructor(opts: ChannelOptions) {
    this.#codec = opts.codec;
    this.#id = opts.id;
    this.#onProtocolError = opts.onProtocolError;
    this.#onBatched = opts.onBatched;
    // linger 0: closing never waits for unsent messages. immediate stays false, so a request is
    // queued (not blocked) while the worker is not yet bound or already dead; the owner's fail()
    // rejects it. The socket connects before the worker has bound and retries every reconnect
    // interval, so the interval is how late the handshake may go out after the bind: 2 ms (10 ms
    // cost ~10 ms per start; each retry is one failed connect, ~50 µs of CPU).
    this.#socket = new Request({ linger: 0, reconnectInterval: 2, ...opts.socketOptions });
    const onDisconnect = opts.onDisconnect;
    if (onDisconnect !== undefined) this.#socket.events.on('disconnect', (event) => onDisconnect(event.address));
    this.#socket.connect(opts.endpoint);
  }

  /** A request is outstanding. */
  get pending(): boolean {
    return this.#inflight !== undefined;
  }

  /** The outstanding request's own id (not that of the answers sent since), if one is outstanding. */
  get outstandingId(): number | undefined {
    return this.#inflight?.first;
  }

  /**
   * Its caller gave up on the outstanding request (it was cancelled): the request stays
   * outstanding until the worker replies (the lane is not free before), its callbacks are still
   * answered, but its progress no longer reaches the listener.
   */
  abandon(): void {
    if (this.#inflight) this.#inflight.abandoned = true;
  }

  /**
   * Sends one request made by `encode(id)`; resolves with the reply's payload for `expect`, rejects
   * with the Python error, the encoding error (nothing was sent), or what `fail()` was given.
   * Sending while another request is outstanding is a bug in the caller and rejects at once.
   */
  request<T>(
    encode: (codec: Codec, id: number) => Buffer[],
    expect: Expect,
    label: RequestLabel,
    conversation?: Conversation,
  ): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure(label));
    if (this.#inflight !== undefined) {
      return Promise.reject(new Error(`channel of interpreter ${this.#id}: a request is already outstanding`));
    }
    const id = this.#nextId++;
    let frames: Buffer[];
    try {
      frames = encode(this.#codec, id);
    } catch (error) {
      if (error instanceof ArrowNotLoaded) return loadArrow().then(() => this.request<T>(encode, expect, label, conversation));
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      this.#inflight = {
        id,
        first: id,
        abandoned: false,
        expect,
        conversation,
        resolve: resolve as (value: never) => void,
        reject,
        label,
      };
      this.#socket.send(frames).then(this.#onSent, this.#onSocketError);
    });
  }

  /**
   * The worker is gone: the outstanding request settles (a `stop` is answered by the exit itself;
   * anything else rejects with `makeError`), every later request rejects, and the socket closes.
   */
  fail(makeError: (label: RequestLabel) => Error): void {
    this.#failure ??= makeError;
    const inflight = this.#inflight;
    this.#inflight = undefined;
    this.#socket.close();
    if (inflight === undefined) return;
    if (inflight.expect === Expect.Bye) (inflight.resolve as (value: unknown) => void)(undefined);
    else inflight.reject(makeError(inflight.label));
  }

  readonly #onSent = (): void => {
    if (this.#inflight === undefined) return;
    this.#socket.receive().then(this.#onReceive, this.#onSocketError);
  };

  readonly #onSocketError = (error: unknown): void => {
    // After fail() the socket is closed on purpose and the request already settled.
    if (this.#failure !== undefined || this.#inflight === undefined) return;
    this.#protocolFailure(new ProtocolError(`socket of interpreter ${this.#id} failed: ${String(error)}`, { cause: error }));
  };

  readonly #onReceive = (frames: Buffer[]): void => {
    const inflight = this.#inflight;
    if (inflight === undefined) return;
    if (frames.length > 1 && !arrowLoadSettled() && frames.some((frame, i) => i > 0 && looksLikeIPC(frame))) {
      // The first table to arrive: make it with the program's own apache-arrow, once loaded.
      void loadArrow().then(() => this.#onReceive(frames));
      return;
    }
    let reply: Reply;
    try {
      const codec = inflight.expect === Expect.Batch || inflight.expect === Expect.Items ? this.#entriesDecoder() : this.#codec;
      reply = parseReply(codec.decode(frames));
    } catch (error) {
      if (error instanceof MessageTooLargeError) {
        this.#inflight = undefined;
        inflight.reject(error);
        return;
      }
      if (error instanceof MissingDependencyError) {
        this.#undecodableValue(inflight, frames[0]!, error);
        return;
      }
      this.#protocolFailure(
        error instanceof ProtocolError ? error : new ProtocolError(`undecodable reply: ${String(error)}`, { cause: error }),
      );
      return;
    }
    if (reply.id !== inflight.id) {
      this.#protocolFailure(
        new ProtocolError(`interpreter ${this.#id} answered request ${reply.id} while request ${inflight.id} was outstanding`),
      );
      return;
    }
    if ((reply.kind === 'callback' || reply.kind === 'progress') && inflight.expect !== Expect.Hello && inflight.expect !== Expect.Bye) {
      this.#converse(inflight, reply);
      return;
    }
    if (reply.kind === 'error') {
      this.#inflight = undefined;
      inflight.reject(inflight.listenerError ? inflight.listenerError.error : toPythonError(reply.error));
      return;
    }
    if (reply.kind !== EXPECTED_KIND[inflight.expect]) {
      this.#protocolFailure(
        new ProtocolError(`interpreter ${this.#id} answered request ${reply.id} with an unexpected '${reply.kind}'`),
      );
      return;
    }
    this.#inflight = undefined;
    if (reply.kind === 'ok' && reply.batched !== undefined) this.#onBatched?.(reply.batched);
    if (inflight.listenerError) inflight.reject(inflight.listenerError.error);
    else (inflight.resolve as (value: unknown) => void)(payloadOf(reply));
  };

  /**
   * A reply received whole whose value cannot be made here (an Arrow table without apache-arrow):
   * a question of the worker is answered so that it goes on (a `callback` with a `throw` of
   * `error`, a `progress` with `resume`, the request then rejecting with `error`); any other reply
   * rejects the request with `error`. The socket stays in step either way.
   */
  #undecodableValue(inflight: Inflight, frame0: Buffer, error: MissingDependencyError): void {
    const head = peekReplyHead(frame0);
    if (head === undefined || head.id !== inflight.id) {
      this.#protocolFailure(new ProtocolError(`undecodable reply from interpreter ${this.#id}: ${error.message}`, { cause: error }));
      return;
    }
    const converses = inflight.expect !== Expect.Hello && inflight.expect !== Expect.Bye;
    if (head.kind === 'callback' && converses) {
      this.#answer(inflight, (codec, id) => encodeThrow(codec, id, thrownOf(error)));
      return;
    }
    if (head.kind === 'progress' && converses) {
      inflight.listenerError ??= { error };
      this.#answer(inflight, (codec, id) => encodeResume(codec, id));
      return;
    }
    this.#inflight = undefined;
    inflight.reject(error);
  }

  /** The worker asked something of Node while answering `inflight`: answer, then wait again. */
  #converse(inflight: Inflight, reply: Extract<Reply, { kind: 'callback' | 'progress' }>): void {
    if (reply.kind === 'progress') {
      if (inflight.listenerError === undefined && !inflight.abandoned) {
        try {
          inflight.conversation?.progress?.(reply.value);
        } catch (error) {
          inflight.listenerError = { error };
        }
      }
      this.#answer(inflight, (codec, id) => encodeResume(codec, id));
      return;
    }
    const run = inflight.conversation?.callback;
    let result: Promise<unknown>;
    if (run === undefined) {
      result = Promise.reject(new ReferenceError(`no Node function is exposed to Python here (asked for ${JSON.stringify(reply.name)})`));
    } else {
      try {
        result = run(reply.name, reply.args, reply.kwargs);
      } catch (error) {
        result = Promise.reject(error);
      }
    }
    result.then(
      (value) => this.#answer(inflight, (codec, id) => encodeReturn(codec, id, value)),
      (error: unknown) => this.#answer(inflight, (codec, id) => encodeThrow(codec, id, thrownOf(error))),
    );
  }

  /**
   * Sends the answer to the worker's question as the next request, unless the request was given
   * up meanwhile (the worker exited, or the channel failed): then the answer is dropped. An answer
   * that cannot be sent (a value of a type calls cannot carry, or too large) goes as a `throw`
   * naming why, so Python raises instead of waiting.
   */
  #answer(inflight: Inflight, encode: (codec: Codec, id: number) => Buffer[]): void {
    if (this.#inflight !== inflight || this.#failure !== undefined) return;
    const id = this.#nextId++;
    let frames: Buffer[];
    try {
      frames = encode(this.#codec, id);
    } catch (error) {
      if (error instanceof ArrowNotLoaded) {
        void loadArrow().then(() => this.#answer(inflight, encode));
        return;
      }
      try {
        frames = encodeThrow(this.#codec, id, thrownOf(error));
      } catch (unsendable) {
        this.#protocolFailure(new ProtocolError(`cannot answer the worker of interpreter ${this.#id}: ${String(unsendable)}`));
        return;
      }
    }
    inflight.id = id;
    this.#socket.send(frames).then(this.#onSent, this.#onSocketError);
  }

  #entriesDecoder(): Codec {
    this.#entriesCodec ??= createCodec({ maxMessageSize: 2 * this.#codec.maxMessageSize + ENTRIES_SLACK });
    return this.#entriesCodec;
  }

  /** The socket is out of step: fail the request and report (the owner kills the worker). */
  #protocolFailure(error: ProtocolError): void {
    const inflight = this.#inflight;
    this.#inflight = undefined;
    inflight?.reject(error);
    this.#onProtocolError(error);
  }
}

/** Bytes of a `results`/`items` envelope around its entries, at most (kind, id, headers, done). */
const ENTRIES_SLACK = 64;

/** What a request resolves with, per reply kind. */
function payloadOf(reply: Reply): unknown {
  switch (reply.kind) {
    case 'ok':
      return reply.value;
    case 'results':
      return reply.results;
    case 'items':
      return reply;
    case 'ready':
      return reply.info;
    case 'cancelled':
      return reply.statuses;
    default:
      return undefined;
  }
}
