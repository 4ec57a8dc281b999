/**
 * The private directories that hold the interpreters' `ipc://` sockets, and the removal of those
 * a SIGKILLed Node process left behind.
 *
 * Each interpreter gets `<tmpdir>/piton-<node pid>-XXXXXX/` (mode 0700) with its `worker.sock`
 * and an `owner` file: the Node pid and that process's start time (so a recycled pid is not taken
 * for the owner). An interpreter's directory is removed when it exits; only a Node process that
 * dies without running any code (SIGKILL, OOM kill) leaves its directories, and the next pool
 * started by any Node process of the same user removes them.
 *
 * A directory is removed only when all of these hold: its name has this shape; it is a real
 * directory (not a symlink), owned by this user, of mode 0700; its owner is gone (no process has
 * its pid, or the process with that pid started at another time than the one recorded); its
 * sockets, if any, accept no connection (so no worker in another pid namespace still serves on
 * them); and it holds nothing but `worker.sock`, the sockets bound beside it (`worker.sock-lanes`,
 * `worker.sock-control`) and `owner`. Entries are unlinked one by one (never followed),
 * then the directory itself is removed; anything unexpected leaves it in place.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '../launch/proc.js';
import { within } from '@piton/core';

/** The socket's file name inside an interpreter's directory. */
export const SOCKET_NAME = 'worker.sock';
/** The sockets a worker binds beside its own (PROTOCOL.md, "Lanes" and "Cancelling"): `worker.sock-lanes`, `worker.sock-control`. */
const SIBLING_SOCKETS: readonly string[] = [`${SOCKET_NAME}-lanes`, `${SOCKET_NAME}-control`];
/** The file naming the Node process that made the directory: `<pid> <start time>`. */
export const OWNER_NAME = 'owner';
const DIR_PATTERN = /^piton-(\d+)-[A-Za-z0-9]{6}$/;
/** How long a connection attempt to a left-over socket may take before it counts as dead. */
const CONNECT_TIMEOUT_MS = 500;

/**
 * Makes an interpreter's private directory (0700) with its owner file; returns its path.
 *
 * Synchronously: three calls of some µs on a local directory, on the path of every interpreter
 * start, replacements included. Through the thread pool each would wait for its completion to be
 * picked up by a later turn of the event loop, which on a server busy with requests is a turn
 * through all of them (milliseconds each, measured in bench/README.md's fault round).
 */
export async function makeSocketDir(parent: string = tmpdir()): Promise<string> {
  const dir = mkdtempSync(join(parent, `piton-${process.pid}-`));
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, OWNER_NAME), `${process.pid} ${processStartTime(process.pid) ?? ''}\n`, { mode: 0o600, flag: 'wx' });
  return dir;
}

/** Removes an interpreter's directory once it has exited (synchronously, as it is made); never throws. */
export function removeSocketDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // unlikely; then the first pool started after this process is gone removes it (sweepStaleSocketDirs)
  }
}

/** Whether the process `pid` runs and is the one recorded in `owner` (if one was recorded). */
async function ownerAlive(pid: number, dir: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: a process of another user has the pid, so it runs (and is not our owner, but a
    // directory of ours is not worth the risk of a wrong guess): keep.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  const recorded = await readOwner(dir);
  const now = processStartTime(pid);
  // The pid runs: the owner unless the start times say it is another process with the same pid.
  return recorded === undefined || now === undefined || recorded === '' || recorded === now;
}

async function readOwner(dir: string): Promise<string | undefined> {
  const file = join(dir, OWNER_NAME);
  try {
    if (!(await lstat(file)).isFile()) return undefined;
    return (await readFile(file, 'utf8')).trim().split(' ')[1];
  } catch {
    return undefined;
  }
}

/** Whether something accepts connections on the Unix socket at `path`. */
async function listening(path: string): Promise<boolean> {
  const socket = connect(path);
  const answered = new Promise<boolean>((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
  });
  // A socket that neither accepts nor refuses in time is treated as alive: keep the directory.
  const answer = await within(answered, CONNECT_TIMEOUT_MS, () => true);
  socket.destroy();
  return answer;
}

/** Removes `dir` if it is a stale interpreter directory (see the module comment); returns whether it did. */
async function removeIfStale(parent: string, name: string, uid: number | undefined): Promise<boolean> {
  const match = DIR_PATTERN.exec(name);
  if (!match) return false;
  const pid = Number(match[1]);
  if (pid === process.pid || !Number.isSafeInteger(pid) || pid <= 0) return false;
  const dir = join(parent, name);
  const stat = await lstat(dir);
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o777) !== 0o700) return false;
  if (await ownerAlive(pid, dir)) return false;
  const entries = await readdir(dir);
  if (!entries.every((entry) => entry === SOCKET_NAME || entry === OWNER_NAME || SIBLING_SOCKETS.includes(entry))) return false;
  for (const socket of [SOCKET_NAME, ...SIBLING_SOCKETS]) {
    if (entries.includes(socket) && (await listening(join(dir, socket)))) return false;
  }
  for (const entry of entries) await unlink(join(dir, entry)); // unlink never follows a symlink
  await rmdir(dir); // fails, and keeps the directory, if anything appeared meanwhile
  return true;
}

/**
 * Removes the interpreter directories under `parent` whose owning Node process is gone; returns
 * the paths removed. Never throws: a directory that cannot be judged or removed is left alone.
 */
export async function sweepStaleSocketDirs(parent: string = tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of names) {
    try {
      if (await removeIfStale(parent, name, uid)) removed.push(join(parent, name));
    } catch {
      // gone meanwhile, or not ours to judge
    }
  }
  return removed;
}
