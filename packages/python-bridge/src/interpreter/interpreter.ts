/**
 * One Python interpreter: a worker process made by a {@link Launcher} and the {@link RequestChannel}
 * that talks to it (PROTOCOL.md).
 *
 * Life: `Interpreter.start` makes a private directory (0700, `socket-dir.ts`) for the `ipc://` endpoint, asks the
 * launcher for a worker (which binds), connects the channel, and completes the `hello`/`ready`
 * handshake. With `concurrency: n` the handshake asks for n lanes (PROTOCOL.md, "Lanes") and the
 * other n - 1 channels connect where `ready` says: from then on up to n requests are outstanding,
 * one per lane (lanes.ts). The worker's exit — not a socket timeout — fails every outstanding
 * request, each with its own error, so a crash is reported as soon as it is known. After the exit
 * the sockets are closed and the directory removed, then `exited` resolves.
 *
 * A reply that breaks the protocol rejects its request with {@link ProtocolError}, `onProtocolError`
 * hears of it, and the interpreter is killed (its supervisor starts a fresh one with a fresh socket).
 */
import { join } from 'node:path';
import { setLongTimeout, stopLadder, within, type LongTimeout } from '@piton/core';
import type { CallContext, Conversation, ExposedFunctions } from './callbacks.js';
import { Expect, RequestChannel, type ChannelOptions, type RequestLabel } from './channel.js';
import { ControlLane } from './control.js';
import { Lanes } from './lanes.js';
import type { RunControl } from './run-control.js';
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
  spliceCall,
  type BatchPolicy,
  type Outcome,
  type ReadyInfo,
} from '../wire/protocol.js';
import { makeSocketDir, removeSocketDir, SOCKET_NAME } from './socket-dir.js';
import { SpawnLauncher } from '../launch/spawn.js';
import { failedIterator, PythonStream, type ItemsReply, type StreamOptions, type StreamPort } from './stream.js';

export type { StreamOptions } from './stream.js';
export type { RunControl } from './run-control.js';

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
  /** Requests that may be outstanding at once: the lanes the handshake asks for. @default 1 */
  concurrency?: number;
  /**
   * ms a cancelled request (see `RunControl`) is given to end once the worker cancelled its task;
   * then the interpreter is killed. @default 1000
   */
  cancelGrace?: number;
}

/** Default of `InterpreterOptions.cancelGrace`, in ms. */
export const DEFAULT_CANCEL_GRACE_MS = 1_000;

/** The handshake's answer, without the endpoints it named. */
export type HandshakeInfo = Omit<ReadyInfo, 'lanes' | 'control'>;

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
  /** The channels of its lanes: the first (the handshake's) from the start, the others after it. */
  readonly #lanes: Lanes;
  /** How the first channel was made: the other lanes' channels are made alike. */
  readonly #channelOptions: ChannelOptions;
  /** The control lane, once the handshake has named it. */
  #control: ControlLane | undefined;
  #controlChannel: RequestChannel | undefined;
  readonly #cancelGrace: number;
  readonly #onProtocolError: ((error: ProtocolError) => void) | undefined;
  readonly #onBatched: InterpreterOptions['onBatched'];
  #info: HandshakeInfo | undefined;
  #exit: ProcessExit | undefined;
  #stopRequested = false;
  #killed = false;
  #stopping: Promise<ExitInfo> | undefined;
  readonly #callbacks: ExposedFunctions | undefined;
  /** The conversation of a request whose caller brought no context: callbacks only. */
  readonly #plainConversation: Conversation | undefined;
  /** The call each lane runs now (by lane number): what a reply's batching policy is about. */
  readonly #running: (EncodedCall | undefined)[] = [];
  /** A call, batch or stream was sent: the interpreter has served (the pool's crash policy asks). */
  #served = false;

  private constructor(
    opts: InterpreterOptions,
    endpoint: string,
    channel: RequestChannel,
    channelOptions: ChannelOptions,
    process: LaunchedProcess,
    dir: string,
  ) {
    this.id = opts.id;
    this.#callbacks = opts.callbacks;
    this.#plainConversation = this.#conversation(undefined);
    this.endpoint = endpoint;
    this.#lanes = new Lanes(channel);
    this.#channelOptions = channelOptions;
    this.#cancelGrace = opts.cancelGrace ?? DEFAULT_CANCEL_GRACE_MS;
    this.#process = process;
    this.#onProtocolError = opts.onProtocolError;
    this.#onBatched = opts.onBatched;
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
      const {
        launcher = new SpawnLauncher(),
        startTimeout: _t,
        onProtocolError: _p,
        callbacks: _c,
        onBatched: _b,
        concurrency: _n,
        cancelGrace: _g,
        ...spec
      } = opts;
      const process = await launcher.launch({ ...spec, endpoint });
      // A local worker binds the ipc endpoint; a remote one says where it is (tcp + CURVE).
      const target = process.connect;
      const channelOptions: ChannelOptions = {
        endpoint: target?.endpoint ?? endpoint,
        socketOptions: target?.socketOptions,
        onDisconnect: process.lose && ((address) => process.lose?.(`its connection to ${address} dropped`)),
        codec: createCodec({ maxMessageSize: opts.maxMessageSize }),
        id: opts.id,
        onProtocolError: (error) => {
          try {
            opts.onProtocolError?.(error);
          } finally {
            self?.kill();
          }
        },
      };
      channel = new RequestChannel({ ...channelOptions, onBatched: (policy) => self && self.#batched(0, policy) });
      interpreter = self = new Interpreter(opts, target?.endpoint ?? endpoint, channel, channelOptions, process, dir);
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
    const lanes = opts.concurrency ?? 1;
    const ready = this.#lanes.first.request<ReadyInfo>((codec, id) => encodeHello(codec, id, expose, lanes), Expect.Hello, '');
    // Rejections of `ready` are read below; this keeps an early one from being reported as unhandled.
    ready.catch(() => undefined);
    let failure: string;
    let cause: unknown;
    try {
      const outcome = await within(ready, opts.startTimeout, () => 'timeout' as const);
      if (outcome !== 'timeout') {
        if (outcome.protocol !== PROTOCOL_VERSION) {
          failure = `speaks protocol ${outcome.protocol}, this Node side speaks ${PROTOCOL_VERSION}`;
        } else if (lanes > 1 && outcome.lanes === undefined) {
          failure = `did not open the ${lanes} lanes its handshake asked for`;
        } else {
          const { lanes: lanesEndpoint, control, ...info } = outcome;
          this.#info = info;
          if (lanesEndpoint !== undefined) this.#openLanes(lanesEndpoint, lanes);
          if (control !== undefined) {
            this.#controlChannel = new RequestChannel({ ...this.#channelOptions, endpoint: control });
            this.#control = new ControlLane(this.#controlChannel);
          }
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

  /** Requests it may have outstanding at once (its lanes): the pool's `concurrency`. */
  get capacity(): number {
    return this.#lanes.capacity;
  }

  /** Requests outstanding now: calls, batches and open streams, one per lane. */
  get inFlight(): number {
    return this.#lanes.inFlight;
  }

  /** Connects the lanes after the first to the worker's lanes socket, each named by its number. */
  #openLanes(endpoint: string, count: number): void {
    for (let lane = 1; lane < count; lane++) {
      this.#lanes.add(
        new RequestChannel({
          ...this.#channelOptions,
          endpoint,
          socketOptions: { ...this.#channelOptions.socketOptions, routingId: String(lane) },
          onBatched: (policy) => this.#batched(lane, policy),
        }),
      );
    }
  }

  /** Alive, and neither stopping nor killed: it may be given another request. */
  get serviceable(): boolean {
    return this.#exit === undefined && !this.#killed && !this.#stopRequested;
  }

  /** A request is outstanding, or a stream is open, on any lane. */
  get busy(): boolean {
    return this.#lanes.inFlight > 0;
  }

  /** A reply on `lane` says the function it ran is batched: lanes are lock-step, so it is that lane's call. */
  #batched(lane: number, policy: BatchPolicy): void {
    const running = this.#running[lane];
    if (running !== undefined) this.#onBatched?.(running.module, running.fn, policy);
  }

  /**
   * Runs `send` on a free lane, which is given back once the request has settled. Refuses (a
   * rejected promise) when the interpreter has exited or is stopping, or when no lane is free:
   * that is a bug in the caller, which must not take more than `capacity`.
   */
  #onLane<T>(what: string, send: (channel: RequestChannel, lane: number) => Promise<T>): Promise<T> {
    const refusal = this.#refusal(what);
    if (refusal) return Promise.reject(refusal);
    const lane = this.#lanes.take();
    if (lane === undefined) return Promise.reject(this.#full(what));
    this.#served = true;
    const channel = this.#lanes.channel(lane);
    const settled = send(channel, lane);
    const release = () => this.#lanes.release(lane);
    // Nothing went out (the request could not be encoded): the lane is free at once.
    if (!channel.pending) release();
    else settled.then(release, release);
    return settled;
  }

  #full(what: string): Error {
    return new Error(`Python interpreter ${this.id} has all its ${this.#lanes.capacity} lanes taken; ${what}() must wait for one`);
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
   * Runs a call encoded in advance ({@link encodeCallBody}), `module.fn(*args, **kwargs)`, on a free
   * lane. Rejects with {@link PythonError} when it raises, with {@link EncodeError} /
   * {@link MessageTooLargeError} (`origin: 'python'`) when the result cannot be sent, with
   * {@link InterpreterExitedError} when the process exits first. Running with every lane taken
   * rejects with a plain `Error`: that is a bug in the caller. `context.onProgress` receives the
   * call's `progress()` values; without it Python's `progress()` sends nothing. With `control`,
   * the call may be given up on (`control.cancel`, filled in once it is sent).
   */
  run(call: EncodedCall, context?: CallContext, control?: RunControl): Promise<unknown> {
    const listening = context?.onProgress !== undefined;
    return this.#onLane('call', (channel, lane) => {
      this.#running[lane] = call;
      const settled = channel.request(
        (codec, id) => spliceCall(codec, id, call, listening),
        Expect.Call,
        `a call to ${call.module}.${call.fn}`,
        context === undefined ? this.#plainConversation : this.#conversation(context),
      );
      if (control !== undefined) control.cancel = (beforeKill) => this.#abandon(lane, settled, beforeKill);
      return settled;
    });
  }

  /**
   * Gives up on the request outstanding on `lane` (`settled` settles with its reply): the control
   * lane cancels it, and the lane stays taken until its reply comes. The interpreter is killed
   * (after `beforeKill`) when the worker says the request runs sync code, when there is no control
   * lane to ask (or it fails), or when the reply has not come within `cancelGrace` of giving up:
   * the grace runs from now, so that it also bounds a control lane that cannot answer (C code
   * holding the GIL keeps its thread from running).
   */
  #abandon(lane: number, settled: Promise<unknown>, beforeKill: () => void): void {
    const channel = this.#lanes.channel(lane);
    const request = channel.outstandingId;
    if (request === undefined || !this.alive) return; // it has its reply, or the interpreter is gone
    channel.abandon();
    let timer: LongTimeout | undefined;
    const kill = () => {
      timer?.clear();
      if (channel.outstandingId !== request || !this.alive) return; // it ended meanwhile
      beforeKill();
      this.kill();
    };
    const control = this.#control;
    if (control === undefined) return kill();
    timer = setLongTimeout(kill, this.#cancelGrace, { unref: true });
    const clear = () => timer?.clear();
    settled.then(clear, clear);
    control.cancel(lane, request).then((status) => {
      if (status === 'blocked') kill();
      // Cancelled (or just done): its reply is on its way, within the grace or not at all.
    }, kill);
  }

  /**
   * Runs calls encoded in advance in one round trip (protocol kind `batch`); each has its own
   * outcome. Resolves with fewer outcomes than calls when the worker ended the batch early (the
   * results so far reached the size limit, PROTOCOL.md "Batches"): the others did not run.
   */
  runBatch(calls: readonly EncodedCall[]): Promise<Outcome<PythonReportedError>[]> {
    const label = `a batch of ${calls.length} calls`;
    const sent = this.#onLane('runBatch', (channel, lane) => {
      this.#running[lane] = undefined;
      return channel.request<Outcome<PythonReportedError>[]>((codec, id) => spliceBatch(codec, id, calls), Expect.Batch, label);
    });
    return sent.then((results) => {
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
   * The stream holds one lane from this call until it ends; `opts.onEnd` is called once it has
   * given the lane back (at once if it was refused).
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
    const refusal = this.#refusal('stream') ?? (this.#lanes.capacity === this.#lanes.inFlight ? this.#full('stream') : undefined);
    if (refusal) {
      opts.onEnd?.();
      return failedIterator(refusal);
    }
    const lane = this.#lanes.take()!;
    this.#served = true;
    return new PythonStream(this.#streamPort(lane, opts.onEnd), module, fn, args, kwargs, batch, opts);
  }

  /**
   * Stops the interpreter: a `stop` request (when no request is outstanding), then after
   * `graceMs` SIGTERM, then after another `graceMs` SIGKILL. Idempotent; resolves with the exit.
   */
  stop(graceMs: number = DEFAULT_STOP_GRACE_MS): Promise<ExitInfo> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  /** SIGKILL now. The exit shows `killed: true`; every outstanding request rejects with {@link InterpreterExitedError}. */
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

  /** A `stop` request when no lane has one outstanding (the reply does not matter: the exit is what counts), else SIGTERM. */
  #askToStop(): void {
    if (this.#lanes.inFlight > 0 || this.#lanes.first.pending) {
      this.#process.signal('SIGTERM');
      return;
    }
    this.#lanes.first.request((codec, id) => encodeStop(codec, id), Expect.Bye, '').catch(() => undefined);
  }

  #refusal(what: string): Error | undefined {
    if (this.#exit !== undefined) {
      return new InterpreterExitedError(this.#exit.code, this.#exit.signal, {
        message: `Python interpreter ${this.id} ${describeExit(this.#exit.code, this.#exit.signal)} before ${what}()`,
        stderrTail: this.#process.stderrTail(),
      });
    }
    if (this.#stopRequested) return new PitonError(`Python interpreter ${this.id} is stopping; ${what}() refused`);
    return undefined;
  }

  #onExit(exit: ProcessExit): void {
    this.#exit = exit;
    this.#lanes.fail((label) => this.#exitedError(exit, label));
    this.#controlChannel?.fail((label) => this.#exitedError(exit, label));
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

  /** The narrow view of this interpreter a stream needs: the lane it holds until it ends. */
  #streamPort(lane: number, onEnd: (() => void) | undefined): StreamPort {
    const channel = this.#lanes.channel(lane);
    /** The request in flight (or the last one), settled with its reply. */
    let current: Promise<unknown> = Promise.resolve();
    let ended = false;
    const request = <T>(encode: Parameters<RequestChannel['request']>[0], expect: Expect, module: string, fn: string): Promise<T> => {
      if (this.#exit !== undefined) return Promise.reject(this.#exitedError(this.#exit, `a call to ${module}.${fn}`));
      // stop() may have sent its request meanwhile (on lane 0): a second one would break REQ/REP lock-step.
      if (channel.pending || this.#stopRequested) {
        return Promise.reject(new PitonError(`Python interpreter ${this.id} is stopping; the stream of ${module}.${fn} ended`));
      }
      const sent = channel.request<T>(encode, expect, `a call to ${module}.${fn}`, this.#plainConversation);
      current = sent.catch(() => undefined);
      return sent;
    };
    // The slot goes back once both are done with the stream: Python (its lane free) and the
    // consumer (it saw the end), so that it is held until the consumer's loop ends, as a call is
    // until it settles, and never while the lane still waits for a reply.
    let laneFree = false;
    let finished = false;
    let given = false;
    const giveBackWhenDone = () => {
      if (!laneFree || !finished || given) return;
      given = true;
      onEnd?.();
    };
    const giveBack = () => {
      this.#lanes.release(lane);
      laneFree = true;
      giveBackWhenDone();
    };
    return {
      open: (module, fn, args, kwargs, batch, options) =>
        request<ItemsReply>((codec, id) => encodeStream(codec, id, module, fn, args, kwargs, batch, options), Expect.Items, module, fn),
      next: (batch, module, fn) => request<ItemsReply>((codec, id) => encodeNext(codec, id, batch), Expect.Items, module, fn),
      close: (module, fn) => request<void>((codec, id) => encodeClose(codec, id), Expect.Closed, module, fn),
      // A pull given up on (abort) still holds the lane until its reply comes.
      end: () => {
        if (ended) return;
        ended = true;
        if (channel.pending) void current.then(giveBack);
        else giveBack();
      },
      finish: () => {
        finished = true;
        giveBackWhenDone();
      },
      abort: () => this.#abandon(lane, current, () => undefined),
    };
  }
}
