import { SupervisorError } from './errors.js';
import type { ActorSystem } from './system.js';
import type { ExitReason } from './exit-reason.js';
import type { ActorParent } from './nact.js';
import type { ChildInspection } from './tree.js';

/** A child's identifier inside its supervisor. */
export type ChildId = string;

/**
 * What a supervisor holds for any running child, whatever kind it is. A start function resolves
 * with these keys and no other: an unknown one (a misspelt `inspect`) fails the start with
 * `InvalidSpecError`, "did you mean".
 */
export interface StartedChild<R = unknown> {
  /** What child(id) / whichChildren / whereis hand out. */
  readonly ref: R;
  /** Settles once (never rejects) when the child has exited, for any reason. */
  readonly exited: Promise<ExitReason>;
  /** Orderly stop request (OTP `exit(Child, shutdown)`); the child exits soon. */
  shutdown(reason: ExitReason): void;
  /** Brutal kill: the child must exit at once; its exit reason is `'killed'`. */
  kill(): void;
  /**
   * Optional: what `system.tree()` shows of this child beyond its supervisor's record (flags and
   * children for a supervisor, `info` such as a process id for others). Without it, a leaf.
   */
  inspect?(): ChildInspection | Promise<ChildInspection>;
}

/** What a start function learns about where it is being started. */
export interface StartContext {
  readonly system: ActorSystem;
  readonly id: ChildId;
  /** The child's path in the tree, e.g. `app/root/counter`; unique while the child runs. */
  readonly path: string;
  /** The nact actor new actors are spawned under; pass the context on unchanged to nest. */
  readonly parent: ActorParent;
  /**
   * Aborted when whoever started this child gives up on the start: its `startTimeout` passed, its
   * supervisor was killed, or (at top level) `system.stop()` was called, with a `SupervisorError`
   * of code `'shutdown'` as `reason`. A start function should then stop what it is doing and
   * reject; whatever it resolves with afterwards is killed as it arrives (stopped by its
   * `shutdown`, when the system is stopping). `worker()` kills its process (firing the worker's own
   * `ctx.signal`), so its start rejects at once. Pass the context on unchanged to a nested start,
   * and the signal with it.
   */
  readonly signal: AbortSignal;
}

/** @internal The reason a top-level start's signal is aborted with when `stop()` is called. */
export function systemStop(name: string): SupervisorError {
  return new SupervisorError('shutdown', `actor system ${name} is stopping`);
}

/** @internal Whether a start's signal was aborted because the system is stopping (not a timeout, not a kill). */
export function isSystemStop(reason: unknown): boolean {
  return reason instanceof SupervisorError && reason.code === 'shutdown';
}

declare const ignoreBrand: unique symbol;

/** The type of `IGNORE`. */
export interface Ignore {
  readonly [ignoreBrand]: 'ignore';
}

/**
 * OTP's `ignore`: what a start function (or a worker's `init`) returns to say "do not start this
 * child, and that is not an error". The supervisor keeps the child's spec with no ref (status
 * `'undefined'`); a temporary child's spec is dropped and a simple_one_for_one child leaves
 * nothing behind. APIs that start a child (`startChild`, `restartChild`, `system.start`) then
 * resolve with `undefined`, as OTP answers `{ok, undefined}`. Compare by identity: `x === IGNORE`.
 */
export const IGNORE: Ignore = Object.freeze({ [Symbol.toStringTag]: 'IGNORE' }) as unknown as Ignore;

/** Whether a start function's result is `IGNORE` (narrows `StartedChild<R> | Ignore`). */
export function isIgnore(value: unknown): value is Ignore {
  return value === IGNORE;
}

/**
 * Starts one child. Any function of this type is a valid `start` in a child spec. It resolves with
 * the running child, or with `IGNORE` to leave it unstarted; it throws (rejects) if it cannot start.
 * `Extra` types the extra arguments a simple_one_for_one supervisor's `startChild(extraArgs)`
 * passes to its template; a child of any other supervisor, or of the system, gets none (`[]`).
 */
export type StartFn<R = unknown, Extra extends readonly unknown[] = unknown[]> = (
  ctx: StartContext,
  ...extraArgs: Extra
) => Promise<StartedChild<R> | Ignore>;
