/**
 * One Python interpreter: a worker process made by a {@link Launcher} and the {@link RequestChannel}
 * that talks to it (PROTOCOL.md).
 *
 * Life: `Interpreter.start` makes a private directory (0700, `socket-dir.ts`) for the `ipc://` endpoint, asks the
 * launcher for a worker (which binds), connects the channel, and completes the `hello`/`ready`
 * handshake. From then on one request is outstanding at a time. The worker's exit — not a socket
 * timeout — fails an outstanding request, so a crash is reported as soon as it is known. After the
 * exit the socket is closed and the directory removed, then `exited` resolves.
 *
 * A reply that breaks the protocol rejects its request with {@link ProtocolError}, `onProtocolError`
 * hears of it, and the interpreter is killed (its supervisor starts a fresh one with a fresh socket).
 */
import { join } from 'node:path';
import { stopLadder, within } from '@piton/core';
import type { CallContext, Conversation, ExposedFunctions } from './callbacks.js';
import { Expect, RequestChannel, type RequestLabel } from './channel.js';
import { createCodec } from '../wire/codec.js';
import {
  describeExit,
  InterpreterStartError,
  PitonError,
  ProtocolError,
  InterpreterExitedError,
  type PythonReportedError,
} from '../errors.js';
import type { LaunchedProcess, Launcher, LaunchSpec } from '../launch/launcher.js';
import type { EncodedCall } from '../wire/encoded-call.js';
import type { ProcessExit } from '../launch/child-process.js';
import { badDirectory } from '../environment/python-executable.js';
import {
  encodeClose,
  encodeHello,
  encodeNext,
  encodeStop,
  encodeStream,
  PROTOCOL_VERSION,
  spliceBatch,
  type Outcome,
  type ReadyInfo,
  spliceCall,
  type BatchPolicy,
} from '../wire/protocol.js';
import { makeSocketDir, removeSocketDir, SOCKET_NAME } from './socket-dir.js';
import { SpawnLauncher } from '../launch/spawn.js';
import { failedIterator, PythonStream, type ItemsReply, type StreamOptions, type StreamPort } from './stream.js';

export type { StreamOptions } from './stream.js';

export interface InterpreterOptions extends Omit<LaunchSpec, 'endpoint'> {
  /** ms from launch to the handshake's reply. */
  startTimeout: number;
  /** Makes the worker process; a fresh `SpawnLauncher` when omitted. */
  launcher?: Launcher;
  /** A reply broke the protocol; the pending request rejects with the same error and the interpreter is killed. */
  onProtocolError?: (error: ProtocolError) => void;
  /** The Node functions its Python may call (`node.call`); their names go in the handshake. */
  callbacks?: ExposedFunctions;
  /** Told when a call's reply says its function is batched (`@piton.batched`), with the policy. */
  onBatched?: (module: string, fn: string, policy: BatchPolicy) => void;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** We asked it to stop (`stop()`). */
  stopRequested: boolean;
  /** We killed it (`kill()`). */
  killed: boolean;
  /** A remote worker lost without a confirmed exit: the error its requests failed with. */
  lost?: Error;
}

/** Default grace of `stop()` for each of its two waits (stop request, then SIGTERM), in ms. */
export const DEFAULT_STOP_GRACE_MS = 5_000;

function withTail(message: string, tail: string): string {
  return tail === '' ? message : `${message}; stderr:\n${tail}`;
}

export class Interpreter {
  readonly id: string;
  /** The `ipc://` endpoint, inside the interpreter's private directory. */
  readonly endpoint: string;
  /** Resolves (never rejects) after the process exited and the socket and directory are cleaned up. */
  readonly exited: Promise<ExitInfo>;

  readonly #process: LaunchedProcess;
  readonly #channel: RequestChannel;
  readonly #onProtocolError: ((error: ProtocolError) => void) | undefined;
  #info: ReadyInfo | undefined;
  /** A stream is open on the Python side (or reserved and not yet opened). */
  #streamOpen = false;
  #exit: ProcessExit | undefined;
  #stopRequested = false;
  #killed = false;
  #stopping: Promise<ExitInfo> | undefined;
  readonly #callbacks: ExposedFunctions | undefined;
  /** The conversation of a request whose caller brought no context: callbacks only. */
  readonly #plainConversation: Conversation | undefined;
  /** A call, batch or stream was sent: the interpreter has served (the pool's crash policy asks). */
  /** The call last sent with run(): what a reply's batching policy is about. */
  #running: EncodedCall | undefined;
  #served = false;

  private constructor(opts: InterpreterOptions, endpoint: string, channel: RequestChannel, process: LaunchedProcess, dir: string) {
    this.id = opts.id;
    this.#callbacks = opts.callbacks;
    this.#plainConversation = this.#conversation(undefined);
    this.endpoint = endpoint;
    this.#channel = channel;
    this.#process = process;
    this.#onProtocolError = opts.onProtocolError;
    void process.exit.then((exit) => this.#onExit(exit));
    this.exited = process.exit.then(async (exit) => {
      // Synchronously (an owner file and a socket): through the thread pool, each of rm's steps
      // would wait for a later turn of the event loop, on the path of every replacement.
      removeSocketDir(dir);
      await process.drained;
      const info: ExitInfo = { code: exit.code, signal: exit.signal, stopRequested: this.#stopRequested, killed: this.#killed };
      if (exit.lost !== undefined) info.lost = exit.lost;
      return info;
    });
  }

  /**
   * Launches the interpreter and completes the handshake. Rejects with {@link InterpreterStartError}
   * whose message has the cause (the stderr tail, the exit code or signal, or the start timeout),
   * after the process is gone and the directory removed.
   */
  static async start(opts: InterpreterOptions): Promise<Interpreter> {
    const dir = await makeSocketDir();
    const endpoint = `ipc://${join(dir, SOCKET_NAME)}`;
    let channel: RequestChannel | undefined;
    let interpreter: Interpreter;
    try {
      let self: Interpreter | undefined;
      const { launcher = new SpawnLauncher(), startTimeout: _t, onProtocolError: _p, callbacks: _c, onBatched: _b, ...spec } = opts;
      const process = await launcher.launch({ ...spec, endpoint });
      // A local worker binds the ipc endpoint; a remote one says where it is (tcp + CURVE).
      const target = process.connect;
      channel = new RequestChannel({
        endpoint: target?.endpoint ?? endpoint,
        socketOptions: target?.socketOptions,
        onDisconnect: process.lose && ((address) => process.lose?.(`its connection to ${address} dropped`)),
        codec: createCodec({ maxMessageSize: opts.maxMessageSize }),
        id: opts.id,
        // REQ/REP is lock-step: an answer that names a batched function answers the call running.
        onBatched:
          opts.onBatched &&
          ((policy) => {
            const running = self === undefined ? undefined : self.#running;
            if (running !== undefined) opts.onBatched!(running.module, running.fn, policy);
          }),
        onProtocolError: (error) => {
          try {
            opts.onProtocolError?.(error);
          } finally {
            self?.kill();
          }
        },
      });
      interpreter = self = new Interpreter(opts, target?.endpoint ?? endpoint, channel, process, dir);
    } catch (error) {
      channel?.fail(() => new PitonError('launch failed'));
      removeSocketDir(dir);
      if (error instanceof InterpreterStartError) throw error;
      throw new InterpreterStartError(`Python interpreter ${opts.id} could not be launched: ${String(error)}`, { cause: error });
    }
    await interpreter.#handshake(opts);
    return interpreter;
  }

  async #handshake(opts: InterpreterOptions): Promise<void> {
    const expose = opts.callbacks?.names ?? [];
    const ready = this.#channel.request<ReadyInfo>((codec, id) => encodeHello(codec, id, expose), Expect.Hello, '');
    // Rejections of `ready` are read below; this keeps an early one from being reported as unhandled.
    ready.catch(() => undefined);
    let failure: string;
    let cause: unknown;
    try {
      const outcome = await within(ready, opts.startTimeout, () => 'timeout' as const);
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
        error instanceof InterpreterExitedError
          ? `${describeExit(error.exitCode, error.signal)} before reporting ready` +
            // The worker's exit code for a hello of another protocol version (PROTOCOL.md).
            (error.exitCode === 2 ? ` (exit code 2: it does not speak this Node side's protocol ${PROTOCOL_VERSION})` : '')
          : error instanceof PitonError && 'pythonType' in error && typeof error.pythonType === 'string'
            ? `answered the handshake with ${error.pythonType}: ${error.message}` +
              // An older runtime refuses a hello it cannot read before it compares versions.
              (error.pythonType === 'ProtocolError' && !error.message.includes('version')
                ? ` (this Node side speaks protocol ${PROTOCOL_VERSION}; is the worker runtime older?)`
                : '')
            : `failed the handshake: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.#killed = true;
    this.#process.signal('SIGKILL');
    const exit = await this.exited;
    const spawnError = this.#exit?.spawnError;
    const tail = this.#process.stderrTail();
    // spawn() says ENOENT for a missing cwd as for a missing executable: name the real one.
    const noDirectory = spawnError && opts.cwd !== undefined ? badDirectory(opts.cwd) : undefined;
    const message = spawnError
      ? `Python interpreter ${this.id} could not be spawned from "${opts.python}": ${noDirectory ?? spawnError.message}`
      : withTail(`Python interpreter ${this.id} (${opts.python}) ${failure}`, tail);
    throw new InterpreterStartError(message, {
      exitCode: exit.code,
      signal: cause instanceof InterpreterExitedError ? exit.signal : null,
      stderrTail: tail,
      cause: spawnError ?? cause,
    });
  }

  get pid(): number {
    return this.#process.pid ?? -1;
  }

  /** The handshake's answer: pid, Python version, protocol version, runtime version. */
  get info(): ReadyInfo {
    if (this.#info === undefined) throw new PitonError(`interpreter ${this.id} has not completed its handshake`);
    return this.#info;
  }

  /** The last lines the interpreter wrote to stderr (at most 50 lines / 8 KiB). */
  get stderrTail(): string {
    return this.#process.stderrTail();
  }

  /**
   * Whether the interpreter was given work (a call, batch or stream) since its handshake. One that
   * dies before that counts as a failed start for the pool's crash policy; one that dies after is
   * a crash in a call.
   */
  get served(): boolean {
    return this.#served;
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
    return this.#channel.pending || this.#streamOpen;
  }

  /** What the worker may ask while answering a request made with `context`. */
  #conversation(context: CallContext | undefined): Conversation | undefined {
    const callbacks = this.#callbacks;
    const onProgress = context?.onProgress;
    if (callbacks === undefined && onProgress === undefined) return undefined;
    const trace = context?.trace;
    if (trace === undefined && context?.resource === undefined) {
      return {
        callback: callbacks && ((name, args, kwargs) => callbacks.run(name, args, kwargs, context?.scope)),
        progress: onProgress,
      };
    }
    // A traced call: the tracer hears of each callback and progress value, and the callbacks run
    // in the caller's async context, inside the tracer's span.
    const resource = context?.resource;
    return {
      callback:
        callbacks &&
        ((name, args, kwargs) => {
          trace?.onEvent?.({ kind: 'callback', name });
          const run = () => callbacks.run(name, args, kwargs, context?.scope);
          const inSpan = trace?.runInContext ? () => trace.runInContext!(run) : run;
          return resource ? resource.runInAsyncScope(inSpan) : inSpan();
        }),
      progress:
        onProgress &&
        ((value) => {
          trace?.onEvent?.({ kind: 'progress', value });
          onProgress(value);
        }),
    };
  }

  /**
   * Runs a call encoded in advance ({@link encodeCallBody}), `module.fn(*args, **kwargs)`. Rejects
   * with {@link PythonError} when it raises, with {@link EncodeError} / {@link MessageTooLargeError}
   * (`origin: 'python'`) when the result cannot be sent, with {@link InterpreterExitedError} when the
   * process exits first. Running while busy rejects with a plain `Error`: that is a bug in the
   * caller. `context.onProgress` receives the call's `progress()` values; without it Python's
   * `progress()` sends nothing.
   */
  run(call: EncodedCall, context?: CallContext): Promise<unknown> {
    const refusal = this.#refusal('call');
    if (refusal) return Promise.reject(refusal);
    this.#served = true;
    const listening = context?.onProgress !== undefined;
    this.#running = call;
    return this.#channel.request(
      (codec, id) => spliceCall(codec, id, call, listening),
      Expect.Call,
      `a call to ${call.module}.${call.fn}`,
      context === undefined ? this.#plainConversation : this.#conversation(context),
    );
  }

  /**
   * Runs calls encoded in advance in one round trip (protocol kind `batch`); each has its own
   * outcome. Resolves with fewer outcomes than calls when the worker ended the batch early (the
   * results so far reached the size limit, PROTOCOL.md "Batches"): the others did not run.
   */
  runBatch(calls: readonly EncodedCall[]): Promise<Outcome<PythonReportedError>[]> {
    const refusal = this.#refusal('runBatch');
    if (refusal) return Promise.reject(refusal);
    this.#served = true;
    const label = `a batch of ${calls.length} calls`;
    return this.#channel.request<Outcome<PythonReportedError>[]>((codec, id) => spliceBatch(codec, id, calls), Expect.Batch, label).then((results) => {
      if (results.length >= 1 && results.length <= calls.length) return results;
      const error = new ProtocolError(`interpreter ${this.id} answered a batch of ${calls.length} calls with ${results.length} results`);
      try {
        this.#onProtocolError?.(error);
      } finally {
        this.kill();
      }
      throw error;
    });
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
    this.#served = true;
    this.#streamOpen = true;
    return new PythonStream(this.#streamPort(), module, fn, args, kwargs, batch, opts);
  }

  /**
   * Stops the interpreter: a `stop` request (when no request is outstanding), then after
   * `graceMs` SIGTERM, then after another `graceMs` SIGKILL. Idempotent; resolves with the exit.
   */
  stop(graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<ExitInfo> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  /** SIGKILL now. The exit shows `killed: true`; an outstanding request rejects with {@link InterpreterExitedError}. */
  kill(): void {
    if (!this.alive) return;
    this.#killed = true;
    this.#process.signal('SIGKILL');
  }

  async #stop(graceMs: number): Promise<ExitInfo> {
    this.#stopRequested = true;
    if (!this.alive) return this.exited;
    await stopLadder(this.#process.exit, [
      { run: () => this.#askToStop(), wait: graceMs },
      { run: () => this.#process.signal('SIGTERM'), wait: graceMs },
      { run: () => this.#process.signal('SIGKILL'), wait: 'infinity' },
    ]);
    return this.exited;
  }

  /** A `stop` request when none is outstanding (the reply does not matter: the exit is what counts), else SIGTERM. */
  #askToStop(): void {
    if (this.#channel.pending) {
      this.#process.signal('SIGTERM');
      return;
    }
    this.#streamOpen = false;
    this.#channel.request((codec, id) => encodeStop(codec, id), Expect.Bye, '').catch(() => undefined);
  }

  #refusal(what: string): Error | undefined {
    if (this.#exit !== undefined) {
      return new InterpreterExitedError(this.#exit.code, this.#exit.signal, {
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

  #onExit(exit: ProcessExit): void {
    this.#exit = exit;
    this.#streamOpen = false;
    this.#channel.fail((label) => this.#exitedError(exit, label));
  }

  #exitedError(exit: ProcessExit, label: RequestLabel): InterpreterExitedError {
    if (exit.lost instanceof InterpreterExitedError) return exit.lost;
    const during = label === '' ? '' : ` during ${label}`;
    const how = exit.spawnError ? `could not be spawned (${exit.spawnError.message})` : describeExit(exit.code, exit.signal);
    return new InterpreterExitedError(exit.code, exit.signal, {
      message: `Python interpreter ${this.id} (pid ${this.pid}) ${how}${during}`,
      stderrTail: this.#process.stderrTail(),
    });
  }

  /** The narrow view of this interpreter a stream needs. */
  #streamPort(): StreamPort {
    const request = <T>(encode: Parameters<RequestChannel['request']>[0], expect: Expect, module: string, fn: string): Promise<T> => {
      if (this.#exit !== undefined) return Promise.reject(this.#exitedError(this.#exit, `a call to ${module}.${fn}`));
      // stop() may have sent its request meanwhile: a second one would break REQ/REP lock-step.
      if (this.#channel.pending || this.#stopRequested) {
        return Promise.reject(new PitonError(`Python interpreter ${this.id} is stopping; the stream of ${module}.${fn} ended`));
      }
      return this.#channel.request<T>(encode, expect, `a call to ${module}.${fn}`, this.#plainConversation);
    };
    return {
      open: (module, fn, args, kwargs, batch, options) =>
        request<ItemsReply>((codec, id) => encodeStream(codec, id, module, fn, args, kwargs, batch, options), Expect.Items, module, fn),
      next: (batch, module, fn) => request<ItemsReply>((codec, id) => encodeNext(codec, id, batch), Expect.Items, module, fn),
      close: (module, fn) => request<void>((codec, id) => encodeClose(codec, id), Expect.Closed, module, fn),
      end: () => {
        this.#streamOpen = false;
      },
      abort: () => this.kill(),
    };
  }
}
