/**
 * What Linux's /proc tells about a process, in one place: when it started (which, with its pid,
 * names one process rather than a pid's successive owners), whether it still runs, its resident
 * memory; and the kill of its process group. Where /proc is missing (another OS) or the process is
 * gone, each answers `undefined` or `false` rather than throwing.
 */
import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/PID/stat after `comm`, which may hold spaces and parentheses; `undefined` if
 * unreadable. Index 0 is the state, 1 the parent's pid, 19 the start time.
 */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) state ppid ...": count after the last ')'. Field 3 (state) is index 0.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * A process's start time in clock ticks since boot (/proc/PID/stat field 22), or `undefined` where
 * it cannot be read. Together with the pid it names one process, not a pid's successive owners.
 */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** Whether `pid` still runs (not a zombie, not dead) and, if `startTime` is given, is the process that had it. */
export function stillRuns(pid: number, startTime?: string): boolean {
  const fields = statFields(pid);
  if (fields === undefined) return false;
  return fields[0] !== 'Z' && fields[0] !== 'X' && (startTime === undefined || fields[19] === startTime);
}

/** Waits until `pid` is gone or a zombie, for at most `ms`. */
export async function gone(pid: number, ms: number, startTime?: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && stillRuns(pid, startTime)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** `sig` to the process group `pid` leads, else (no such group yet) to the process; whether it was sent. */
export function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
      return true;
    } catch {
      // no such group (it had not called setpgid yet): try the process
    }
  }
  return false;
}

/**
 * A process's resident memory in bytes (/proc/PID/status, VmRSS); `undefined` where /proc is not
 * there or the process is gone. Synchronous: a few µs, and only asked for when a memory limit is set.
 */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
