/**
 * What /proc says about processes that only measurements ask: memory (PSS), parents and children,
 * command names. Reading /proc/PID/stat (start time, state, parent) is the bridge's launch/proc.ts,
 * the one /proc module; this adds to it. Linux only, as the families that use it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from './internals.js';

/** PSS of `pid` in bytes, from /proc/PID/smaps_rollup (shared pages split among their sharers). */
export function pssBytes(pid: number): number {
  const kib = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1];
  if (kib === undefined) throw new Error(`no Pss in /proc/${pid}/smaps_rollup`);
  return Number(kib) * 1024;
}

/** The parent of `pid`, or undefined once it is gone. */
export function parentOf(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[1]);
}

/** The command name (`comm`) of `pid`, or undefined once it is gone. */
export function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return undefined;
  }
}

/** `root` and every process descended from it, from one pass over /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const parent = parentOf(pid);
    if (parent === undefined) continue;
    (children.get(parent) ?? children.set(parent, []).get(parent)!).push(pid);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (statFields(pid) === undefined) continue; // gone since the pass over /proc
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}
