import type { ChildId, StartedChild } from '../child.js';
import type { ChildType, ResolvedChildSpec } from './child-spec.js';

/** `'running'`; `'restarting'`: a restart is pending or failed and will be retried; `'undefined'`: not running (stopped or ignored). */
export type ChildStatus = 'running' | 'restarting' | 'undefined';

/** One row of `whichChildren()` / `whichChild()`. `ref` is undefined unless the child is running. */
export interface ChildInfo {
  readonly id: ChildId | undefined;
  readonly ref: unknown;
  readonly type: ChildType;
  readonly status: ChildStatus;
}

export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

/** The supervisor's record of one child (OTP's `#child{}`). */
export interface ChildRecord {
  readonly spec: ResolvedChildSpec;
  /** The spec id; undefined for simple_one_for_one children. */
  readonly id: ChildId | undefined;
  readonly path: string;
  /** simple_one_for_one extra args, kept for restarts. */
  readonly extraArgs: readonly unknown[];
  /** The running incarnation. Cleared as soon as the supervisor stops it or learns it exited, so
   *  an exit notice that names another incarnation is stale and ignored. */
  started: StartedChild | undefined;
  /** The ref of the incarnation that exited last: while the child is `'restarting'` it still
   *  names the child (OTP's `{restarting, OldPid}`), e.g. for `terminateChild(oldRef)`. */
  lastRef: unknown;
  status: ChildStatus;
  /** Consecutive restart attempts since the last stable run (drives backoff). */
  attempt: number;
  startedAt: number;
  /** A pending backoff wait before the next restart attempt. */
  retryTimer: NodeJS.Timeout | undefined;
  /** Successful starts of this record; all but the first are restarts (`system.tree()`). */
  starts: number;
}

export function childInfo(record: ChildRecord): ChildInfo {
  return { id: record.id, ref: record.started?.ref, type: record.spec.type, status: record.status };
}

export function findById(records: readonly ChildRecord[], id: unknown): ChildRecord | undefined {
  return records.find((c) => c.id === id);
}

/** OTP's `find_child` by pid: the running incarnation's ref, or a restarting child's last ref. */
export function findByRef(records: readonly ChildRecord[], ref: unknown): ChildRecord | undefined {
  if (ref === undefined) return undefined;
  return (
    records.find((c) => c.started !== undefined && c.started.ref === ref) ??
    records.find((c) => c.status === 'restarting' && c.lastRef === ref)
  );
}

/** OTP's `count_children`: a simple_one_for_one supervisor has one spec, its template. */
export function countChildren(records: readonly ChildRecord[], dynamic: boolean): ChildCounts {
  const supervisors = records.filter((c) => c.spec.type === 'supervisor').length;
  return {
    specs: dynamic ? 1 : records.length,
    active: records.filter((c) => c.status === 'running').length,
    supervisors,
    workers: records.length - supervisors,
  };
}
