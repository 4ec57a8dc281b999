/**
 * `system.tree()`: a snapshot of the whole supervision tree, for operators and tests.
 *
 * The hook is generic: a `StartedChild` may offer `inspect()`, which says what the child is
 * beyond its supervisor's record of it. A supervisor answers with its flags and, recursively, its
 * children; any other child may add `info` (a Python worker adds its interpreter's pid) or
 * `children` of its own. A child without `inspect()` is a leaf. Core knows nothing of what runs
 * in the leaves.
 */
import type { ChildId, StartedChild } from './child.js';
import type { ChildStatus } from './supervisor/supervisor.js';
import type { ChildType } from './supervisor/child-spec.js';
import type { Strategy } from './supervisor/flags.js';

/** A supervisor's flags, as a tree node shows them. */
export interface SupervisorFlagsInfo {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
}

/** What a child says about itself through `StartedChild.inspect()`; every field is optional. */
export interface ChildInspection {
  /** Set by supervisors (and by children that are supervisors underneath, such as a Python pool). */
  readonly supervisor?: SupervisorFlagsInfo;
  /** Anything an operator would want to see: a process id, a port, a queue length. */
  readonly info?: Readonly<Record<string, unknown>>;
  /** The child's own children, if it has any. */
  readonly children?: readonly TreeNode[];
}

/** One node of `system.tree()`. */
export interface TreeNode {
  /** The child's id in its supervisor (undefined for simple_one_for_one children). */
  readonly id: ChildId | undefined;
  readonly path: string;
  readonly type: ChildType;
  /** `'running'`, `'restarting'` (waiting for or retrying a restart) or `'undefined'` (stopped, spec kept). */
  readonly status: ChildStatus;
  /** Times the supervisor has started this child again after its first start. */
  readonly restarts: number;
  /** Present on supervisors. */
  readonly supervisor?: SupervisorFlagsInfo;
  readonly info?: Readonly<Record<string, unknown>>;
  readonly children: readonly TreeNode[];
}

/** A supervisor's record of one child, taken inside its mailbox so the rows are consistent. */
export interface ChildRow {
  readonly id: ChildId | undefined;
  readonly path: string;
  readonly type: ChildType;
  readonly status: ChildStatus;
  readonly restarts: number;
  readonly started: StartedChild | undefined;
}

/**
 * A node for one child: its supervisor's record, completed by the child's own `inspect()`. A
 * child that cannot answer (it is exiting, or its `inspect` throws) is shown without details
 * rather than failing the whole tree.
 */
export async function describeChild(row: ChildRow): Promise<TreeNode> {
  let inspection: ChildInspection = {};
  if (row.started?.inspect) {
    try {
      inspection = await row.started.inspect();
    } catch {
      inspection = {};
    }
  }
  return {
    id: row.id,
    path: row.path,
    type: row.type,
    status: row.status,
    restarts: row.restarts,
    ...(inspection.supervisor && { supervisor: inspection.supervisor }),
    ...(inspection.info && { info: inspection.info }),
    children: inspection.children ?? [],
  };
}

/** The children of a supervisor, each described in parallel (a slow child delays only itself). */
export function describeChildren(rows: readonly ChildRow[]): Promise<TreeNode[]> {
  return Promise.all(rows.map(describeChild));
}
