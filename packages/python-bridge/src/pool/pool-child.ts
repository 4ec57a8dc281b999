import {
  formatReason,
  isNormalExit,
  type ChildSpec,
  type ExitReason,
  type StartContext,
  type StartFn,
  type StartedChild,
  type SupervisorEvent,
  type SupervisorRef,
} from '@piton/core';
import { currentScope, ExposedFunctions } from '../interpreter/callbacks.js';
import { createCodec, type Codec } from '../wire/codec.js';
import { Dispatcher, type CallRequest } from '../dispatch/dispatcher.js';
import { CallTimeoutError, describeExit, PoolStoppedError } from '../errors.js';
import type { InterpreterEvent } from '../ops/events.js';
import { InterpreterStarts } from '../supervision/interpreter-starts.js';
import { followPoolEvents, PoolLifecycle } from '../ops/lifecycle.js';
import { PoolLaunchers } from '../supervision/tree.js';
import type { Interpreter, InterpreterOptions } from '../interpreter/interpreter.js';
import {
  checkCall,
  checkStream,
  interpreterCount,
  resolvePoolOptions,
  type CallOptions,
  type PoolOptions,
  type ResolvedPoolOptions,
  type StreamOptions,
} from './options.js';
import { outputSink } from '../ops/output.js';
import { encodeCallBody, type EncodedCall } from '../wire/encoded-call.js';
import { residentBytes } from '../launch/child-process.js';
import { SnapshotBuffers } from './snapshots.js';
import { resolvePython } from '../environment/python-executable.js';
import { checkPathEntries, poolStartError } from '../environment/start-checks.js';
import { sweepStaleSocketDirs } from '../interpreter/socket-dir.js';
import type { PoolStats } from '../ops/stats.js';
import { traceCall, tracingCalls, type CallTraceContext } from '../ops/tracing.js';
import { hostChildren } from '../remote/hosts.js';
import { pythonWorker, type WorkerEnvironment } from '../supervision/python-worker.js';

/** The functions of one Python module, as async functions. */
export type PythonModule<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => R extends Promise<unknown> ? R : Promise<R>
    : never;
};

/** What a running pool offers: `PythonPool` and `system.whereis(name)` of a mounted pool. */
export interface PoolRef {
  /** The pool's path in its supervision tree (`python-pool-1/root`, `app/root/py`). */
  readonly path: string;
  /** The supervisor of the pool's interpreter workers (`whichChildren()`, `inspect()`, …). */
  readonly supervisor: SupervisorRef;
  /** `module.fn(*args, **kwargs)` on the next idle interpreter. */
  call<R = unknown>(module: string, fn: string, args?: unknown[], options?: CallOptions): Promise<R>;
  /** A typed proxy: `pool.module<{ fib(n: number): number }>('functions').fib(20)`. */
  module<T extends object>(name: string): PythonModule<T>;
  /** Iterates a Python generator or iterator, pulled item by item; `break` closes it. */
  stream<T = unknown>(module: string, fn: string, args?: unknown[], options?: StreamOptions): AsyncIterable<T>;
  stats(): PoolStats;
  /** The interpreters serving now: worker id, process id, and whether it runs a call. */
  interpreters(): InterpreterStatus[];
  /**
   * Resolves once all `size` interpreters are serving, e.g. after a crash once the replacement
   * is ready; at once if they already are. Rejects with `PoolStoppedError` if the pool stops first.
   */
  whenReady(): Promise<void>;
  /**
   * Refuses new calls (`PoolStoppedError`) and resolves once every queued and running call has
   * settled, or after `timeoutMs` (default: the pool's `shutdownTimeout`), whichever comes first.
   * The pool keeps its interpreters: stop it (or its tree) next.
   */
  drain(timeoutMs?: number): Promise<void>;
}

export interface InterpreterStatus {
  worker: string;
  pid: number;
  /** It runs at least one call (or holds a stream). */
  busy: boolean;
  /** Calls and streams it runs now, at most the pool's `concurrency`. */
  inFlight: number;
}

/**
 * A pool as a child of any supervision tree: a `one_for_one` supervisor of `size` Python workers
 * (under a `rest_for_one` supervisor whose first child is the fork server, with `startMethod:
 * 'forkserver'`: pool-launchers.ts), plus the dispatcher that queues calls for them. The workers
 * apply the crash policy (crash-policy.ts). Give the child spec a `name` to reach the pool with
 * `system.whereis(name)` across its restarts.
 */
export function pythonPool(options: PoolOptions = {}): StartFn<PoolRef> {
  const resolved = resolvePoolOptions(options);
  return (ctx) => startPool(ctx, resolved);
}

async function startPool(ctx: StartContext, options: ResolvedPoolOptions): Promise<StartedChild<PoolRef>> {
  const unfollow = options.events && followPoolEvents(ctx.system, ctx.path, options.events);
  let python: string;
  try {
    await checkPathEntries(options.path, options.cwd);
    python = await resolvePython(options.python, options.cwd, options.startTimeout);
  } catch (error) {
    unfollow?.();
    throw error;
  }
  const lifecycle = new PoolLifecycle(ctx.system, ctx.path);
  // One identity per pool incarnation: the reentrancy rule refuses calls to it from its own callbacks.
  const callbacks = options.expose && new ExposedFunctions(options.expose, {}, `the pool ${String(ctx.path)}`);
  // Socket directories of Node processes that were SIGKILLed (nothing else leaves them behind).
  await sweepStaleSocketDirs();
  const recyclers = new WeakMap<Interpreter, () => void>();
  const overMemory = new WeakSet<Interpreter>();
  const memoryLimit = memoryPolicy(options.maxMemoryPerWorker);
  const dispatcher = new Dispatcher<Interpreter>({
    maxQueue: options.maxQueue,
    maxMessageSize: options.maxMessageSize,
    batchCallsUnderMs: options.batchCallsUnderMs,
    maxTasksPerExecutor: options.maxTasksPerWorker,
    shouldRetire: memoryLimit && ((interpreter) => memoryLimit(interpreter) && (overMemory.add(interpreter), true)),
    onRetire: (interpreter) => {
      lifecycle.note(interpreter.id, 'recycle', overMemory.has(interpreter) ? 'maxMemoryPerWorker' : 'maxTasksPerWorker');
      recyclers.get(interpreter)?.();
    },
    onCancel: (interpreter, error) =>
      lifecycle.note(interpreter.id, error instanceof CallTimeoutError ? 'timeout' : 'abort', error instanceof Error ? error.message : String(error)),
  });
  const counts = { crashes: 0, startFailures: 0 };
  const emitOutput = outputSink(options.onOutput, ctx.system.events);
  const emit = (event: InterpreterEvent) => ctx.system.events.emit('interpreter', event);
  const launchers = new PoolLaunchers(ctx, options, python, emitOutput);

  const interpreterOptions = (workerId: string): InterpreterOptions => ({
      id: workerId,
      python,
      path: options.path,
      preload: options.preload,
      env: options.env,
      cwd: options.cwd,
      startTimeout: options.startTimeout,
      maxMessageSize: options.maxMessageSize,
      allowModules: options.allowModules,
      allowPrivate: options.allowPrivate,
      allowReexports: options.allowReexports,
      launcher: launchers.current,
      onOutput: (line, stream) => emitOutput({ worker: workerId, stream, line }),
      callbacks,
      concurrency: options.concurrency,
      cancelTimeout: options.cancelTimeout,
  });
  const starts = new InterpreterStarts({
    pool: ctx.path,
    startMethod: () => launchers.current.kind,
    emit,
    onStartFailure: () => counts.startFailures++,
    options: interpreterOptions,
  });
  const workerIds = Array.from({ length: options.size }, (_, i) => `python-${i + 1}`);

  const environment: WorkerEnvironment = {
    start: (workerId) => starts.start(workerId),
    onReady: (interpreter, recycle) => {
      lifecycle.ready(interpreter.id, interpreter.pid);
      recyclers.set(interpreter, recycle);
      dispatcher.attach(interpreter);
    },
    onLeave: (interpreter) => dispatcher.detach(interpreter),
    canLaunch: () => launchers.canLaunch,
    onExit: (workerId, interpreter, info, cause) => {
      if (cause === 'crash') {
        counts.crashes++;
        lifecycle.crashed(workerId, describeExit(info.code, info.signal));
      }
      else if (cause === 'start_failure') counts.startFailures++;
      emit({ type: 'exited', pool: ctx.path, worker: workerId, at: Date.now(), cause, pid: interpreter.pid, code: info.code, signal: info.signal });
    },
  };

  const interpreters: ChildSpec[] = workerIds.map((id) => ({
    id,
    start: pythonWorker(environment),
    restart: 'permanent',
    shutdown: options.shutdownTimeout,
    // Only failed starts reach the supervisor (crashes are replaced in place), so its backoff
    // grows only while starts keep failing.
    ...(options.restartBackoff && { backoff: { ...options.restartBackoff, factor: 2 } }),
  }));
  if (options.remote) interpreters.push(...hostChildren(environment, interpreterOptions, options.remote, options));

  let tree: StartedChild<unknown>;
  try {
    tree = await launchers.startTree(interpreters, () => starts.launchAhead(workerIds));
  } catch (error) {
    lifecycle.state = 'failed';
    lifecycle.dispose();
    await starts.discard();
    dispatcher.close(new PoolStoppedError('the pool failed to start'));
    throw poolStartError(error, python);
  }
  lifecycle.state = 'running';

  const stop = (why: string) => dispatcher.close(new PoolStoppedError(why));
  const failures = watchFailures(ctx);
  void tree.exited.then((reason) => {
    failures.dispose();
    lifecycle.dispose();
    lifecycle.state = failures.gaveUp ? 'failed' : 'stopped';
    // After a give-up, say why the interpreters kept failing: that is what the caller must fix.
    stop(
      failures.gaveUp
        ? `the pool stopped: more than ${options.intensity} interpreter restarts within ${options.period} ms; ` +
            `the last failure: ${failures.last ?? 'unknown'}`
        : `the pool stopped (${formatReason(reason)})`,
    );
  });

  const ref = new PoolHandle(dispatcher, options, lifecycle, ctx.path, tree.ref as SupervisorRef, callbacks, () => ({
    crashes: counts.crashes,
    startFailures: counts.startFailures,
    startMethod: launchers.current.kind as PoolStats['startMethod'],
  }));
  return {
    ref,
    // Not exited while an interpreter launched ahead (and never taken) may still run.
    exited: tree.exited.then(async (reason) => {
      await starts.discard();
      return reason;
    }),
    shutdown: (reason) => {
      lifecycle.state = 'stopping';
      stop('the pool is stopping');
      tree.shutdown(reason);
    },
    kill: () => {
      lifecycle.state = 'stopping';
      stop('the pool was killed');
      tree.kill();
    },
    // The pool's node in system.tree() is its supervisor's, plus what its stats() say at that
    // moment, marked as a pool's so that tools (the observer) can tell it from other supervisors.
    inspect: async () => ({ ...(await tree.inspect?.()), info: { kind: 'python-pool', ...ref.stats() } }),
  };
}

/** With a memory limit: replace an interpreter whose RSS exceeds it after a call. */
function memoryPolicy(maxMemory: number | undefined): ((interpreter: Interpreter) => boolean) | undefined {
  if (maxMemory === undefined) return undefined;
  return (interpreter) => (residentBytes(interpreter.pid) ?? 0) > maxMemory;
}

/** Follows the pool supervisor's events: whether it gave up, and its children's last failure. */
function watchFailures(ctx: StartContext): { gaveUp: boolean; last: string | undefined; dispose(): void } {
  const state = { gaveUp: false, last: undefined as string | undefined, dispose: () => {} };
  const listener = (event: SupervisorEvent) => {
    // The pool's own supervisor, and with a fork server the interpreters' supervisor under it.
    if (event.supervisor !== ctx.path && !event.supervisor.startsWith(`${ctx.path}/`)) return;
    if (event.type === 'gave_up') state.gaveUp = true;
    else if (event.type === 'start_failed') state.last = formatReason(event.reason as ExitReason);
    else if (event.type === 'exited' && !isNormalExit(event.reason)) state.last = formatReason(event.reason);
  };
  ctx.system.events.on('event', listener);
  state.dispose = () => ctx.system.events.off('event', listener);
  return state;
}

/** Free snapshot memory a pool keeps for reuse, at most (snapshots.ts). */
const SNAPSHOT_MEMORY_BYTES = 128 * 1024 * 1024;
/** ms without a snapshot after which that memory is let go. */
const SNAPSHOT_IDLE_MS = 1_000;

/**
 * The pool's public face: validates each call and encodes it (so that a value that cannot be
 * sent fails that call alone, and Python receives the value as it was at `call()`), then hands
 * it to the dispatcher.
 */
/** What the pool's start machinery counts, for `stats()`. */
type PoolCounts = Pick<PoolStats, 'crashes' | 'startFailures' | 'startMethod'>;

class PoolHandle implements PoolRef {
  readonly path: string;
  readonly supervisor: SupervisorRef;
  readonly #dispatcher: Dispatcher<Interpreter>;
  readonly #options: ResolvedPoolOptions;
  readonly #lifecycle: PoolLifecycle;
  readonly #callbacks: ExposedFunctions | undefined;
  readonly #counts: () => PoolCounts;
  readonly #codec: Codec;
  readonly #snapshots = new SnapshotBuffers({ maxBytes: SNAPSHOT_MEMORY_BYTES, idleMs: SNAPSHOT_IDLE_MS });
  readonly #copy = (view: Buffer) => this.#snapshots.take(view);

  constructor(
    dispatcher: Dispatcher<Interpreter>,
    options: ResolvedPoolOptions,
    lifecycle: PoolLifecycle,
    path: string,
    supervisor: SupervisorRef,
    callbacks: ExposedFunctions | undefined,
    counts: () => PoolCounts,
  ) {
    this.#counts = counts;
    this.#dispatcher = dispatcher;
    this.#options = options;
    this.#lifecycle = lifecycle;
    this.path = path;
    this.supervisor = supervisor;
    this.#callbacks = callbacks;
    this.#codec = createCodec({ maxMessageSize: options.maxMessageSize });
  }

  call<R = unknown>(module: string, fn: string, args: unknown[] = [], options: CallOptions = {}): Promise<R> {
    let call: EncodedCall;
    let request: CallRequest;
    try {
      const { timeout, retries, transfer } = checkCall(module, fn, args, options, this.#options.callTimeout);
      const reentry = this.#callbacks?.reentry(`the call to ${module}.${fn}`);
      if (reentry) throw reentry;
      // A stopped pool refuses the call as it is: no need to encode it first.
      if (this.#dispatcher.closed) return this.#dispatcher.call({ retries }) as Promise<R>;
      call = encodeCallBody(this.#codec, module, fn, args, options.kwargs, { transfer, copy: this.#copy });
      request = { call, timeout, signal: options.signal, retries };
      // Only what a call needs: most calls carry no context at all.
      const scope = this.#callbacks && currentScope();
      if (options.onProgress !== undefined || scope !== undefined) request.context = { onProgress: options.onProgress, scope };
    } catch (error) {
      return Promise.reject(error);
    }
    let settled: Promise<R>;
    if (!tracingCalls()) {
      settled = this.#dispatcher.call(request) as Promise<R>;
    } else {
      const trace: CallTraceContext = { pool: this.path, module, fn, args, kwargs: options.kwargs };
      request.trace = trace;
      settled = traceCall(trace, () => this.#dispatcher.call(request)) as Promise<R>;
    }
    if (call.frames.length === 0) return settled;
    // Settled, the call no longer needs its snapshots: their memory serves the next ones.
    const giveBack = () => this.#snapshots.give(call.frames);
    settled.then(giveBack, giveBack);
    return settled;
  }

  module<T extends object>(name: string): PythonModule<T> {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(`the module name must be a non-empty string, got ${String(name)} (${typeof name})`);
    }
    return new Proxy({} as PythonModule<T>, {
      get: (_target, prop) => {
        // Not thenable: `await pool.module('m')` must not call a Python function named `then`.
        if (typeof prop !== 'string' || prop === 'then') return undefined;
        return (...args: unknown[]) => this.call(name, prop, args);
      },
    });
  }

  stream<T = unknown>(module: string, fn: string, args: unknown[] = [], options: StreamOptions = {}): AsyncIterable<T> {
    const dispatcher = this.#dispatcher;
    const callbacks = this.#callbacks;
    const poolIdleTimeout = this.#options.streamIdleTimeout;
    return {
      [Symbol.asyncIterator]: async function* () {
        const { timeout, batch, idleTimeout } = checkStream(module, fn, args, options, poolIdleTimeout);
        const reentry = callbacks?.reentry(`the stream of ${module}.${fn}`);
        if (reentry) throw reentry;
        const { signal, kwargs } = options;
        const lease = await dispatcher.acquire({ signal, timeout });
        // The stream gives the interpreter's slot back itself once its lane is free (a pull given
        // up on holds it until its reply comes), whatever ended it: this generator may have been
        // dropped without `return()`.
        let items: AsyncIterableIterator<unknown>;
        try {
          items = lease.executor.stream(module, fn, args, kwargs, { batch, signal, idleTimeout, onEnd: lease.release });
        } catch (error) {
          lease.release();
          throw error;
        }
        for await (const item of items) yield item as T;
      },
    };
  }

  stats(): PoolStats {
    const size = interpreterCount(this.#options);
    const { ready, busy, queued } = this.#dispatcher.counts;
    const { state } = this.#lifecycle;
    const calls = this.#dispatcher.stats;
    return {
      state,
      size,
      ready,
      busy,
      // Only a running pool is bringing interpreters up; a stopping or failed one is not.
      starting: state === 'starting' || state === 'running' ? Math.max(0, size - ready - busy) : 0,
      queued,
      restarts: this.#lifecycle.restarts,
      restartsByCause: this.#lifecycle.restartsByCause,
      ...calls.summary(size),
      outcomes: calls.outcomes(),
      ...this.#counts(),
    };
  }

  interpreters(): InterpreterStatus[] {
    return this.#dispatcher
      .serving()
      .map(({ executor, inFlight }) => ({ worker: executor.id, pid: executor.pid, busy: inFlight > 0, inFlight }))
      .sort((a, b) => a.worker.localeCompare(b.worker));
  }

  whenReady(): Promise<void> {
    return this.#dispatcher.whenServing(interpreterCount(this.#options));
  }

  async drain(timeoutMs: number = this.#options.shutdownTimeout): Promise<void> {
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw new RangeError(`drain(timeoutMs): timeoutMs must be a number >= 0, got ${String(timeoutMs)}`);
    }
    if (this.#lifecycle.state === 'running') this.#lifecycle.state = 'stopping';
    this.#dispatcher.seal(new PoolStoppedError('the pool is draining: it takes no new calls'));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    try {
      await Promise.race([this.#dispatcher.whenIdle(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
