/**
 * One Python interpreter: a worker process made by a {@link Launcher} and the {@link RequestChannel}
 * that talks to it (PROTOCOL.md).
 *
 * Life: `Interpreter.start` makes a private directory (0700) for the `ipc://` endpoint, asks the
 * launcher for a worker (which binds), connects the channel, and completes the `hello`/`ready`
 * handshake. From then on one request is outstanding at a time. The worker's exit — not a socket
 * timeout — fails an outstanding request, so a crash is reported as soon as it is known. After the
 * exit the socket is closed and the directory removed, then `exited` resolves.
 *
 * A reply that breaks the protocol rejects its request with {@link ProtocolError}, `onProtocolError`
 * hears of it, and the interpreter is killed (its supervisor starts a fresh one with a fresh socket).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Expect, RequestChannel, type RequestLabel } from './channel.js';
import { createCodec } from './codec.js';
import { describeExit, InterpreterStartError, PitonError, PythonError, WorkerExitedError, type ProtocolError } from './errors.js';
import type { LaunchedProcess, Launcher, LaunchSpec } from './launcher.js';
import type { ProcessExit } from './process.js';
import {
  encodeBatch,
  encodeCall,
  encodeClose,
  encodeHello,
  encodeNext,
  encodeStop,
  encodeStream,
  PROTOCOL_VERSION,
  type BatchCall,
} from './protocol.js';
import { SpawnLauncher } from './spawn-launcher.js';
import { failedIterator, PythonStream, type ItemsReply, type StreamOptions, type StreamPort } from './stream.js';

export type { StreamOptions } from './stream.js';

export interface InterpreterOptions extends Omit<LaunchSpec, 'endpoint'> {
  /** ms from launch to the handshake's reply. */
  startTimeout: number;
  /** Makes the worker process; a fresh `SpawnLauncher` when omitted. */
  launcher?: Launcher;
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

export type BatchResult = { ok: true; value: unknown } | { ok: false; error: PythonError };

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
  #info: HandshakeInfo | undefined;
  /** A stream is open on the Python side (or reserved and not yet opened). */
  #streamOpen = false;
  #exit: ProcessExit | undefined;
  #stopRequested = false;
  #killed = false;
  #stopping: Promise<ExitInfo> | undefined;
  /** A call, batch or stream was sent: the interpreter has served (the pool's crash policy asks). */
  #served = false;

  private constructor(opts: InterpreterOptions, endpoint: string, channel: RequestChannel, process: LaunchedProcess, dir: string) {
    this.id = opts.id;
    this.endpoint = endpoint;
    this.#channel = channel;
    this.#process = process;
    void process.exit.then((exit) => this.#onExit(exit));
    this.exited = process.exit.then(async (exit) => {
      await Promise.all([rm(dir, { recursive: true, force: true }).catch(() => undefined), process.drained]);
      return { code: exit.code, signal: exit.signal, stopRequested: this.#stopRequested, killed: this.#killed };
    });
  }

  /**
   * Launches the interpreter and completes the handshake. Rejects with {@link InterpreterStartError}
   * whose message has the cause (the stderr tail, the exit code or signal, or the start timeout),
   * after the process is gone and the directory removed.
   */
  static async start(opts: InterpreterOptions): Promise<Interpreter> {
    const dir = await mkdtemp(join(tmpdir(), 'piton-'));
    const endpoint = `ipc://${join(dir, 'worker.sock')}`;
    let channel: RequestChannel | undefined;
    let interpreter: Interpreter;
    try {
      await chmod(dir, 0o700);
      let self: Interpreter | undefined;
      // The channel connects first: it retries until the worker binds.
      channel = new RequestChannel({
        endpoint,
        codec: createCodec({ maxMessageSize: opts.maxMessageSize }),
        id: opts.id,
        onProtocolError: (error) => {
          try {
            opts.onProtocolError?.(error);
          } finally {
            self?.kill();
          }
        },
      });
      const { launcher = new SpawnLauncher(), startTimeout: _t, onProtocolError: _p, ...spec } = opts;
      const process = await launcher.launch({ ...spec, endpoint });
      interpreter = self = new Interpreter(opts, endpoint, channel, process, dir);
    } catch (error) {
      channel?.fail(() => new PitonError('launch failed'));
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      if (error instanceof InterpreterStartError) throw error;
      throw new InterpreterStartError(`Python interpreter ${opts.id} could not be launched: ${String(error)}`, { cause: error });
    }
    await interpreter.#handshake(opts);
    return interpreter;
  }

  async #handshake(opts: InterpreterOptions): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), opts.startTimeout);
    });
    const ready = this.#channel.request<HandshakeInfo>((codec, id) => encodeHello(codec, id), Expect.Hello, { module: '', fn: '' });
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

  /**
   * Calls `module.fn(*args, **kwargs)`. Rejects with {@link PythonError} when it raises,
   * {@link EncodeError} / {@link MessageTooLargeError} when the request cannot be sent (nothing
   * was sent), {@link WorkerExitedError} when the process exits first. Calling while busy rejects
   * with a plain `Error`: that is a bug in the caller.
   */
  call(module: string, fn: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<unknown> {
    const refusal = this.#refusal('call');
    if (refusal) return Promise.reject(refusal);
    this.#served = true;
    return this.#channel.request((codec, id) => encodeCall(codec, id, module, fn, args, kwargs), Expect.Call, { module, fn });
  }

  /** Runs several calls in one round trip (protocol kind `batch`); each has its own outcome. */
  callBatch(
    calls: Array<{ module: string; fn: string; args: unknown[]; kwargs?: Record<string, unknown> }>,
  ): Promise<BatchResult[]> {
    const refusal = this.#refusal('callBatch');
    if (refusal) return Promise.reject(refusal);
    this.#served = true;
    return this.#channel.request((codec, id) => encodeBatch(codec, id, calls as BatchCall[]), Expect.Batch, {
      module: 'batch',
      fn: `of ${calls.length} calls`,
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
    if (!this.#channel.pending) {
      this.#streamOpen = false;
      // The reply does not matter: the exit is what we wait for.
      this.#channel.request((codec, id) => encodeStop(codec, id), Expect.Bye, { module: '', fn: '' }).catch(() => undefined);
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

  #onExit(exit: ProcessExit): void {
    this.#exit = exit;
    this.#streamOpen = false;
    this.#channel.fail((label) => this.#exitedError(exit, label));
  }

  #exitedError(exit: ProcessExit, { module, fn }: RequestLabel): WorkerExitedError {
    const during = module === '' ? '' : module === 'batch' ? ` during a batch ${fn}` : ` during a call to ${module}.${fn}`;
    const how = exit.spawnError ? `could not be spawned (${exit.spawnError.message})` : describeExit(exit.code, exit.signal);
    return new WorkerExitedError(exit.code, exit.signal, {
      message: `Python interpreter ${this.id} (pid ${this.pid}) ${how}${during}`,
      stderrTail: this.#process.stderrTail(),
    });
  }

  /** The narrow view of this interpreter a stream needs. */
  #streamPort(): StreamPort {
    const request = <T>(encode: Parameters<RequestChannel['request']>[0], expect: Expect, module: string, fn: string): Promise<T> => {
      if (this.#exit !== undefined) return Promise.reject(this.#exitedError(this.#exit, { module, fn }));
      // stop() may have sent its request meanwhile: a second one would break REQ/REP lock-step.
      if (this.#channel.pending || this.#stopRequested) {
        return Promise.reject(new PitonError(`Python interpreter ${this.id} is stopping; the stream of ${module}.${fn} ended`));
      }
      return this.#channel.request<T>(encode, expect, { module, fn });
    };
    return {
      open: (module, fn, args, kwargs, batch) =>
        request<ItemsReply>((codec, id) => encodeStream(codec, id, module, fn, args, kwargs, batch), Expect.Items, module, fn),
      next: (batch, module, fn) => request<ItemsReply>((codec, id) => encodeNext(codec, id, batch), Expect.Items, module, fn),
      close: (module, fn) => request<void>((codec, id) => encodeClose(codec, id), Expect.Closed, module, fn),
      end: () => {
        this.#streamOpen = false;
      },
    };
  }
}
