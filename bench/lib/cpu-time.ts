/** CPU time consumed by this process (all its threads) and by other processes, from /proc. */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * User + system CPU seconds of process `pid` so far, every thread: the sum of its threads'
 * /proc/PID/task/TID/schedstat run times (nanoseconds; /proc/PID/stat counts 10 ms ticks, too
 * coarse for the few hundred ms of a batch). A thread that ended before the call is not counted.
 */
export function processCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e9;
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
