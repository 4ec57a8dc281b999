/**
 * A pool's life as an operator sees it: its state, and every interpreter replacement with its
 * cause. Crashes reach the pool as supervisor events; recycles and the kills that follow a timeout
 * or an abort are decided by the pool itself, which notes the cause before the interpreter goes.
 * A replacement is counted (and reported as an `'interpreter'` event) when the new interpreter is
 * ready, so `restarts` keeps meaning "interpreters started to replace one".
 */
import { formatReason, isNormalExit, type ActorSystem, type SupervisorEvent } from '@piton/core';
import type { HostEvent, InterpreterEvent } from './events.js';
import { RESTART_CAUSES, type PoolState, type RestartCause } from './stats.js';

/** Everything a pool reports: its supervisors' events, its interpreters' and its remote hosts'. */
export type PoolEvent = SupervisorEvent | InterpreterEvent | HostEvent;

export class PoolLifecycle {
  state: PoolState = 'starting';
  readonly #system: ActorSystem;
  readonly #path: string;
  readonly #byCause: Record<RestartCause, number> = { crash: 0, recycle: 0, timeout: 0, abort: 0 };
  /** The pid each worker's interpreter had, to tell a replacement from a first start. */
  readonly #pids = new Map<string, number>();
  /** Why each worker's interpreter is going away, noted before its replacement is ready. */
  readonly #pending = new Map<string, { cause: RestartCause; reason: string }>();
  readonly #listener = (event: SupervisorEvent) => this.#onEvent(event);

  constructor(system: ActorSystem, path: string) {
    this.#system = system;
    this.#path = path;
    system.events.on('event', this.#listener);
  }

  /** The pool decided to replace `worker`'s interpreter (a recycle, or a kill after a timeout or abort). */
  note(worker: string, cause: RestartCause, reason: string): void {
    this.#pending.set(worker, { cause, reason });
  }

  /** `worker`'s interpreter died in a call (replaced in place): a crash, unless the pool caused it. */
  crashed(worker: string, reason: string): void {
    if (!this.#pending.has(worker)) this.#pending.set(worker, { cause: 'crash', reason });
  }

  /** `worker` has a ready interpreter; if it replaces another, count and report the replacement. */
  ready(worker: string, pid: number): void {
    const previousPid = this.#pids.get(worker);
    this.#pids.set(worker, pid);
    if (previousPid === undefined) return;
    const { cause, reason } = this.#pending.get(worker) ?? { cause: 'crash' as const, reason: 'unknown' };
    this.#pending.delete(worker);
    this.#byCause[cause]++;
    const path = `${this.#path}/${worker}`;
    this.#system.events.emit('interpreter', { type: 'replaced', pool: this.#path, worker, path, cause, reason, previousPid, pid, at: Date.now() });
  }

  /** `worker` was stopped for good (the pool shrank): a later interpreter of that slot is a first start, not a replacement. */
  forget(worker: string): void {
    this.#pids.delete(worker);
    this.#pending.delete(worker);
  }

  get restarts(): number {
    return RESTART_CAUSES.reduce((sum, cause) => sum + this.#byCause[cause], 0);
  }

  get restartsByCause(): Record<RestartCause, number> {
    return { ...this.#byCause };
  }

  dispose(): void {
    this.#system.events.off('event', this.#listener);
  }

  /** A worker's interpreter exited under the supervisor: a crash, unless the pool caused it. */
  #onEvent(event: SupervisorEvent): void {
    // The pool's workers are its supervisor's children, or (with a fork server) its `interpreters` supervisor's.
    const ours = event.supervisor === this.#path || event.supervisor === `${this.#path}/interpreters`;
    if (event.type !== 'exited' || !ours || event.id === undefined) return;
    if (isNormalExit(event.reason) || this.#pending.has(event.id)) return;
    this.#pending.set(event.id, { cause: 'crash', reason: formatReason(event.reason) });
  }
}

/** Whether the actor at `path` is the pool at `pool` or below it in its tree. */
export function inPool(path: string, pool: string): boolean {
  return path === pool || path.startsWith(`${pool}/`);
}

/**
 * Calls `listener` with every event of the pool at `path` (its own and those below it) from now
 * on; returns the function that stops it. Used for `options.events`, so that a pool's start-up
 * is seen too.
 */
export function followPoolEvents(system: ActorSystem, path: string, listener: (event: PoolEvent) => void): () => void {
  const onEvent = (event: SupervisorEvent) => {
    if (!inPool(event.path, path)) return;
    listener(event);
    // The pool's own exit or failed start, reported by its parent, is the last event it has.
    if (event.path === path && (event.type === 'exited' || event.type === 'start_failed')) stop();
  };
  const onInterpreter = (event: InterpreterEvent | HostEvent) => {
    if (event.pool === path) listener(event);
  };
  const stop = () => {
    system.events.off('event', onEvent);
    system.events.off('interpreter', onInterpreter);
    system.events.off('host', onInterpreter);
  };
  system.events.on('event', onEvent);
  system.events.on('interpreter', onInterpreter);
  system.events.on('host', onInterpreter);
  return stop;
}
