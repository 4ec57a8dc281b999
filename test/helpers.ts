import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
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
 * Every process with the command line of a Python worker started by the Node process `parentPid`:
 * spawned interpreters, fork servers and the interpreters they forked (which keep the server's
 * command line), their process-group guards, and forks made by user code.
 */
export function workerProcessesOf(parentPid: number = process.pid): number[] {
  return [...processesMatching(`piton.worker`), ...processesMatching('piton.forkserver')]
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

/**
 * Whether `pid` still runs. A zombie has ended, unless it is a thread-group leader whose other
 * threads are still exiting (after a SIGKILL, ZeroMQ's I/O threads may end milliseconds after the
 * main thread): its files, listening sockets included, are closed only when the last thread ends.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !isZombie(pid) || threadCount(pid) > 1;
}

function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/** One case of protocol/vectors.json: a tagged value and the frames (hex) both codecs agree on. */
export interface VectorCase {
  name: string;
  value: unknown;
  frames: string[];
  encoders: string[];
  /** The frames that hold an Arrow IPC stream (ext 3), compared by the table they read as. */
  ipc?: number[];
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

/** One sample of a Prometheus exposition: `name` with its suffix (`_bucket`, `_count`, `_total`). */
export interface PromSample {
  family: string;
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: each family's type (`counter`, `gauge`, `histogram`), and every sample. */
export interface PromExposition {
  types: Record<string, string>;
  samples: PromSample[];
}

const PROMETHEUS_PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
types, samples = {}, []
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        samples.append({"family": family.name, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps({"types": types, "samples": samples}))
`;

/**
 * Parses Prometheus text exposition with the Prometheus project's own parser (`prometheus_client`
 * in .venv), which rejects malformed input: a check of the format, not of our own regexes.
 */
export function parsePrometheusText(text: string): PromExposition {
  const python = join(repoRoot, '.venv', 'bin', 'python');
  const result = spawnSync(python, ['-c', PROMETHEUS_PARSER], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the Prometheus parser refused the exposition: ${result.stderr}\n${text}`);
  return JSON.parse(result.stdout) as PromExposition;
}

/** The value of the one sample called `name` whose labels include `labels`; throws if there is none. */
export function promValue(samples: PromSample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one sample ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
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

/** examples/http-service, started by a test as `npm run example:service` would start it. */
export interface HttpService {
  child: ChildProcessWithoutNullStreams;
  /** Where it listens: `http://127.0.0.1:PORT`. */
  base: string;
  /** All it has printed so far on stdout (the `listening` line, spans with PITON_TRACE=1). */
  stdout: () => string;
  /** All it has printed so far on stderr (its JSON log lines). */
  stderr: () => string;
}

/** Starts examples/http-service on a free port (env added to the test's own); resolves once it listens. */
export function startHttpService(env: Record<string, string> = {}): Promise<HttpService> {
  return startExample('http-service', env);
}

/** Starts examples/NAME/index.ts as its npm script would, on a free port; resolves once it says it listens. */
export async function startExample(name: string, env: Record<string, string> = {}): Promise<HttpService> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples', name, 'index.ts')], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let stdout = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`examples/${name} exited (${code}) before listening:\n${stderr}`)));
  });
  return { child, base, stdout: () => stdout, stderr: () => stderr };
}
