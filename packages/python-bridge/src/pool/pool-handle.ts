/**
 * What a running pool offers its users: the {@link PoolRef} contract (`call`, `module`, `stream`,
 * `stats`, `interpreters`, `whenReady`, `drain`) and {@link PoolHandle}, which keeps it. A handle
 * checks and encodes each call at `call()` and hands it to the dispatcher; it never starts or
 * stops anything itself (pool-child.ts wires it to the tree that does).
 */
import type { SupervisorRef } from '@piton/core';
import { currentScope, type CallContext, type ExposedFunctions } from '../interpreter/callbacks.js';
import { createCodec, type Codec } from '../wire/codec.js';
import type { CallRequest, Dispatcher } from '../dispatch/dispatcher.js';
import { PoolStoppedError } from '../errors.js';
import { checkNumber, describe } from '../validation.js';
import { within } from '../timing.js';
import type { PoolLifecycle } from '../ops/lifecycle.js';
import type { Interpreter } from '../interpreter/interpreter.js';
import { interpreterCount, type CallOptions, type ResolvedPoolOptions, type StreamOptions } from './options.js';
import { checkCall, checkStream } from './validate.js';
import { encodeCallBody, type EncodedCall } from '../wire/encoded-call.js';
import { SnapshotBuffers } from './snapshots.js';
import type { PoolStats } from '../ops/stats.js';
import { traceCall, tracingCalls, type CallTraceContext } from '../ops/tracing.js';

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
  busy: boolean;
}

/** Free snapshot memory a pool keeps for reuse, at most (snapshots.ts). */
const SNAPSHOT_MEMORY_BYTES = 128 * 1024 * 1024;
/** ms without a snapshot after which that memory is let go. */
const SNAPSHOT_IDLE_MS = 1_000;

/** What the pool's start machinery counts, for `stats()`. */
export type PoolCounts = Pick<PoolStats, 'crashes' | 'startFailures' | 'startMethod'>;

/**
 * The pool's public face: validates each call and encodes it (so that a value that cannot be
 * sent fails that call alone, and Python receives the value as it was at `call()`), then hands
 * it to the dispatcher.
 */
export class PoolHandle implements PoolRef {
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
    let request: CallRequest<CallContext>;
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
      throw new TypeError(`the module name must be a non-empty string, got ${describe(name)}`);
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
        const { waitTimeout, batch, idleTimeout } = checkStream(module, fn, args, options, poolIdleTimeout);
        const reentry = callbacks?.reentry(`the stream of ${module}.${fn}`);
        if (reentry) throw reentry;
        const { signal, kwargs } = options;
        const lease = await dispatcher.acquire({ signal, timeout: waitTimeout });
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
      .map(({ executor, busy }) => ({ worker: executor.id, pid: executor.pid, busy }))
      .sort((a, b) => a.worker.localeCompare(b.worker));
  }

  whenReady(): Promise<void> {
    return this.#dispatcher.whenServing(interpreterCount(this.#options));
  }

  async drain(timeoutMs: number = this.#options.shutdownTimeout): Promise<void> {
    checkNumber('timeoutMs', timeoutMs, { min: 0 });
    if (this.#lifecycle.state === 'running') this.#lifecycle.state = 'stopping';
    this.#dispatcher.seal(new PoolStoppedError('the pool is draining: it takes no new calls'));
    await within(this.#dispatcher.whenIdle(), timeoutMs, () => undefined);
  }
}
