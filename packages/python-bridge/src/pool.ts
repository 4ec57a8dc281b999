import { ActorSystem } from '@piton/core';
import { PoolStartError, PoolStoppedError } from './errors.js';
import type { CallOptions, PoolOptions, StreamOptions } from './options.js';
import type { PoolStats } from './stats.js';
import { pythonPool, type InterpreterStatus, type PoolRef, type PythonModule } from './supervised.js';

let poolCount = 0;

/**
 * A standalone pool of Python interpreters: its own actor system with the pool as its only
 * child. To put a pool in a tree of your own, use `pythonPool(options)` as a child's `start`.
 */
export class PythonPool implements PoolRef {
  readonly system: ActorSystem;
  readonly #ref: PoolRef;
  #stopping: Promise<void> | undefined;

  private constructor(system: ActorSystem, ref: PoolRef) {
    this.system = system;
    this.#ref = ref;
  }

  /** Starts `size` interpreters and resolves once every one of them is ready. */
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

  call<R = unknown>(module: string, fn: string, args?: unknown[], options?: CallOptions): Promise<R> {
    if (this.#stopping) return Promise.reject(new PoolStoppedError('the pool is stopped'));
    return this.#ref.call<R>(module, fn, args, options);
  }

  module<T extends object>(name: string): PythonModule<T> {
    return this.#ref.module<T>(name);
  }

  stream<T = unknown>(module: string, fn: string, args?: unknown[], options?: StreamOptions): AsyncIterable<T> {
    return this.#ref.stream<T>(module, fn, args, options);
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

  /**
   * Stops accepting calls, lets running ones finish within `shutdownTimeout`, then stops every
   * interpreter (stop request, then SIGTERM, then SIGKILL). Queued calls reject with
   * `PoolStoppedError`. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.system.stop();
    return this.#stopping;
  }
}

function findCause<E extends Error>(error: unknown, type: new (...args: never[]) => E): E | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof type) return e;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}
