/**
 * One Python interpreter process (`python -m piton.worker`) and the one ZeroMQ `Request` socket
 * that talks to it (PROTOCOL.md).
 *
 * Life: `Interpreter.start` makes a private directory (0700) for the `ipc://` endpoint, spawns the
 * worker (which binds), connects a fresh REQ socket, and completes the `hello`/`ready` handshake.
 * From then on one request is outstanding at a time (REQ/REP lock-step). The process's 'exit'
 * event — not a socket timeout — is what fails an outstanding request, so a crash is reported as
 * soon as Node learns of it. After the exit the socket is closed and the directory removed, then
 * `exited` resolves.
 *
 * Replies are matched by id. A reply that cannot be read, or that answers another id, means the
 * socket can no longer be trusted to pair replies with requests: the pending request rejects with
 * {@link ProtocolError}, `onProtocolError` hears of it, and the interpreter is killed (its
 * supervisor starts a fresh one with a fresh socket).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Request } from 'zeromq';
import { createCodec, type Codec } from './codec.js';
import {
  describeExit,
  EncodeError,
  InterpreterStartError,
  MessageTooLargeError,
  PitonError,
  ProtocolError,
  PythonError,
  WorkerExitedError,
} from './errors.js';
import { ChildProcessHandle, type OutputStream, type ProcessExit } from './process.js';
import { RUNTIME_SRC } from './runtime-location.js';
import {
  encodeBatch,
  encodeCall,
  encodeClose,
  encodeHello,
  encodeNext,
  encodeStop,
  encodeStream,
  parseReply,
  PROTOCOL_VERSION,
  toPythonError,
  type BatchCall,
  type Reply,
} from './protocol.js';

export interface InterpreterOptions {
  /** The worker's id, used in errors and output tagging. */
  id: string;
  /** The already-resolved Python executable (see `resolvePython`). */
  python: string;
  /** Absolute directories put first on `sys.path`. */
  path: string[];
  /** Modules imported before the worker reports ready. */
  preload?: string[];
  /** Added to the environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** ms from spawn to the handshake's reply. */
  startTimeout: number;
  /** Largest message in either direction, all frames together, in bytes. */
  maxMessageSize: number;
  /** Modules callable although they are not under `path`. */
  allowModules?: string[];
  /** Allow module and function names starting with `_`. */
  allowPrivate?: boolean;
  /** Every line the interpreter prints. */
  onOutput?: (line: string, stream: OutputStream) => void;
  /** A reply broke the protocol; the pending request rejects with the same error and the interpreter is killed. */
  onProtocolError?: (error: ProtocolError) => void;
}

export interface HandshakeInfo {
  pid: number;
  /** The interpreter's `sys.version`. */
  python: string;
  protocol: number;
  /** The worker runtime's version. */
  piton: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** We asked it to stop (`stop()`). */
  stopRequested: boolean;
  /** We killed it (`kill()`). */
  killed: boolean;
}

export interface StreamOptions {
  /** Items fetched per round trip: the generator runs at most this far ahead. Default 1. */
  batch?: number;
}

export type BatchResult = { ok: true; value: unknown } | { ok: false; error: PythonError };

/** Default grace of `stop()` for each of its two waits (stop request, then SIGTERM), in ms. */
export const DEFAULT_STOP_GRACE_MS = 5_000;

/** What the outstanding request expects back. */
const enum Expect {
  Hello,
  Call,
  Batch,
  Items,
  Closed,
  Bye,
}

interface Inflight {
  id: number;
  expect: Expect;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
  /** For messages: what was being done ("a call to m.f"). Built lazily from these. */
  module: string;
  fn: string;
}

function buildEnv(opts: InterpreterOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  env.PYTHONUNBUFFERED = '1';
  if (RUNTIME_SRC !== undefined) {
    const parts = (env.PYTHONPATH ?? '').split(delimiter).filter((p) => p !== '');
    if (!parts.includes(RUNTIME_SRC)) parts.push(RUNTIME_SRC);
    env.PYTHONPATH = parts.join(delimiter);
  }
  return env;
}

function buildArgs(opts: InterpreterOptions, endpoint: string): string[] {
  const args = ['-m', 'piton.worker', '--endpoint', endpoint, '--parent-pid', String(process.pid)];
  args.push('--max-message-size', String(opts.maxMessageSize));
  for (const dir of opts.path) args.push('--path', dir);
  for (const module of opts.preload ?? []) args.push('--preload', module);
  for (const module of opts.allowModules ?? []) args.push('--allow-module', module);
  if (opts.allowPrivate) args.push('--allow-private');
  return args;
}

function withTail(message: string, tail: string): string {
  return tail === '' ? message : `${message}; stderr:\n${tail}`;
}

export class Interpreter {
  readonly id: string;
  /** The `ipc://` endpoint, inside the interpreter's private directory. */
  readonly endpoint: string;
  /** Resolves (never rejects) after the process exited and the socket and directory are cleaned up. */
  readonly exited: Promise<ExitInfo>;

  readonly #process: ChildProcessHandle;
  readonly #socket: Request;
  readonly #codec: Codec;
  readonly #dir: string;
  readonly #onProtocolError: ((error: ProtocolError) => void) | undefined;
  #info: HandshakeInfo | undefined;
  #nextId = 1;
  #inflight: Inflight | undefined;
  /** A stream is open on the Python side (or reserved and not yet opened). */
  #streamOpen = false;
  #exit: ProcessExit | undefined;
  #stopRequested = false;
  #killed = false;
  #stopping: Promise<ExitInfo> | undefined;

  private constructor(opts: InterpreterOptions, dir: string) {
    this.id = opts.id;
    this.#dir = dir;
    this.#codec = createCodec({ maxMessageSize: opts.maxMessageSize });
    this.#onProtocolError = opts.onProtocolError;
    const endpoint = `ipc://${join(dir, 'worker.sock')}`;
    this.endpoint = endpoint;

    // linger 0: closing never waits for unsent messages. immediate stays false, so a request is
    // queued (not blocked) while the worker is not yet bound or already dead; the process 'exit'
    // fails the request. The socket connects before the worker has bound and retries every
    // reconnect interval, so the interval is how late the handshake may go out after the bind:
    // 2 ms (10 ms cost ~10 ms per start; each retry is one failed connect, ~50 µs of CPU).
    this.#socket = new Request({ linger: 0, reconnectInterval: 2 });
    this.#socket.connect(endpoint);

    this.#process = new ChildProcessHandle({
      command: opts.python,
      args: buildArgs(opts, endpoint),
      env: buildEnv(opts),
      cwd: opts.cwd,
      onLine: opts.onOutput,
    });
    void this.#process.exit.then((exit) => this.#onExit(exit));
    this.exited = this.#process.exit.then(async (exit) => {
      this.#socket.close();
      await Promise.all([rm(dir, { recursive: true, force: true }).catch(() => undefined), this.#process.drained]);
      return { code: exit.code, signal: exit.signal, stopRequested: this.#stopRequested, killed: this.#killed };
    });
  }

  /**
   * Spawns the interpreter and completes the handshake. Rejects with {@link InterpreterStartError}
   * whose message has the cause (the stderr tail, the exit code or signal, or the start timeout),
   * after the process is gone and the directory removed.
   */
  static async start(opts: InterpreterOptions): Promise<Interpreter> {
    const dir = await mkdtemp(join(tmpdir(), 'piton-'));
    let interpreter: Interpreter;
    try {
      await chmod(dir, 0o700);
      interpreter = new Interpreter(opts, dir);
    } catch (error) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw new InterpreterStartError(`Python interpreter ${opts.id} could not be spawned: ${String(error)}`, { cause: error });
    }
    await interpreter.#handshake(opts);
    return interpreter;
  }

  async #handshake(opts: InterpreterOptions): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), opts.startTimeout);
    });
    const id = this.#nextId++;
    const ready = new Promise<HandshakeInfo>((resolve, reject) => {
      this.#begin(encodeHello(this.#codec, id), id, Expect.Hello, resolve, reject, '', '');
    });
    // Rejections of `ready` are read below; this keeps an early one from being reported as unhandled.
    ready.catch(() => undefined);
    let failure: string;
    let cause: unknown;
    try {
      const outcome = await Promise.race([ready, timedOut]);
      if (outcome !== 'timeout') {
        if (outcome.protocol !== PROTOCOL_VERSION) {
          failure = `speaks protocol ${outcome.protocol}, this Node side speaks ${PROTOCOL_VERSION}`;
        } else {
          this.#info = outcome;
          return;
        }
      } else {
        failure = `did not report ready within ${opts.startTimeout} ms`;
      }
    } catch (error) {
      cause = error;
      failure =
        error instanceof WorkerExitedError
          ? `${describeExit(error.exitCode, error.signal)} before reporting ready`
          : error instanceof PythonError
            ? `answered the handshake with ${error.pythonType}: ${error.message}`
            : `failed the handshake: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      clearTimeout(timer);
    }
    this.#killed = true;
    this.#process.signal('SIGKILL');
    const exit = await this.exited;
    const spawnError = this.#exit?.spawnError;
    const tail = this.#process.stderrTail();
    const message = spawnError
      ? `Python interpreter ${this.id} could not be spawned from "${opts.python}": ${spawnError.message}`
      : withTail(`Python interpreter ${this.id} (${opts.python}) ${failure}`, tail);
    throw new InterpreterStartError(message, {
      exitCode: exit.code,
      signal: cause instanceof WorkerExitedError ? exit.signal : null,
      stderrTail: tail,
      cause: spawnError ?? cause,
    });
  }

  get pid(): number {
    return this.#process.pid ?? -1;
  }

  /** The handshake's answer: pid, Python version, protocol version, runtime version. */
  get info(): HandshakeInfo {
    if (this.#info === undefined) throw new PitonError(`interpreter ${this.id} has not completed its handshake`);
    return this.#info;
  }

  /** The last lines the interpreter wrote to stderr (at most 50 lines / 8 KiB). */
  get stderrTail(): string {
    return this.#process.stderrTail();
  }

  get alive(): boolean {
    return this.#exit === undefined;
  }

  /** Alive, and neither stopping nor killed: it may be given another request. */
  get serviceable(): boolean {
    return this.#exit === undefined && !this.#killed && !this.#stopRequested;
  }

  /** A request is outstanding, or a stream is open. */
  get busy(): boolean {
    return this.#inflight !== undefined || this.#streamOpen;
  }

  /**
   * Calls `module.fn(*args, **kwargs)`. Rejects with {@link PythonError} when it raises,
   * {@link EncodeError} / {@link MessageTooLargeError} when the request cannot be sent (nothing
   * was sent), {@link WorkerExitedError} when the process exits first. Calling while busy rejects
   * with a plain `Error`: that is a bug in the caller.
   */
  call(module: string, fn: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<unknown> {
    const refusal = this.#refusal('call');
    if (refusal) return Promise.reject(refusal);
    const id = this.#nextId++;
    let frames: Buffer[];
    try {
      frames = encodeCall(this.#codec, id, module, fn, args, kwargs);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#begin(frames, id, Expect.Call, resolve, reject, module, fn));
  }

  /** Runs several calls in one round trip (protocol kind `batch`); each has its own outcome. */
  callBatch(
    calls: Array<{ module: string; fn: string; args: unknown[]; kwargs?: Record<string, unknown> }>,
  ): Promise<BatchResult[]> {
    const refusal = this.#refusal('callBatch');
    if (refusal) return Promise.reject(refusal);
    const id = this.#nextId++;
    let frames: Buffer[];
    try {
      frames = encodeBatch(this.#codec, id, calls as BatchCall[]);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) =>
      this.#begin(frames, id, Expect.Batch, resolve, reject, 'batch', `of ${calls.length} calls`),
    );
  }

  /**
   * Iterates a Python iterable, pulling `batch` items per round trip as they are consumed. Ending
   * the iteration early (`break` in `for await`) sends `close`, so the generator's `finally` runs.
   * The interpreter is busy from this call until the stream ends.
   */
  stream(
    module: string,
    fn: string,
    args: unknown[],
    kwargs?: Record<string, unknown>,
    opts: StreamOptions = {},
  ): AsyncIterableIterator<unknown> {
    const batch = opts.batch ?? 1;
    if (!Number.isSafeInteger(batch) || batch < 1) {
      throw new RangeError(`stream batch must be an integer >= 1, got ${String(opts.batch)}`);
    }
    const refusal = this.#refusal('stream');
    if (refusal) return failedIterator(refusal);
    this.#streamOpen = true;
    return new PythonStream(this.#streamPort(), module, fn, args, kwargs, batch);
  }

  /**
   * Stops the interpreter: a `stop` request (when no request is outstanding), then after
   * `graceMs` SIGTERM, then after another `graceMs` SIGKILL. Idempotent; resolves with the exit.
   */
  stop(graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<ExitInfo> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  /** SIGKILL now. The exit shows `killed: true`; an outstanding request rejects with {@link WorkerExitedError}. */
  kill(): void {
    if (!this.alive) return;
    this.#killed = true;
    this.#process.signal('SIGKILL');
  }

  async #stop(graceMs: number): Promise<ExitInfo> {
    this.#stopRequested = true;
    if (!this.alive) return this.exited;
    if (this.#inflight === undefined) {
      const id = this.#nextId++;
      this.#streamOpen = false;
      // The reply does not matter: the exit is what we wait for.
      new Promise((resolve, reject) => this.#begin(encodeStop(this.#codec, id), id, Expect.Bye, resolve, reject, '', '')).catch(
        () => undefined,
      );
    } else {
      this.#process.signal('SIGTERM');
    }
    if (await this.#exitWithin(graceMs)) return this.exited;
    this.#process.signal('SIGTERM');
    if (await this.#exitWithin(graceMs)) return this.exited;
    this.#process.signal('SIGKILL');
    return this.exited;
  }

  #exitWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.#process.exit.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #refusal(what: string): Error | undefined {
    if (this.#exit !== undefined) {
      return new WorkerExitedError(this.#exit.code, this.#exit.signal, {
        message: `Python interpreter ${this.id} ${describeExit(this.#exit.code, this.#exit.signal)} before ${what}()`,
        stderrTail: this.#process.stderrTail(),
      });
    }
    if (this.#stopRequested) return new PitonError(`Python interpreter ${this.id} is stopping; ${what}() refused`);
    if (this.busy) {
      return new Error(
        `Python interpreter ${this.id} is busy (${this.#streamOpen ? 'a stream is open' : 'a request is outstanding'}); ` +
          `${what}() must wait until it is idle`,
      );
    }
    return undefined;
  }

  // ---- the request/reply machinery -----------------------------------------------------------

  /** Sends one request; its reply (or the exit) settles `resolve`/`reject`. */
  #begin(
    frames: Buffer[],
    id: number,
    expect: Expect,
    resolve: (value: never) => void,
    reject: (error: unknown) => void,
    module: string,
    fn: string,
  ): void {
    if (this.#exit !== undefined) {
      reject(this.#exitedError(this.#exit, module, fn));
      return;
    }
    this.#inflight = { id, expect, resolve, reject, module, fn };
    this.#socket.send(frames).then(this.#onSent, this.#onSocketError);
  }

  readonly #onSent = (): void => {
    if (this.#inflight === undefined) return;
    this.#socket.receive().then(this.#onReceive, this.#onSocketError);
  };

  readonly #onSocketError = (error: unknown): void => {
    // After the exit the socket is closed on purpose and the request already failed.
    if (this.#exit !== undefined || this.#inflight === undefined) return;
    this.#protocolFailure(new ProtocolError(`socket of interpreter ${this.id} failed: ${String(error)}`, { cause: error }));
  };

  readonly #onReceive = (frames: Buffer[]): void => {
    const inflight = this.#inflight;
    if (inflight === undefined) return;
    let reply: Reply;
    try {
      reply = parseReply(this.#codec.decode(frames));
    } catch (error) {
      if (error instanceof MessageTooLargeError) {
        // The reply was received whole, so the socket is still in step: only this request fails.
        this.#inflight = undefined;
        inflight.reject(error);
        return;
      }
      this.#protocolFailure(
        error instanceof ProtocolError ? error : new ProtocolError(`undecodable reply: ${String(error)}`, { cause: error }),
      );
      return;
    }
    if (reply.id !== inflight.id) {
      this.#protocolFailure(
        new ProtocolError(`interpreter ${this.id} answered request ${reply.id} while request ${inflight.id} was outstanding`),
      );
      return;
    }
    this.#inflight = undefined;
    if (reply.kind === 'error') {
      inflight.reject(toPythonError(reply.error));
      return;
    }
    const settle = inflight.resolve as (value: unknown) => void;
    switch (inflight.expect) {
      case Expect.Call:
        if (reply.kind === 'ok') return settle(reply.value);
        break;
      case Expect.Batch:
        if (reply.kind === 'results') return settle(reply.results);
        break;
      case Expect.Items:
        if (reply.kind === 'items') return settle(reply);
        break;
      case Expect.Closed:
        if (reply.kind === 'closed') return settle(undefined);
        break;
      case Expect.Bye:
        if (reply.kind === 'bye') return settle(undefined);
        break;
      case Expect.Hello:
        if (reply.kind === 'ready') return settle(reply.info);
        break;
    }
    this.#inflight = inflight;
    this.#protocolFailure(new ProtocolError(`interpreter ${this.id} answered request ${reply.id} with an unexpected '${reply.kind}'`));
  };

  /** The socket is out of step: fail the request, report, and kill the interpreter. */
  #protocolFailure(error: ProtocolError): void {
    const inflight = this.#inflight;
    this.#inflight = undefined;
    inflight?.reject(error);
    try {
      this.#onProtocolError?.(error);
    } finally {
      this.kill();
    }
  }

  #onExit(exit: ProcessExit): void {
    this.#exit = exit;
    this.#streamOpen = false;
    const inflight = this.#inflight;
    if (inflight === undefined) return;
    this.#inflight = undefined;
    // A `stop` answered by the exit itself is the expected outcome, not an error.
    if (inflight.expect === Expect.Bye) {
      (inflight.resolve as (value: unknown) => void)(undefined);
      return;
    }
    inflight.reject(this.#exitedError(exit, inflight.module, inflight.fn));
  }

  #exitedError(exit: ProcessExit, module: string, fn: string): WorkerExitedError {
    const during = module === '' ? '' : module === 'batch' ? ` during a batch ${fn}` : ` during a call to ${module}.${fn}`;
    const how = exit.spawnError ? `could not be spawned (${exit.spawnError.message})` : describeExit(exit.code, exit.signal);
    const tail = this.#process.stderrTail();
    return new WorkerExitedError(exit.code, exit.signal, {
      message: `Python interpreter ${this.id} (pid ${this.pid}) ${how}${during}`,
      stderrTail: tail,
    });
  }

  // ---- streams -------------------------------------------------------------------------------

  /** The narrow view of this interpreter a stream needs. */
  #streamPort(): StreamPort {
    return {
      open: (module, fn, args, kwargs, batch) => this.#streamRequest(
        (id) => encodeStream(this.#codec, id, module, fn, args, kwargs, batch), Expect.Items, module, fn),
      next: (batch, module, fn) => this.#streamRequest((id) => encodeNext(this.#codec, id, batch), Expect.Items, module, fn),
      close: (module, fn) => this.#streamRequest((id) => encodeClose(this.#codec, id), Expect.Closed, module, fn),
      end: () => {
        this.#streamOpen = false;
      },
    };
  }

  #streamRequest<T>(encode: (id: number) => Buffer[], expect: Expect, module: string, fn: string): Promise<T> {
    if (this.#exit !== undefined) return Promise.reject(this.#exitedError(this.#exit, module, fn));
    // stop() may have sent its request meanwhile: a second one would break REQ/REP lock-step.
    if (this.#inflight !== undefined || this.#stopRequested) {
      return Promise.reject(new PitonError(`Python interpreter ${this.id} is stopping; the stream of ${module}.${fn} ended`));
    }
    const id = this.#nextId++;
    let frames: Buffer[];
    try {
      frames = encode(id);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => this.#begin(frames, id, expect, resolve, reject, module, fn));
  }
}

interface StreamPort {
  open(module: string, fn: string, args: unknown[], kwargs: Record<string, unknown> | undefined, batch: number): Promise<ItemsReply>;
  next(batch: number, module: string, fn: string): Promise<ItemsReply>;
  close(module: string, fn: string): Promise<void>;
  /** The stream is over: the interpreter is no longer busy because of it. */
  end(): void;
}

type ItemsReply = { items: unknown[]; done: boolean };

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/** The async iterator of `Interpreter.stream`. Calls to next()/return() are served one at a time. */
class PythonStream implements AsyncIterableIterator<unknown> {
  #state: 'unopened' | 'open' | 'ended' = 'unopened';
  #buffer: unknown[] = [];
  #index = 0;
  /** Python reported the iterator exhausted (it closed it itself). */
  #exhausted = false;
  /** port.end() was called: it must happen once, or it could free a later stream's interpreter. */
  #released = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly port: StreamPort,
    private readonly module: string,
    private readonly fn: string,
    private readonly args: unknown[],
    private readonly kwargs: Record<string, unknown> | undefined,
    private readonly batch: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    return this.#serial(() => this.#next());
  }

  return(): Promise<IteratorResult<unknown>> {
    return this.#serial(() => this.#close());
  }

  throw(error?: unknown): Promise<IteratorResult<unknown>> {
    return this.#serial(async () => {
      await this.#close();
      throw error;
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #next(): Promise<IteratorResult<unknown>> {
    if (this.#index < this.#buffer.length) return { done: false, value: this.#buffer[this.#index++] };
    if (this.#state === 'ended' || this.#exhausted) {
      this.#end();
      return DONE;
    }
    let reply: ItemsReply;
    try {
      reply =
        this.#state === 'unopened'
          ? await this.port.open(this.module, this.fn, this.args, this.kwargs, this.batch)
          : await this.port.next(this.batch, this.module, this.fn);
    } catch (error) {
      // An error reply means Python closed the iterator; an exit or a refused request ends it too.
      this.#end();
      throw error;
    }
    this.#state = 'open';
    this.#buffer = reply.items;
    this.#index = 0;
    if (reply.done) {
      this.#exhausted = true;
      // The interpreter is free as soon as Python has closed the iterator; buffered items remain readable.
      this.#release();
    }
    if (this.#index < this.#buffer.length) return { done: false, value: this.#buffer[this.#index++] };
    this.#end();
    return DONE;
  }

  async #close(): Promise<IteratorResult<unknown>> {
    const mustClose = this.#state === 'open' && !this.#exhausted;
    this.#buffer = [];
    this.#index = 0;
    if (mustClose) {
      this.#state = 'ended';
      try {
        await this.port.close(this.module, this.fn);
      } catch (error) {
        // The interpreter died meanwhile: nothing is left to close.
        if (!(error instanceof WorkerExitedError)) {
          this.#end();
          throw error;
        }
      }
    }
    this.#end();
    return DONE;
  }

  #end(): void {
    this.#state = 'ended';
    this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.port.end();
  }
}

function failedIterator(error: Error): AsyncIterableIterator<unknown> {
  let failed = false;
  const iterator: AsyncIterableIterator<unknown> = {
    [Symbol.asyncIterator]: () => iterator,
    next: () => {
      if (failed) return Promise.resolve(DONE);
      failed = true;
      return Promise.reject(error);
    },
    return: () => Promise.resolve(DONE),
  };
  return iterator;
}
