import { EventEmitter } from 'node:events';
import type { ExitReason } from './exit-reason.js';
import type { ChildId } from './child.js';

interface EventBase {
  /** Path of the supervisor that reports the event. */
  readonly supervisor: string;
  /** Child id; `undefined` for simple_one_for_one children, which have none. */
  readonly id: ChildId | undefined;
  /** Path of the child concerned. */
  readonly path: string;
  /** `Date.now()` when it happened. */
  readonly at: number;
}

/** A child is running (first start, restart or dynamic start). */
export interface StartedEvent extends EventBase { readonly type: 'started' }
/** A child's start function returned `IGNORE` (OTP's `ignore`): it is not running, and that is not an error. */
export interface IgnoredEvent extends EventBase { readonly type: 'ignored' }
/** A child's start function failed; `reason` is its error. */
export interface StartFailedEvent extends EventBase { readonly type: 'start_failed'; readonly reason: unknown }
/** A child exited, whether it crashed, stopped itself or was stopped by its supervisor. */
export interface ExitedEvent extends EventBase { readonly type: 'exited'; readonly reason: ExitReason }
/** A restart was decided; `attempt` counts consecutive attempts, `delay` is the backoff wait in ms. */
export interface RestartingEvent extends EventBase {
  readonly type: 'restarting';
  readonly reason: ExitReason;
  readonly attempt: number;
  readonly delay: number;
}
/** Too many restarts within the period: the supervisor gives up on `id` and shuts down. */
export interface GaveUpEvent extends EventBase { readonly type: 'gave_up'; readonly reason: 'reached_max_restart_intensity' }
/** A supervisor is stopping all its children and itself; `id`/`path` are the supervisor's own. */
export interface ShutdownEvent extends EventBase {
  readonly type: 'shutdown';
  readonly reason: ExitReason;
  readonly cause: 'intensity' | 'auto_shutdown' | 'requested' | 'killed';
}

/**
 * A worker got a plain message (`ref.send`) and its behaviour has no `handleInfo`: the message is
 * dropped, and this says so (gen_server logs it). `id`/`path` are the worker's.
 */
export interface UnexpectedMessageEvent extends EventBase { readonly type: 'unexpected_message'; readonly message: unknown }

/** Every event in a tree, discriminated on `type`. */
export type SupervisorEvent =
  | StartedEvent
  | IgnoredEvent
  | StartFailedEvent
  | ExitedEvent
  | RestartingEvent
  | GaveUpEvent
  | ShutdownEvent
  | UnexpectedMessageEvent;

/**
 * Events of `system.events`. Packages that report their own events through the system extend
 * it by module augmentation: `declare module '@piton/core' { interface SystemEventMap { output: [Output] } }`.
 */
export interface SystemEventMap {
  event: [SupervisorEvent];
}

/** `system.events`: emits `'event'` with a `SupervisorEvent`. (No `'error'` event on purpose.) */
export class SystemEvents extends EventEmitter<SystemEventMap> {}
