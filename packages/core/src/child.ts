import type { ActorSystem } from './system.js';
import type { ExitReason } from './exit-reason.js';
import type { ActorParent } from './nact.js';
import type { ChildInspection } from './tree.js';

/** A child's identifier inside its supervisor. */
export type ChildId = string;

/** What a supervisor holds for any running child, whatever kind it is. */
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
}

/** Starts one child. Any function of this type is a valid `start` in a child spec. */
export type StartFn<R = unknown> = (ctx: StartContext, ...extraArgs: unknown[]) => Promise<StartedChild<R>>;
