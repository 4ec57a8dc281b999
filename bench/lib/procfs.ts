/**
 * What /proc says about processes that only measurements ask: memory (PSS), parents and children,
 * command names. Reading /proc/PID/stat (start time, state, parent) is the bridge's launch/proc.ts,
 * the one /proc module; this adds to it. Linux only, as the families that use it.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { statFields } from './internals.js';

/** PSS of `pid` in bytes, from /proc/PID/smaps_rollup (shared pages split among their sharers). */
export function pssBytes(pid: number): number {
  return rollup(pid).pss;
}

export interface ProcessMemory {
  /** Shared pages split among all the processes on the machine that map them. */
  pss: number;
  /** Pages no other process maps (what this process alone holds). */
  private: number;
  rss: number;
}

/** The figures of /proc/PID/smaps_rollup, in bytes. */
export function rollup(pid: number): ProcessMemory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  const kib = (field: string) => {
    const value = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
    if (value === undefined) throw new Error(`no ${field} in /proc/${pid}/smaps_rollup`);
    return Number(value) * 1024;
  };
  return { pss: kib('Pss'), private: kib('Private_Clean') + kib('Private_Dirty'), rss: kib('Rss') };
}

const PAGE_SIZE = 4096;
const PAGEMAP_CHUNK = 64 * 1024;

/**
 * The memory a set of processes holds, each physical page counted once however many of them (or
 * of the machine's other processes) map it: from the page frame numbers of /proc/PID/pagemap.
 * Unlike a sum of PSS, a shared library's pages count whole, as they would with the processes
 * alone on the machine, not split with unrelated processes that map the same file (every Node
 * process maps the same `node` binary; the three services map the same Python libraries).
 * Undefined when the frame numbers are hidden (they need CAP_SYS_ADMIN: the kernel reads them as 0).
 */
export function uniquePageBytes(pids: readonly number[]): { bytes: number; anonBytes: number } | undefined {
  const anon = new Set<number>();
  const file = new Set<number>();
  let present = 0;
  let anyFrame = false;
  const buf = Buffer.allocUnsafe(PAGEMAP_CHUNK);
  for (const pid of pids) {
    let maps: string;
    let fd: number;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue; // gone meanwhile
    }
    try {
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
        if (!m || m[3]!.startsWith('---') || line.endsWith('[vsyscall]')) continue; // reserved, never resident
        const first = parseInt(m[1]!, 16) / PAGE_SIZE;
        const end = parseInt(m[2]!, 16) / PAGE_SIZE;
        for (let page = first; page < end; page += PAGEMAP_CHUNK / 8) {
          const want = Math.min(PAGEMAP_CHUNK, (end - page) * 8);
          const got = readSync(fd, buf, 0, want, page * 8);
          for (let o = 0; o + 8 <= got; o += 8) {
            const hi = buf.readUInt32LE(o + 4);
            if ((hi & 0x80000000) === 0) continue; // not present
            present++;
            const frame = (hi & 0x7fffff) * 2 ** 32 + buf.readUInt32LE(o);
            if (frame !== 0) anyFrame = true;
            ((hi & 0x20000000) !== 0 ? file : anon).add(frame); // bit 61: a file page or shared anonymous
          }
        }
      }
    } catch {
      // gone while being read: what was read of it counts
    } finally {
      closeSync(fd);
    }
  }
  if (present > 0 && !anyFrame) return undefined; // frame numbers hidden
  for (const frame of anon) file.delete(frame);
  return { bytes: (anon.size + file.size) * PAGE_SIZE, anonBytes: anon.size * PAGE_SIZE };
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

/** The command line of `pid`, its arguments joined by spaces, or undefined once it is gone. */
export function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
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
