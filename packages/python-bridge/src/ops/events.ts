/**
 * The pool's own events about its interpreters, on `system.events` as `'interpreter'`: one
 * `launching` per start attempt, one `ready` per interpreter that completed its handshake, one
 * `exited` for every interpreter that leaves (or fails to join) the pool, with its cause, and one
 * `replaced` when an interpreter has been replaced by a ready one (what `restarts` counts).
 * Remote hosts report their state on `'host'`: `host` events as they connect, are refused, lost
 * or drained, and `dns` events as a DNS name of hosts is resolved.
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
  | 'stop'
  /**
   * Stopped because the pool has fewer interpreters now: an elastic pool shrank (idle for
   * `idleTimeout`, or `resize`), or its host was removed. A clean stop: never a crash, never counted.
   */
  | 'shrink';

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

/**
 * How a remote host stands: `connecting` (its first link is being made), `connected` (the link is
 * up; `serving` of its interpreters serve), `refused` (the agent refused us: `error` names the
 * key), `unreachable` (no answer, or another failure to connect), `lost` (the link was lost; being
 * made again), `draining` (being removed: no new calls, those in flight finish), `removed`.
 */
export type HostState = 'connecting' | 'connected' | 'refused' | 'unreachable' | 'lost' | 'draining' | 'removed';

/** A remote host changed state (on `system.events` as `'host'`). */
export interface HostStateEvent {
  readonly type: 'host';
  readonly pool: string;
  /** The host's supervisor id in the tree, `host-3`. */
  readonly host: string;
  readonly agent: string;
  /** The DNS name the host was found by, if it was. */
  readonly dns?: string;
  readonly state: HostState;
  /** Why, for `refused`, `unreachable` and `lost`. */
  readonly error?: string;
  readonly at: number;
}

/** A DNS name of hosts was resolved (on `system.events` as `'host'`), or failed to resolve. */
export interface DnsResolvedEvent {
  readonly type: 'dns';
  readonly pool: string;
  readonly name: string;
  /** False when the resolution failed: the hosts found last are kept. */
  readonly ok: boolean;
  /** The agents the name gives now (on failure: those kept). */
  readonly agents: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly error?: string;
  readonly at: number;
}

export type HostEvent = HostStateEvent | DnsResolvedEvent;

/** One host, as `stats().hosts` shows it. */
export interface HostStatus {
  /** Its supervisor's id, `host-3`. */
  id: string;
  agent: string;
  /** The DNS name it was found by, if it was. */
  dns?: string;
  /** Interpreters it is to run. */
  size: number;
  /** Of those, serving now. */
  serving: number;
  state: HostState;
  /** Why it is `refused`, `unreachable` or `lost`. */
  error?: string;
  /** `Date.now()` when it entered that state. */
  since: number;
}

declare module '@piton/core' {
  interface SystemEventMap {
    host: [HostEvent];
  }
}
