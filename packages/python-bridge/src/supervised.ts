import {
  formatReason,
  isNormalExit,
  supervisor,
  type ChildSpec,
  type ExitReason,
  type StartContext,
  type StartFn,
  type StartedChild,
  type SupervisorEvent,
} from '@piton/core';
import { createCodec, type Codec } from './codec.js';
import { Dispatcher, type CallRequest } from './dispatcher.js';
import { PoolStartError, PoolStoppedError } from './errors.js';
import type { Interpreter, InterpreterOptions } from './interpreter.js';
import {
  checkCall,
  checkStream,
  resolvePoolOptions,
  type CallOptions,
  type InterpreterOutput,
  type PoolOptions,
  type ResolvedPoolOptions,
  type StreamOptions,
} from './options.js';
import { encodeCallBody, type EncodedCall } from './payload.js';
import { residentBytes } from './process.js';
import { SnapshotBuffers } from './snapshots.js';
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
 * A pool as a child of any supervision tree: a `one_for_one` supervisor of `size` Python workers,
 * plus the dispatcher that queues calls for them. Give the child spec a `name` to reach the pool
 * with `system.whereis(name)` across its restarts.
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
    maxMessageSize: options.maxMessageSize,
    batchCallsUnderMs: options.batchCallsUnderMs,
    maxTasksPerExecutor: options.maxTasksPerWorker,
    shouldRetire: memoryPolicy(options.maxMemoryPerWorker),
    onRetire: (interpreter) => recyclers.get(interpreter)?.(),
  });
  let started = 0;
  const emitOutput = options.onOutput ?? ((output: InterpreterOutput) => ctx.system.events.emit('output', output));

  const environment: WorkerEnvironment = {
    interpreterOptions: (workerId): InterpreterOptions => ({
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
      onOutput: (line, stream) => emitOutput({ worker: workerId, stream, line }),
    }),
    onReady: (interpreter, recycle) => {
      started++;
      recyclers.set(interpreter, recycle);
      dispatcher.attach(interpreter);
    },
    onLeave: (interpreter) => dispatcher.detach(interpreter),
  };

  const children: ChildSpec[] = Array.from({ length: options.size }, (_, i) => ({
    id: `python-${i + 1}`,
    start: pythonWorker(environment),
    restart: 'permanent',
    shutdown: options.shutdownTimeout,
    ...(options.restartBackoff && { backoff: { ...options.restartBackoff, factor: 2 } }),
  }));

  let tree: StartedChild<unknown>;
  try {
    tree = await supervisor({
      strategy: 'one_for_one',
      intensity: options.intensity,
      period: options.period,
      children,
    })(ctx);
  } catch (error) {
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

  const ref = new PoolHandle(dispatcher, options, () => ({ size: options.size, restarts: Math.max(0, started - options.size) }));
  return {
    ref,
    exited: tree.exited,
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
    if (event.supervisor !== ctx.path) return;
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
class PoolHandle implements PoolRef {
  readonly #dispatcher: Dispatcher<Interpreter>;
  readonly #options: ResolvedPoolOptions;
  readonly #sizes: () => { size: number; restarts: number };
  readonly #codec: Codec;
  readonly #snapshots = new SnapshotBuffers({ maxBytes: SNAPSHOT_MEMORY_BYTES, idleMs: SNAPSHOT_IDLE_MS });
  readonly #copy = (view: Buffer) => this.#snapshots.take(view);

  constructor(dispatcher: Dispatcher<Interpreter>, options: ResolvedPoolOptions, sizes: () => { size: number; restarts: number }) {
    this.#dispatcher = dispatcher;
    this.#options = options;
    this.#sizes = sizes;
    this.#codec = createCodec({ maxMessageSize: options.maxMessageSize });
  }

  call<R = unknown>(module: string, fn: string, args: unknown[] = [], options: CallOptions = {}): Promise<R> {
    let call: EncodedCall;
    let request: CallRequest;
    try {
      const { timeout, retries, transfer } = checkCall(module, fn, args, options, this.#options.callTimeout);
      // A stopped pool refuses the call as it is: no need to encode it first.
      if (this.#dispatcher.closed) return this.#dispatcher.call({ retries }) as Promise<R>;
      call = encodeCallBody(this.#codec, module, fn, args, options.kwargs, { transfer, copy: this.#copy });
      request = { call, timeout, signal: options.signal, retries };
    } catch (error) {
      return Promise.reject(error);
    }
    const settled = this.#dispatcher.call(request) as Promise<R>;
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
    const poolIdleTimeout = this.#options.streamIdleTimeout;
    return {
      [Symbol.asyncIterator]: async function* () {
        const { timeout, batch, idleTimeout } = checkStream(module, fn, args, options, poolIdleTimeout);
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
