import {
  formatReason,
  isNormalExit,
  type ChildSpec,
  type ExitReason,
  type StartContext,
  type StartFn,
  type StartedChild,
  type SupervisorEvent,
} from '@piton/core';
import { Dispatcher, type CallRequest } from './dispatcher.js';
import type { InterpreterEvent } from './interpreter-events.js';
import { InterpreterStarts } from './interpreter-starts.js';
import { PoolLaunchers } from './pool-launchers.js';
import { PoolStartError, PoolStoppedError } from './errors.js';
import type { Interpreter, InterpreterOptions } from './interpreter.js';
import {
  checkCallOptions,
  resolvePoolOptions,
  type CallOptions,
  type InterpreterOutput,
  type PoolOptions,
  type ResolvedPoolOptions,
  type StreamOptions,
} from './options.js';
import { residentBytes } from './process.js';
import { resolvePython } from './python-executable.js';
import type { PoolStats } from './stats.js';
import { pythonWorker, type WorkerEnvironment } from './worker.js';

/** The functions of one Python module, as async functions. */
export type PythonModule<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => R extends Promise<unknown> ? R : Promise<R>
    : never;
};

/** What a running pool offers: `PythonPool` and `system.whereis(name)` of a mounted pool. */
export interface PoolRef {
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
}

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
  const python = await resolvePython(options.python, options.cwd);
  const recyclers = new WeakMap<Interpreter, () => void>();
  const dispatcher = new Dispatcher<Interpreter>({
    maxQueue: options.maxQueue,
    batchCallsUnderMs: options.batchCallsUnderMs,
    maxTasksPerExecutor: options.maxTasksPerWorker,
    shouldRetire: memoryPolicy(options.maxMemoryPerWorker),
    onRetire: (interpreter) => recyclers.get(interpreter)?.(),
  });
  const counts = { started: 0, crashes: 0, startFailures: 0 };
  const emitOutput = options.onOutput ?? ((output: InterpreterOutput) => ctx.system.events.emit('output', output));
  const emit = (event: InterpreterEvent) => ctx.system.events.emit('interpreter', event);
  const launchers = new PoolLaunchers(ctx, options, python, emitOutput);

  const starts = new InterpreterStarts({
    pool: ctx.path,
    startMethod: () => launchers.current.kind,
    emit,
    onStartFailure: () => counts.startFailures++,
    options: (workerId): InterpreterOptions => ({
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
      launcher: launchers.current,
      onOutput: (line, stream) => emitOutput({ worker: workerId, stream, line }),
    }),
  });
  const workerIds = Array.from({ length: options.size }, (_, i) => `python-${i + 1}`);

  const environment: WorkerEnvironment = {
    start: (workerId) => starts.start(workerId),
    onReady: (interpreter, recycle) => {
      counts.started++;
      recyclers.set(interpreter, recycle);
      dispatcher.attach(interpreter);
    },
    onLeave: (interpreter) => dispatcher.detach(interpreter),
    canLaunch: () => launchers.canLaunch,
    onExit: (workerId, interpreter, info, cause) => {
      if (cause === 'crash') counts.crashes++;
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

  let tree: StartedChild<unknown>;
  try {
    tree = await launchers.startTree(interpreters, () => starts.launchAhead(workerIds));
  } catch (error) {
    await starts.discard();
    dispatcher.close(new PoolStoppedError('the pool failed to start'));
    throw new PoolStartError(error);
  }

  const stop = (why: string) => dispatcher.close(new PoolStoppedError(why));
  const failures = watchFailures(ctx);
  void tree.exited.then((reason) => {
    failures.dispose();
    // After a give-up, say why the interpreters kept failing: that is what the caller must fix.
    stop(
      failures.gaveUp
        ? `the pool stopped: more than ${options.intensity} interpreter restarts within ${options.period} ms; ` +
            `the last failure: ${failures.last ?? 'unknown'}`
        : `the pool stopped (${formatReason(reason)})`,
    );
  });

  const ref = new PoolHandle(dispatcher, options, () => ({
    size: options.size,
    restarts: Math.max(0, counts.started - options.size),
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
      stop('the pool is stopping');
      tree.shutdown(reason);
    },
    kill: () => {
      stop('the pool was killed');
      tree.kill();
    },
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

type PoolSizes = Pick<PoolStats, 'size' | 'restarts' | 'crashes' | 'startFailures' | 'startMethod'>;

/** The pool's public face: validates each call, then hands it to the dispatcher. */
class PoolHandle implements PoolRef {
  readonly #dispatcher: Dispatcher<Interpreter>;
  readonly #options: ResolvedPoolOptions;
  readonly #sizes: () => PoolSizes;

  constructor(dispatcher: Dispatcher<Interpreter>, options: ResolvedPoolOptions, sizes: () => PoolSizes) {
    this.#dispatcher = dispatcher;
    this.#options = options;
    this.#sizes = sizes;
  }

  call<R = unknown>(module: string, fn: string, args: unknown[] = [], options: CallOptions = {}): Promise<R> {
    let request: CallRequest;
    try {
      checkName('module', module);
      checkName('function', fn);
      if (!Array.isArray(args)) throw new TypeError(`args must be an array, got ${typeof args}`);
      const { timeout, retries } = checkCallOptions(options, this.#options.callTimeout);
      request = { module, fn, args, kwargs: options.kwargs, timeout, signal: options.signal, retries };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#dispatcher.call(request) as Promise<R>;
  }

  module<T extends object>(name: string): PythonModule<T> {
    checkName('module', name);
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
    const batch = options.batch ?? 1;
    return {
      [Symbol.asyncIterator]: async function* () {
        checkName('module', module);
        checkName('function', fn);
        const lease = await dispatcher.acquire({ signal: options.signal, timeout: options.timeout });
        try {
          const items = lease.executor.stream(module, fn, args, options.kwargs, { batch });
          for await (const item of items) yield item as T;
        } finally {
          lease.release();
        }
      },
    };
  }

  stats(): PoolStats {
    return { ...this.#sizes(), ...this.#dispatcher.counts };
  }

  interpreters(): InterpreterStatus[] {
    return this.#dispatcher
      .serving()
      .map(({ executor, busy }) => ({ worker: executor.id, pid: executor.pid, busy }))
      .sort((a, b) => a.worker.localeCompare(b.worker));
  }

  whenReady(): Promise<void> {
    return this.#dispatcher.whenServing(this.#options.size);
  }
}

function checkName(what: string, name: unknown): void {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`the ${what} name must be a non-empty string, got ${String(name)} (${typeof name})`);
  }
}
