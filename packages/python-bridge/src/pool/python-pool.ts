import { ActorSystem, type SupervisorRef } from '@piton/core';
import { PoolStartError, PoolStoppedError } from '../errors.js';
import { describe, names, rejectUnknownKeys } from '../validation.js';
import type { CallOptions, PoolOptions, SizeLimits, StreamOptions } from './options.js';
import type { HostOptions } from '../remote/options.js';
import type { PoolStats } from '../ops/stats.js';
import { pythonPool } from './pool-child.js';
import type { InterpreterStatus, PoolRef, PythonModule } from './pool-handle.js';
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

let poolCount = 0;

/** Options of `PythonPool.stop`. */
export interface StopOptions {
  /**
   * Let queued calls run before stopping, for up to `shutdownTimeout` ms (new calls are refused
   * meanwhile); then the calls still queued reject with `PoolStoppedError`. @default false
   */
  drain?: boolean;
}

/**
 * A standalone pool of Python interpreters: its own actor system with the pool as its only
 * child. To put a pool in a tree of your own, use `pythonPool(options)` as a child's `start`.
 *
 * `system.events` carries the pool's supervisor events (`'event'`), interpreter replacements
 * (`'interpreter'`) and, unless `onOutput` is given, the interpreters' printed lines (`'output'`);
 * pass `events` in the options to see the events of the start too.
 */
export class PythonPool implements PoolRef {
  readonly system: ActorSystem;
  readonly #ref: PoolRef;
  #stopping: Promise<void> | undefined;

  private constructor(system: ActorSystem, ref: PoolRef) {
    this.system = system;
    this.#ref = ref;
  }

  /** Starts `size` interpreters (`size.min` of an elastic pool, and every host's) and resolves once every one of them is ready. */
  static async start(options: PoolOptions = {}): Promise<PythonPool> {
    const start = pythonPool(options); // throws on bad options, before anything starts
    const system = new ActorSystem({ name: `python-pool-${++poolCount}` });
    try {
      const ref = (await system.start(start)) as PoolRef;
      return new PythonPool(system, ref);
    } catch (error) {
      await system.stop();
      throw findCause(error, PoolStartError) ?? new PoolStartError(error);
    }
  }

  call<R = unknown, M extends string = string>(module: UntypedModuleName<M>, fn: string, args?: unknown[], options?: CallOptions): Promise<R>;
  call<M extends TypedModuleName, F extends CallableName<M>>(module: M, fn: F, ...rest: CallRest<M, F>): Promise<CallResult<M, F>>;
  call<R>(module: string, fn: string, args?: unknown[], options?: CallOptions): Promise<R> {
    if (this.#stopping) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#ref.call<R>(module, fn, args, options);
  }

  module<N extends TypedModuleName>(name: N): TypedModule<PythonModules[N]>;
  module<T extends object>(name: string): PythonModule<T>;
  module<T extends object>(name: string): PythonModule<T> {
    return this.#ref.module<T>(name);
  }

  stream<T = unknown, M extends string = string>(module: UntypedModuleName<M>, fn: string, args?: unknown[], options?: StreamOptions): AsyncIterable<T>;
  stream<M extends TypedModuleName, F extends StreamableName<M>>(module: M, fn: F, ...rest: StreamRest<M, F>): AsyncIterable<StreamItem<M, F>>;
  stream<T>(module: string, fn: string, args?: unknown[], options?: StreamOptions): AsyncIterable<T> {
    return this.#ref.stream<T>(module, fn, args, options);
  }

  get path(): string {
    return this.#ref.path;
  }

  get supervisor(): SupervisorRef {
    return this.#ref.supervisor;
  }

  stats(): PoolStats {
    return this.#ref.stats();
  }

  interpreters(): InterpreterStatus[] {
    return this.#ref.interpreters();
  }

  whenReady(): Promise<void> {
    if (this.#stopping) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#ref.whenReady();
  }

  drain(timeoutMs?: number): Promise<void> {
    return this.#ref.drain(timeoutMs);
  }

  resize(size: number | SizeLimits): Promise<void> {
    if (this.#stopping) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#ref.resize(size);
  }

  addHost(host: HostOptions): Promise<void> {
    if (this.#stopping) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#ref.addHost(host);
  }

  removeHost(agent: string): Promise<void> {
    if (this.#stopping) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#ref.removeHost(agent);
  }

  /**
   * Stops accepting calls, lets running ones finish within `shutdownTimeout`, then stops every
   * interpreter (stop request, then SIGTERM, then SIGKILL). Queued calls reject with
   * `PoolStoppedError`, unless `{ drain: true }` lets them run first (see `StopOptions`).
   * Idempotent: a second call returns the first one's promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    try {
      checkStopOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#stopping ??= (async () => {
      if (options.drain) await this.#ref.drain();
      await this.system.stop();
    })();
    return this.#stopping;
  }

  /** `await using pool = await PythonPool.start(…)` stops the pool when the scope is left. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

const STOP_OPTION_NAMES = names<StopOptions>()(['drain']);

function checkStopOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  rejectUnknownKeys('options', options, STOP_OPTION_NAMES);
  const { drain } = options as StopOptions;
  if (drain !== undefined && typeof drain !== 'boolean') throw new TypeError(`options.drain must be a boolean, got ${describe(drain)}`);
}

function findCause<E extends Error>(error: unknown, type: new (...args: never[]) => E): E | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof type) return e;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}
