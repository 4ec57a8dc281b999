/**
 * What a running pool offers its users: the {@link PoolRef} contract (`call`, `module`, `stream`,
 * `stats`, `interpreters`, `whenReady`, `resize`, `addHost`, `removeHost`, `drain`) and {@link PoolHandle}, which keeps it. A handle
 * checks and encodes each call at `call()` and hands it to the dispatcher; it never starts or
 * stops anything itself (pool-child.ts wires it to the tree that does).
 */
import type { SupervisorRef } from '@piton/core';
import { AsyncResource } from 'node:async_hooks';
import { currentScope, type CallContext, type ExposedFunctions } from '../interpreter/callbacks.js';
import { ArrowNotLoaded, createCodec, loadArrow, type Codec } from '../wire/codec.js';
import type { CallRequest, Dispatcher } from '../dispatch/dispatcher.js';
import { PoolStoppedError } from '../errors.js';
import { checkNumber, describe } from '../validation.js';
import { within } from '@piton/core';
import type { PoolLifecycle } from '../ops/lifecycle.js';
import type { Interpreter } from '../interpreter/interpreter.js';
import type { CallOptions, ResolvedPoolOptions, SizeLimits, StreamOptions } from './options.js';
import { checkCall, checkStream, sizeLimits } from './validate.js';
import type { ElasticSize } from './elastic-size.js';
import type { HostSet } from '../remote/host-set.js';
import { resolveHost, type HostOptions } from '../remote/options.js';
import { callSizeBound, encodeCallBody, ENVELOPE_OVERHEAD, withOptions, type EncodedCall } from '../wire/encoded-call.js';
import { SnapshotBuffers } from './snapshots.js';
import type { PoolStats } from '../ops/stats.js';
import { publishOutcome, streamChannel, traceCall, tracingCalls, tracingOutcomesOnly, tracingStreams, type CallTraceContext, type StreamTraceContext } from '../ops/tracing.js';
import { activeTraceHeaders } from '../ops/trace-propagation.js';
import { encodeCallOptions, type TraceHeaders } from '../wire/call-options.js';
import { DynamicBatcher, snapshotArrays, type BatchedCallTrace, type BatchPolicies } from '../dispatch/batcher.js';
import type {
  CallableName,
  CallRest,
  CallResult,
  PythonModules,
  StreamableName,
  StreamItem,
  StreamRest,
  TypedModule,
  TypedModuleName,
  UntypedModuleName,
} from './typed-calls.js';

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
  /**
   * `module.fn(*args, **kwargs)` on the next idle interpreter. Checked against the signature when
   * `PythonModules` has the module (`npx piton types`: typed-calls.ts), unless `R` is given.
   */
  call<R = unknown, M extends string = string>(module: UntypedModuleName<M>, fn: string, args?: unknown[], options?: CallOptions): Promise<R>;
  call<M extends TypedModuleName, F extends CallableName<M>>(module: M, fn: F, ...rest: CallRest<M, F>): Promise<CallResult<M, F>>;
  /** A proxy: `pool.module('functions').fib(20)`, typed by `PythonModules` or by `T` (`pool.module<{ fib(n: number): number }>('functions')`). */
  module<N extends TypedModuleName>(name: N): TypedModule<PythonModules[N]>;
  module<T extends object>(name: string): PythonModule<T>;
  /** Iterates a Python generator or iterator, pulled item by item; `break` closes it. Typed as `call` is. */
  stream<T = unknown, M extends string = string>(module: UntypedModuleName<M>, fn: string, args?: unknown[], options?: StreamOptions): AsyncIterable<T>;
  stream<M extends TypedModuleName, F extends StreamableName<M>>(module: M, fn: F, ...rest: StreamRest<M, F>): AsyncIterable<StreamItem<M, F>>;
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
   * Adds a remote host while the pool runs (the pool needs `remote.keys`). Resolves once its
   * interpreters serve; until then each failed attempt (refused, naming the key, or unreachable)
   * shows in `stats().hosts` and a `'host'` event, and is retried with backoff. Rejects if the
   * host is removed, or the pool stops, first.
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

export interface InterpreterStatus {
  worker: string;
  pid: number;
  /** It runs at least one call (or holds a stream). */
  busy: boolean;
  /** Calls and streams it runs now, at most the pool's `concurrency`. */
  inFlight: number;
}


/** The event loop the serving interpreters run coroutines on: one kind, `'mixed'`, or undefined with none serving. */
function loopOf(kinds: readonly string[]): PoolStats['loop'] {
  const distinct = new Set(kinds.filter((kind) => kind !== ''));
  if (distinct.size === 0) return undefined;
  if (distinct.size > 1) return 'mixed';
  return [...distinct][0] === 'uvloop' ? 'uvloop' : 'asyncio';
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
export type PoolCounts = Pick<PoolStats, 'crashes' | 'startFailures' | 'startMethod'>;

export class PoolHandle implements PoolRef {
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
  readonly #batcher: DynamicBatcher;
  /** The options of every merged call (`batched`), encoded once. */
  readonly #batchedOptions: Buffer;
  readonly #snapshots = new SnapshotBuffers({ maxBytes: SNAPSHOT_MEMORY_BYTES, idleMs: SNAPSHOT_IDLE_MS });
  readonly #copy = (view: Buffer) => this.#snapshots.take(view);

  constructor(
    dispatcher: Dispatcher<Interpreter>,
    options: ResolvedPoolOptions,
    lifecycle: PoolLifecycle,
    path: string,
    supervisor: SupervisorRef,
    callbacks: ExposedFunctions | undefined,
    batchPolicies: BatchPolicies,
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
    // A table's IPC stream is written at call() into snapshot memory, given back when the call settles.
    this.#codec = createCodec({ maxMessageSize: options.maxMessageSize, allocate: (size) => this.#snapshots.lend(size) });
    // Copied: the codec writes into memory it reuses.
    this.#batchedOptions = Buffer.from(encodeCallOptions(this.#codec, { batched: true })!);
    // A merged call's body is one call's, its inputs in a list (an array 32 header at most), and
    // its options: the calls' sizes, which each count one call's body, may add up to the rest.
    const batchBytes = options.maxMessageSize - ENVELOPE_OVERHEAD - this.#batchedOptions.length - 5;
    this.#batcher = new DynamicBatcher(batchPolicies, (module, fn, inputs, timeout, trace) => this.#sendBatch(module, fn, inputs, timeout, trace), () => dispatcher.hasFreeSlot, batchBytes);
    dispatcher.onSlotFree = this.#batcher.slotFree;
  }

  /** One merged call to a batched function: its one argument is the list of the calls' inputs. */
  #sendBatch(module: string, fn: string, inputs: unknown[], timeout: number | undefined, trace: BatchedCallTrace | undefined): Promise<unknown> {
    let call: EncodedCall;
    try {
      const body = encodeCallBody(this.#codec, module, fn, [inputs], undefined, { transfer: true });
      call = withOptions(body, this.#batchedOptions, this.#options.maxMessageSize);
    } catch (error) {
      if (error instanceof ArrowNotLoaded) return loadArrow().then(() => this.#sendBatch(module, fn, inputs, timeout, trace));
      return Promise.reject(error);
    }
    return this.#dispatcher.call({ call, timeout, retries: 0, trace });
  }

  /**
   * What a batched function's call adds to a merged call: a bound known without encoding it (an
   * intact NdArray: a model's rows, the common input), else its size encoded alone now, which also
   * makes an EncodeError or MessageTooLargeError this call's (it is sent with the others later).
   */
  #batchedCallSize(module: string, fn: string, input: unknown): number {
    const bound = callSizeBound(module, fn, input);
    if (bound !== undefined && bound + ENVELOPE_OVERHEAD <= this.#options.maxMessageSize) return bound;
    return encodeCallBody(this.#codec, module, fn, [input], undefined, { transfer: true }).size;
  }

  /** Open batches' calls reject with `error` (the pool is stopping). */
  closeBatches(error: unknown): void {
    this.#batcher.close(error);
  }

  call<R = unknown, M extends string = string>(module: UntypedModuleName<M>, fn: string, args?: unknown[], options?: CallOptions): Promise<R>;
  call<M extends TypedModuleName, F extends CallableName<M>>(module: M, fn: F, ...rest: CallRest<M, F>): Promise<CallResult<M, F>>;
  call<R>(module: string, fn: string, args: unknown[] = [], options: CallOptions = {}): Promise<R> {
    let call: EncodedCall;
    let request: CallRequest<CallContext>;
    try {
      const { timeout, retries, transfer, context } = checkCall(module, fn, args, options, this.#options.callTimeout);
      const reentry = this.#callbacks?.reentry(`the call to ${module}.${fn}`);
      if (reentry) throw reentry;
      // A stopped pool refuses the call as it is: no need to encode it first.
      if (this.#dispatcher.closed) return this.#dispatcher.call({ retries }) as Promise<R>;
      // A batched function's call joins a batch: one input, nothing that would need a call of its
      // own, and small enough to share a message with another call (else it goes alone, below).
      const size = args.length === 1 && options.kwargs === undefined && options.onProgress === undefined && context === undefined && this.#batcher.policy(module, fn) !== undefined
        ? this.#batchedCallSize(module, fn, args[0])
        : undefined;
      if (size !== undefined && size <= this.#batcher.maxBytes) {
        const input = transfer ? args[0] : snapshotArrays(args[0]);
        const batched = { size, timeout, signal: options.signal, retries };
        // Calls waiting in open batches count against maxQueue as queued calls do.
        if (!tracingCalls()) return (this.#dispatcher.refuseIfFull(this.#batcher.waiting) ?? this.#batcher.submit(module, fn, input, batched)) as Promise<R>;
        // Traced, it still joins a batch unless a subscriber gave it something of its own at
        // `start` (a span's headers, a context for callbacks, an event listener: the
        // OpenTelemetry instrumentation does), which one merged call could not carry for each
        // caller; a subscriber that only reads the outcome (the Prometheus exporter) batches.
        const trace: CallTraceContext = { pool: this.path, module, fn, args, kwargs: undefined };
        if (tracingOutcomesOnly()) {
          return publishOutcome(trace, this.#dispatcher.refuseIfFull(this.#batcher.waiting, trace) ?? this.#batcher.submit(module, fn, input, { ...batched, trace })) as Promise<R>;
        }
        return traceCall(trace, () => {
          if (trace.traceHeaders === undefined && trace.runInContext === undefined && trace.onEvent === undefined) {
            return this.#dispatcher.refuseIfFull(this.#batcher.waiting, trace) ?? this.#batcher.submit(module, fn, input, { ...batched, trace });
          }
          return this.#callAlone(module, fn, args, { timeout, signal: options.signal, retries, transfer }, trace);
        }) as Promise<R>;
      }
      call = encodeCallBody(this.#codec, module, fn, args, options.kwargs, { transfer, copy: this.#copy });
      request = { call, timeout, signal: options.signal, retries };
      // Only what a call needs: most calls carry no context at all. A pool that exposes functions
      // keeps the caller's async context for them (its trace context, its AsyncLocalStorage).
      const scope = this.#callbacks && currentScope();
      const resource = this.#callbacks && new AsyncResource('piton.call');
      if (options.onProgress !== undefined || scope !== undefined || resource !== undefined) {
        request.context = { onProgress: options.onProgress, scope, resource };
      }
      if (!tracingCalls()) {
        // The caller's OpenTelemetry span, if any, and the call's values travel with it.
        const trace = activeTraceHeaders();
        if (trace !== undefined || context !== undefined) this.#addOptions(request, call, trace, context, options.onProgress !== undefined);
      }
    } catch (error) {
      // The first apache-arrow value this program sends: it is written once apache-arrow is loaded.
      if (error instanceof ArrowNotLoaded) return loadArrow().then(() => this.call<R>(module, fn, args, options));
      return Promise.reject(error);
    }
    let settled: Promise<R>;
    if (!tracingCalls()) {
      settled = this.#dispatcher.call(request) as Promise<R>;
    } else {
      const trace: CallTraceContext = { pool: this.path, module, fn, args, kwargs: options.kwargs };
      request.trace = trace;
      const context = options.context;
      settled = traceCall(trace, () => {
        // After `start`: a subscriber's span for the call, if it made one, is the parent Python sees.
        try {
          const headers = trace.traceHeaders ?? activeTraceHeaders();
          if (headers !== undefined || context !== undefined) this.#addOptions(request, call, headers, context, options.onProgress !== undefined);
          if (trace.runInContext !== undefined || trace.onEvent !== undefined) {
            // Written out, not spread: V8 copies `{ ...object, key }` on its slow path (over 1 µs).
            const { onProgress, scope, resource } = request.context ?? {};
            request.context = { onProgress, scope, resource, trace };
          }
        } catch (error) {
          return Promise.reject(error);
        }
        return this.#dispatcher.call(request);
      }) as Promise<R>;
    }
    return this.#withSnapshotsGivenBack(call, settled);
  }

  /**
   * A call to a batched function that a tracing subscriber gave something of its own at `start`
   * (a span's headers, callbacks' context, an event listener): it runs alone, inside that trace.
   */
  #callAlone(
    module: string,
    fn: string,
    args: unknown[],
    { timeout, signal, retries, transfer }: { timeout: number | undefined; signal: AbortSignal | undefined; retries: number; transfer: boolean },
    trace: CallTraceContext,
  ): Promise<unknown> {
    let call: EncodedCall;
    let request: CallRequest<CallContext>;
    try {
      call = encodeCallBody(this.#codec, module, fn, args, undefined, { transfer, copy: this.#copy });
      request = { call, timeout, signal, retries, trace };
      const scope = this.#callbacks && currentScope();
      const resource = this.#callbacks && new AsyncResource('piton.call');
      if (scope !== undefined || resource !== undefined || trace.runInContext !== undefined || trace.onEvent !== undefined) {
        request.context = { onProgress: undefined, scope, resource, trace };
      }
      const headers = trace.traceHeaders ?? activeTraceHeaders();
      if (headers !== undefined) this.#addOptions(request, call, headers, undefined, false);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#withSnapshotsGivenBack(call, this.#dispatcher.call(request));
  }

  /** `settled`, after which the call no longer needs its snapshots: their memory serves the next ones. */
  #withSnapshotsGivenBack<R>(call: EncodedCall, settled: Promise<R>): Promise<R> {
    if (call.frames.length === 0) return settled;
    const giveBack = () => this.#snapshots.give(call.frames);
    settled.then(giveBack, giveBack);
    return settled;
  }

  /** Gives `request` its call's options item (trace context, values, progress flag). */
  #addOptions(request: CallRequest<CallContext>, call: EncodedCall, trace: TraceHeaders | undefined, context: CallOptions['context'], progress: boolean): void {
    const item = encodeCallOptions(this.#codec, { progress, trace, context });
    request.call = withOptions(call, item, this.#options.maxMessageSize);
  }


  module<N extends TypedModuleName>(name: N): TypedModule<PythonModules[N]>;
  module<T extends object>(name: string): PythonModule<T>;
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

  stream<T = unknown, M extends string = string>(module: UntypedModuleName<M>, fn: string, args?: unknown[], options?: StreamOptions): AsyncIterable<T>;
  stream<M extends TypedModuleName, F extends StreamableName<M>>(module: M, fn: F, ...rest: StreamRest<M, F>): AsyncIterable<StreamItem<M, F>>;
  stream<T>(module: string, fn: string, args: unknown[] = [], options: StreamOptions = {}): AsyncIterable<T> {
    const dispatcher = this.#dispatcher;
    const callbacks = this.#callbacks;
    const poolIdleTimeout = this.#options.streamIdleTimeout;
    const path = this.path;
    return {
      [Symbol.asyncIterator]: async function* () {
        const { waitTimeout, batch, idleTimeout, context } = checkStream(module, fn, args, options, poolIdleTimeout);
        const reentry = callbacks?.reentry(`the stream of ${module}.${fn}`);
        if (reentry) throw reentry;
        const { signal, kwargs } = options;
        const trace: StreamTraceContext | undefined = tracingStreams() ? { pool: path, module, fn, args, kwargs } : undefined;
        if (trace !== undefined) streamChannel.start.publish(trace);
        let items = 0;
        try {
          const lease = await dispatcher.acquire({ signal, timeout: waitTimeout });
          // The stream gives the interpreter's slot back itself once its lane is free (a pull
          // given up on holds it until its reply comes), whatever ended it: this generator may
          // have been dropped without `return()`.
          let stream: AsyncIterableIterator<unknown>;
          try {
            if (trace !== undefined) {
              trace.worker = lease.executor.id;
              trace.pid = lease.executor.pid;
            }
            const headers = trace?.traceHeaders ?? activeTraceHeaders();
            const callOptions = headers !== undefined || context !== undefined ? { trace: headers, context } : undefined;
            const onItems = trace?.onEvent && ((count: number, done: boolean) => trace.onEvent!({ kind: 'items', count, done }));
            stream = lease.executor.stream(module, fn, args, kwargs, { batch, signal, idleTimeout, onEnd: lease.release, callOptions, onItems });
          } catch (error) {
            lease.release();
            throw error;
          }
          for await (const item of stream) {
            items++;
            yield item as T;
          }
        } catch (error) {
          if (trace !== undefined) {
            trace.error = error;
            streamChannel.error.publish(trace);
          }
          throw error;
        } finally {
          if (trace !== undefined) {
            trace.items = items;
            streamChannel.asyncEnd.publish(trace);
          }
        }
      },
    };
  }

  stats(): PoolStats {
    const local = this.#elastic.counts;
    const size = local.size + (this.#hosts?.size ?? 0);
    const { ready, busy, queued, inFlight, free } = this.#dispatcher.counts;
    const concurrency = this.#options.concurrency;
    const serving = this.#dispatcher.serving();
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
      // Calls in open dynamic batches wait for an interpreter as queued ones do.
      queued: queued + this.#batcher.waiting,
      restarts: this.#lifecycle.restarts,
      restartsByCause: this.#lifecycle.restartsByCause,
      concurrency,
      capacity: size * concurrency,
      inFlight,
      free,
      inFlightByInterpreter: Object.fromEntries(serving.map(({ executor, inFlight: n }) => [executor.id, n])),
      loop: loopOf(serving.map(({ executor }) => executor.info.loop)),
      ...calls.summary(size * concurrency),
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
    return this.#dispatcher.whenServing(this.#minimum());
  }

  /** What readiness counts: the local minimum and the hosts' (see HostSet#required). */
  #minimum(): number {
    return this.#elastic.limits.min + (this.#hosts?.required ?? 0);
  }

  resize(size: number | SizeLimits): Promise<void> {
    let limits: SizeLimits;
    try {
      limits = sizeLimits('resize(size)', size, this.#hosts ? 0 : 1);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#dispatcher.closed) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#elastic.resize(limits);
  }

  addHost(host: HostOptions): Promise<void> {
    if (this.#hosts === undefined) {
      return Promise.reject(new TypeError('addHost(host): this pool has no remote.keys: start it with options.remote (keys, and hosts if any) to add hosts'));
    }
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
    checkNumber('timeoutMs', timeoutMs, { min: 0 });
    if (this.#lifecycle.state === 'running') this.#lifecycle.state = 'stopping';
    this.#dispatcher.seal(new PoolStoppedError('the pool is draining: it takes no new calls'));
    await within(this.#dispatcher.whenIdle(), timeoutMs, () => undefined);
  }
}
