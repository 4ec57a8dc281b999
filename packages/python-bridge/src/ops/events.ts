/**
 * The pool's own events about its interpreters, on `system.events` as `'interpreter'`: one
 * `launching` per start attempt, one `ready` per interpreter that completed its handshake, one
 * `exited` for every interpreter that leaves (or fails to join) the pool, with its cause, and one
 * `replaced` when an interpreter has been replaced by a ready one (what `restarts` counts).
 * The supervisor's `'event'`s say what the actors do; these say what the processes do, which is
 * finer: a crash in a call is replaced inside its worker and is seen only here.
 */
import type { RestartCause } from './stats.js';

/** Why an interpreter left the pool (supervision/crash-policy.ts says what each means for it). */
export type InterpreterExitCause =
  /** It had served, then died (killed by a timeout, an abort, a signal, or its own crash). */
  | 'crash'
  /** It could not start, or died before it was given any work. */
  | 'start_failure'
  /** Replaced on purpose after `recycle.afterCalls` calls or above `recycle.aboveMemory`. */
  | 'recycle'
  /** Stopped with its pool. */
  | 'stop';

interface InterpreterEventBase {
  /** Path of the pool in its supervision tree. */
  readonly pool: string;
  /** The worker that owns the interpreter, e.g. `python-2`. */
  readonly worker: string;
  /** `Date.now()` when it happened. */
  readonly at: number;
}

/** A start was asked of the launcher (`startMethod`: `'spawn'` or `'forkserver'`). */
export interface InterpreterLaunchingEvent extends InterpreterEventBase {
  readonly type: 'launching';
  readonly startMethod: string;
}

/** The interpreter completed its handshake and serves. */
export interface InterpreterReadyEvent extends InterpreterEventBase {
  readonly type: 'ready';
  readonly pid: number;
}

/** The interpreter left the pool, or never joined it (`cause: 'start_failure'`, `error` says why). */
export interface InterpreterExitedEvent extends InterpreterEventBase {
  readonly type: 'exited';
  readonly cause: InterpreterExitCause;
  /** `undefined` when no process ran. */
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** For a failed start: the start error's message. */
  readonly error?: string;
}

/** An interpreter was replaced by a fresh one, for `cause`. */
export interface InterpreterReplacedEvent {
  readonly type: 'replaced';
  /** The pool's path. */
  readonly pool: string;
  /** The worker that owns the interpreter (`python-1`), and its path. */
  readonly worker: string;
  readonly path: string;
  readonly cause: RestartCause;
  /** What happened: the exit (`exited with code 3`, `killed`), `recycle.afterCalls`, `recycle.aboveMemory`, the timeout. */
  readonly reason: string;
  readonly previousPid: number;
  readonly pid: number;
  /** `Date.now()` when the new interpreter was ready. */
  readonly at: number;
}

export type InterpreterEvent = InterpreterLaunchingEvent | InterpreterReadyEvent | InterpreterExitedEvent | InterpreterReplacedEvent;

declare module '@piton/core' {
  interface SystemEventMap {
    interpreter: [InterpreterEvent];
  }
}
