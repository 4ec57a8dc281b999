/** CPU time consumed by this process (all its threads) and by other processes, from /proc. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** User + system CPU seconds of process `pid` so far (10 ms resolution). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesized command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** User + system CPU seconds of this Node process, every thread (libzmq's I/O thread included). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Runs `work` and returns the CPU seconds this process and `pids` spent meanwhile. */
export async function cpuDuring(pids: readonly number[], work: () => Promise<unknown>): Promise<{ node: number; python: number }> {
  const node0 = ownCpuSeconds();
  const py0 = pids.map(processCpuSeconds);
  await work();
  return {
    node: ownCpuSeconds() - node0,
    python: pids.reduce((sum, pid, i) => sum + processCpuSeconds(pid) - py0[i]!, 0),
  };
}
