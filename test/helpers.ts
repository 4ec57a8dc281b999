import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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
 * Every process with the command line of a Python worker started by the Node process `parentPid`:
 * interpreters, their process-group guards, and forks made by user code.
 */
export function workerProcessesOf(parentPid: number = process.pid): number[] {
  return processesMatching(`piton.worker`)
    .filter((p) => p.args.includes(`--parent-pid ${parentPid} `) || p.args.endsWith(`--parent-pid ${parentPid}`))
    .map((p) => p.pid);
}

/** The interpreters among {@link workerProcessesOf} (not their guards, which die with them). */
export function workersOf(parentPid: number = process.pid): number[] {
  return workerProcessesOf(parentPid).filter((pid) => commOf(pid) !== 'piton-guard');
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
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

/** One case of protocol/vectors.json: a tagged value and the frames (hex) both codecs agree on. */
export interface VectorCase {
  name: string;
  value: unknown;
  frames: string[];
  encoders: string[];
}

/** The shared vectors, checked by both languages (protocol/vectors.json). */
export function readVectors(): { protocol: number; cases: VectorCase[] } {
  return JSON.parse(readFileSync(join(repoRoot, 'protocol', 'vectors.json'), 'utf8')) as { protocol: number; cases: VectorCase[] };
}

/**
 * The rejection of `promise`, checked to be a `cls` that the Python worker reported (PROTOCOL.md,
 * "The error shape"): `origin` is `'python'` and `pythonType` the worker's type name.
 */
export async function reportedByPython<E extends Error>(
  promise: Promise<unknown>,
  cls: abstract new (...args: never[]) => E,
  pythonType: string,
): Promise<E> {
  let error: unknown;
  try {
    error = await promise;
  } catch (e) {
    error = e;
    // node:assert rather than chai: this module is also imported by the benchmarks (the remote
    // hosts), which are type-checked, and chai ships no types.
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    const reported = error as { origin?: unknown; pythonType?: unknown; pythonTraceback?: unknown };
    assert.equal(reported.origin, 'python');
    assert.equal(reported.pythonType, pythonType);
    assert.equal(typeof reported.pythonTraceback, 'string');
    return error as E;
  }
  throw new Error(`expected a rejection with ${cls.name}, got ${String(error)}`);
}
