/**
 * The supervision tree as the page draws it, read from `system.tree()`: every node with its path,
 * type, status and restart count; supervisors with their strategy and intensity; interpreter pids.
 */
import type { ActorSystem } from '@piton/core';
import type { ObservablePool } from './options.js';

export interface ObservedNode {
  path: string;
  id: string | undefined;
  type: 'supervisor' | 'worker';
  status: string;
  restarts: number;
  strategy?: string;
  intensity?: number;
  period?: number;
  /** The OS pid behind the node (a Python interpreter), if any. */
  pid?: number;
  /** Set on the node of a Python pool: its stats are sampled. Not sent to the page. */
  pool?: ObservablePool;
  children: ObservedNode[];
}

type Raw = Record<string, unknown>;

function asRecord(value: unknown): Raw | undefined {
  return value !== null && typeof value === 'object' ? (value as Raw) : undefined;
}

function toNode(raw: Raw): ObservedNode {
  const flags = asRecord(raw.supervisor) ?? asRecord(raw.flags) ?? raw;
  const info = asRecord(raw.info) ?? {};
  const node: ObservedNode = {
    path: String(raw.path),
    id: typeof raw.id === 'string' ? raw.id : undefined,
    type: raw.type === 'supervisor' ? 'supervisor' : 'worker',
    status: typeof raw.status === 'string' ? raw.status : 'running',
    // A supervisor's restarts of the child, plus what the child replaced inside itself (a Python
    // worker replaces an interpreter that crashed in a call in place, without a restart).
    restarts: (typeof raw.restarts === 'number' ? raw.restarts : 0) + (typeof info.replacements === 'number' ? info.replacements : 0),
    children: Array.isArray(raw.children) ? raw.children.map((c) => toNode(asRecord(c) ?? {})) : [],
  };
  if (typeof flags.strategy === 'string') node.strategy = flags.strategy;
  if (typeof flags.intensity === 'number') node.intensity = flags.intensity;
  if (typeof flags.period === 'number') node.period = flags.period;
  const pid = info.pid ?? raw.pid;
  if (typeof pid === 'number') node.pid = pid;
  // A pool says so in its node's info (`kind: 'python-pool'`), which is its stats() taken with the tree.
  if (info.kind === 'python-pool') node.pool = { stats: () => info };
  return node;
}

/** The whole tree of `system`, top-level children first. */
export async function readTree(system: ActorSystem): Promise<ObservedNode[]> {
  const { children } = await system.tree();
  return children.map((node) => toNode(node as unknown as Raw));
}

/** The pools found in the tree, named by their node's id (or path where ids repeat). */
export function poolsInTree(nodes: ObservedNode[]): { name: string; path: string; pool: ObservablePool }[] {
  const found: { name: string; path: string; pool: ObservablePool }[] = [];
  const walk = (list: ObservedNode[]) => {
    for (const node of list) {
      if (node.pool !== undefined) found.push({ name: node.id ?? node.path, path: node.path, pool: node.pool });
      walk(node.children);
    }
  };
  walk(nodes);
  const counts = new Map<string, number>();
  for (const f of found) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
  return found.map((f) => ((counts.get(f.name) ?? 0) > 1 ? { ...f, name: f.path } : f));
}
