/**
 * What /proc says about processes: memory (PSS), parents and children, whether a process is still
 * running. Linux only, as the families that use it.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** PSS of `pid` in bytes, from /proc/PID/smaps_rollup (shared pages split among their sharers). */
export function pssBytes(pid: number): number {
  const kib = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1];
  if (kib === undefined) throw new Error(`no Pss in /proc/${pid}/smaps_rollup`);
  return Number(kib) * 1024;
}

/** The fields of /proc/PID/stat after the command name, which may itself hold spaces; undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The parent of `pid`, or undefined once it is gone. */
export function parentOf(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[1]);
}

/**
 * When `pid` started (clock ticks since boot), or undefined once it is gone: with the pid, what
 * identifies a process, since a pid can be reused once its process is gone.
 */
export function startTimeOf(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[19]);
}

/** `pid` exists and is not a zombie (dead, waiting to be reaped). */
export function running(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
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
    if (statFields(pid) === undefined) continue;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}
