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
  resolvePoolOptions,
  sizeLimits,
  type CallOptions,
  type PoolOptions,
  type ResolvedPoolOptions,
  type SizeLimits,
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
import { HostSet, type HostStatus } from '../remote/host-set.js';
import { DnsHosts, hostResolver } from '../remote/dns-hosts.js';
import { resolveHost, type HostOptions } from '../remote/options.js';
import type { HostEvent } from '../ops/events.js';
import { pythonWorker, type WorkerEnvironment } from '../supervision/python-worker.js';
import { ElasticSize } from './elastic-size.js';

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
   * Resolves once the interpreters readiness counts are serving (`stats().minimum`: all `size`
   * of a fixed pool, `size.min` of an elastic one, plus each host's), e.g. after a crash once the
   * replacement is ready; at once if they already are. Rejects with `PoolStoppedError` if the
   * pool stops first.
   */
  whenReady(): Promise<void>;
  /**
   * New bounds for the local interpreters: a number (fixed) or `{ min, max }` (elastic). Slots
   * below `min` start at once; above `max`, idle ones stop at once and busy ones once their work
   * is done (never one with a call, a stream or a callback in flight). Resolves once the pool is
   * within the bounds with `min` serving. Bad values throw before anything changes.
   */
  resize(size: number | SizeLimits): Promise<void>;
  /**
   * Adds a remote host while the pool runs (the pool needs `keys`). Resolves once its interpreters
   * serve; until then each failed attempt (refused, naming the key, or unreachable) shows in
   * `stats().hosts` and a `'host'` event, and is retried with backoff. Rejects if the host is
   * removed, or the pool stops, first.
   */
  addHost(host: HostOptions): Promise<void>;
  /**
   * Drains a remote host and removes it: its interpreters take no new call at once, those in
   * flight have `shutdownTimeout` to finish, then they stop (exit cause `shrink`, never counted
   * as lost). Resolves once they have.
   */
  removeHost(agent: string): Promise<void>;
  /**
   * Refuses new calls (`PoolStoppedError`) and resolves once every queued and running call has
   * settled, or after `timeoutMs` (default: the pool's `shutdownTimeout`), whichever comes first.
   * The pool keeps its interpreters: stop it (or its tree) next.
   */
  drain(timeoutMs?: number): Promise<void>;
}

export type { HostStatus };

export interface InterpreterStatus {
  worker: string;
  pid: number;
  busy: boolean;
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
  // Set below, once the dispatcher it reads exists: the dispatcher asks it after each run.
  let elastic!: ElasticSize;
  const dispatcher = new Dispatcher<Interpreter>({
    maxQueue: options.maxQueue,
    maxMessageSize: options.maxMessageSize,
    batchCallsUnderMs: options.batchCallsUnderMs,
    maxTasksPerExecutor: options.maxTasksPerWorker,
    shouldRetire: (interpreter) =>
      elastic.isSurplus(interpreter) || (memoryLimit !== undefined && memoryLimit(interpreter) && (overMemory.add(interpreter), true)),
    onRetire: (interpreter) => {
      // Above the pool's max after a resize: its slot stops, now that its work is done.
      if (elastic.retired(interpreter)) return;
      lifecycle.note(interpreter.id, 'recycle', overMemory.has(interpreter) ? 'maxMemoryPerWorker' : 'maxTasksPerWorker');
      recyclers.get(interpreter)?.();
    },
    onCancel: (interpreter, error) =>
      lifecycle.note(interpreter.id, error instanceof CallTimeoutError ? 'timeout' : 'abort', error instanceof Error ? error.message : String(error)),
    onQueued: () => elastic.queued(),
  });
  const counts = { crashes: 0, startFailures: 0 };
  const emitOutput = outputSink(options.onOutput, ctx.system.events);
  const emit = (event: InterpreterEvent) => ctx.system.events.emit('interpreter', event);
  const emitHost = (event: HostEvent) => ctx.system.events.emit('host', event);
  const launchers = new PoolLaunchers(ctx, options, python, emitOutput);

  const interpreterOptions = (workerId: string): InterpreterOptions => ({
      id: workerId,
      python,
      path: options.path,
      preload: options.preload,
      env: slotEnvironment(options, workerId),
      cwd: options.cwd,
      startTimeout: options.startTimeout,
      maxMessageSize: options.maxMessageSize,
      allowModules: options.allowModules,
      allowPrivate: options.allowPrivate,
      allowReexports: options.allowReexports,
      launcher: launchers.current,
      onOutput: (line, stream) => emitOutput({ worker: workerId, stream, line }),
      callbacks,
  });
  const starts = new InterpreterStarts({
    pool: ctx.path,
    startMethod: () => launchers.current.kind,
    emit,
    onStartFailure: () => counts.startFailures++,
    options: interpreterOptions,
  });

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
      else if (cause === 'shrink') lifecycle.forget(interpreter.id);
      emit({ type: 'exited', pool: ctx.path, worker: workerId, at: Date.now(), cause, pid: interpreter.pid, code: info.code, signal: info.signal });
    },
  };
  // The local workers: the elastic size keeps count of those serving, and names a stopped slot's exit.
  const localEnvironment: WorkerEnvironment = {
    ...environment,
    onReady: (interpreter, recycle) => {
      environment.onReady(interpreter, recycle);
      elastic.ready(interpreter);
    },
    onLeave: (interpreter) => {
      elastic.left(interpreter);
      return environment.onLeave(interpreter);
    },
    onExit: (workerId, interpreter, info, cause) =>
      environment.onExit(workerId, interpreter, info, cause === 'stop' && elastic.isStopping(workerId) ? 'shrink' : cause),
  };
  const slotSpec = (id: string, background: boolean): ChildSpec => ({
    id,
    start: pythonWorker(localEnvironment, { background }),
    restart: 'permanent',
    shutdown: options.shutdownTimeout,
    // Only failed starts reach the supervisor (crashes are replaced in place), so its backoff
    // grows only while starts keep failing.
    ...(options.restartBackoff && { backoff: { ...options.restartBackoff, factor: 2 } }),
  });
  let localSupervisor: SupervisorRef | undefined;
  elastic = new ElasticSize({
    limits: options.size,
    idleTimeout: options.idleTimeout,
    queued: () => dispatcher.counts.queued,
    idleFor: (interpreter, now) => dispatcher.idleFor(interpreter, now),
    retireIfIdle: (interpreter) => dispatcher.retireIfIdle(interpreter),
    supervisor: () => localSupervisor,
    slotSpec,
  });
  const hosts = options.remote && new HostSet({
    pool: ctx.path,
    remote: options.remote,
    startTimeout: options.startTimeout,
    shutdownTimeout: options.shutdownTimeout,
    environment,
    interpreterOptions,
    emit: emitHost,
    detach: (interpreter) => dispatcher.detach(interpreter),
  });

  let tree: StartedChild<unknown>;
  try {
    tree = await launchers.startTree(
      {
        // Each start of the local workers' supervisor (a fork server's death restarts it) has the slots kept now.
        interpreters: () => elastic.slotIds().map((id) => slotSpec(id, false)),
        ...(hosts && { hosts: hosts.childSpec() }),
        onInterpreters: (ref) => (localSupervisor = ref),
      },
      () => starts.launchAhead(elastic.slotIds()),
    );
  } catch (error) {
    lifecycle.state = 'failed';
    lifecycle.dispose();
    elastic.close();
    hosts?.close();
    await starts.discard();
    dispatcher.close(new PoolStoppedError('the pool failed to start'));
    throw poolStartError(error, python);
  }
  lifecycle.state = 'running';
  const resolver = hosts && options.remote!.discover.length > 0 ? hostResolver(options.dns.servers) : undefined;
  const discovery = hosts && resolver ? options.remote!.discover.map((entry) => new DnsHosts(entry, resolver, hosts, emitHost, ctx.path)) : [];
  for (const names of discovery) names.start();

  const stop = (why: string) => {
    const error = new PoolStoppedError(why);
    for (const names of discovery) names.stop();
    resolver?.cancel();
    elastic.close(error);
    hosts?.close(error);
    dispatcher.close(error);
  };
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

  const ref = new PoolHandle(dispatcher, options, lifecycle, ctx.path, tree.ref as SupervisorRef, callbacks, elastic, hosts, () => ({
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

/**
 * The environment of one interpreter: the pool's `env`, or what its function gives for the
 * interpreter's slot (`python-3` → index 2; on a host, `host-1/python-2` → 1), asked anew at each start.
 */
function slotEnvironment(options: ResolvedPoolOptions, workerId: string): Record<string, string | undefined> {
  if (options.envForSlot === undefined) return options.env;
  const match = /python-(\d+)$/.exec(workerId);
  const index = match ? Number(match[1]) - 1 : 0;
  const env = options.envForSlot(index);
  if (typeof env !== 'object' || env === null) throw new TypeError(`options.env(${index}) must return an object of strings, got ${String(env)}`);
  return { ...options.env, ...env };
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
  readonly #elastic: ElasticSize;
  readonly #hosts: HostSet | undefined;
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
    elastic: ElasticSize,
    hosts: HostSet | undefined,
    counts: () => PoolCounts,
  ) {
    this.#counts = counts;
    this.#elastic = elastic;
    this.#hosts = hosts;
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
        try {
          // Ended from outside (abort, idle timeout), the stream gives the interpreter back
          // itself: this generator may have been dropped without `return()`.
          const items = lease.executor.stream(module, fn, args, kwargs, { batch, signal, idleTimeout, onEnd: lease.release });
          for await (const item of items) yield item as T;
        } finally {
          lease.release();
        }
      },
    };
  }

  stats(): PoolStats {
    const local = this.#elastic.counts;
    const size = local.size + (this.#hosts?.size ?? 0);
    const { ready, busy, queued } = this.#dispatcher.counts;
    const { state } = this.#lifecycle;
    const calls = this.#dispatcher.stats;
    return {
      state,
      size,
      limits: this.#elastic.limits,
      minimum: this.#minimum(),
      ready,
      busy,
      // Only a running pool is bringing interpreters up; a stopping or failed one is not.
      starting: state === 'starting' || state === 'running' ? Math.max(0, size - ready - busy) : 0,
      stopping: local.stopping,
      grown: local.grown,
      shrunk: local.shrunk,
      hosts: this.#hosts?.status() ?? [],
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
      .map(({ executor, busy }) => ({ worker: executor.id, pid: executor.pid, busy }))
      .sort((a, b) => a.worker.localeCompare(b.worker));
  }

  whenReady(): Promise<void> {
    return this.#dispatcher.whenServing(this.#minimum());
  }

  /** What readiness counts: the local minimum and the hosts' (see HostSet#required). */
  #minimum(): number {
    return this.#elastic.limits.min + (this.#hosts?.required ?? 0);
  }

  resize(size: number | SizeLimits): Promise<void> {
    let limits: SizeLimits;
    try {
      limits = sizeLimits(size, 'resize(size)', this.#hosts ? 0 : 1);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#dispatcher.closed) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#elastic.resize(limits);
  }

  addHost(host: HostOptions): Promise<void> {
    if (this.#hosts === undefined) return Promise.reject(new TypeError('addHost(host): this pool has no keys: start it with options.keys (and options.hosts, if any) to add hosts'));
    let checked: HostOptions;
    try {
      checked = resolveHost(host, 'addHost(host)');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#hosts.add(checked);
  }

  removeHost(agent: string): Promise<void> {
    if (this.#hosts === undefined) return Promise.reject(new TypeError('removeHost(agent): this pool has no remote hosts'));
    return this.#hosts.remove(agent);
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
