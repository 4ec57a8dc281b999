import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every live process whose command line contains `needle` (read from /proc, so no `ps` parsing). */
export function processesMatching(needle: string): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string;
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // exited while we looked
    }
    if (args.includes(needle) && !isZombie(Number(entry))) found.push({ pid: Number(entry), args });
  }
  return found;
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * Python workers started by the Node process `parentPid`: spawned interpreters, fork servers and
 * the interpreters they forked (which keep the server's command line).
 */
export function workersOf(parentPid: number = process.pid): number[] {
  return [...processesMatching(`piton.worker`), ...processesMatching('piton.forkserver')]
    .filter((p) => p.args.includes(`--parent-pid ${parentPid} `) || p.args.endsWith(`--parent-pid ${parentPid}`))
    .map((p) => p.pid);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch {
    return false;
  }
}

/**
 * Waits until `condition` holds, checking every few ms, for at most `withinMs`: for states that
 * no event announces (another process's exit). Rejects with `what` when time runs out.
 */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The `ipc://` endpoint an interpreter listens on, whoever made it (a spawned worker has it on its
 * command line; a forked one keeps its fork server's): the path of the listening Unix socket among
 * the process's open descriptors, from /proc/net/unix.
 */
export function endpointOf(pid: number): string {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed while we looked
    }
  }
  // Columns: Num RefCount Protocol Flags Type St Inode Path; St 01 is listening.
  for (const line of readFileSync('/proc/net/unix', 'latin1').split('\n').slice(1)) {
    const [, , , , , state, inode, path] = line.trim().split(/\s+/);
    if (state === '01' && inode !== undefined && inodes.has(inode) && path?.endsWith('/worker.sock')) return `ipc://${path}`;
  }
  throw new Error(`no listening ipc socket among the descriptors of ${pid}`);
}
