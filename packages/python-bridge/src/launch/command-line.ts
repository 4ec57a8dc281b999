/**
 * The launch contract, Node's side: what a process that serves calls is started with (PROTOCOL.md,
 * "The worker process" and "The fork server"). One home for every launcher: the spawn launcher, the
 * fork server and the remote launcher all start from one {@link ServeSpec}, made once per pool.
 *
 * - {@link serveArgs}: what every serving process is told (its parent, the size limit, what it
 *   imports and may call); {@link workerArgs} adds the endpoint a worker binds.
 * - {@link workerEnv}: the caller's environment, the spec's changes, unbuffered output, and the
 *   runtime importable.
 * - {@link launcherCode}: the one-line `-c` program that runs `piton.worker` or `piton.forkserver`
 *   with the working directory kept off `sys.path`.
 *
 * The Python side of the same contract is `piton/lifetime.py` (the arguments, parent death,
 * preload, SIGTERM mask and exit); the agent starts its workers with the same launcher line
 * (`piton/agent/children.py`), and a test holds the two copies of that line equal.
 */
import { delimiter } from 'node:path';
import { RUNTIME_SRC } from '../environment/runtime-location.js';

/** What may be called besides the functions of modules under `path` (SECURITY.md, section 3). */
export interface AllowRules {
  /** Modules callable although they are not under `path`. */
  modules: readonly string[];
  /** Module and function names starting with `_`. */
  private: boolean;
  /** Modules (`'*'`: all) whose callable names may be defined in modules that are not callable. */
  reexports: readonly string[];
}

/** Nothing beyond the modules under `path`: the default. */
export const NOTHING_MORE: AllowRules = Object.freeze({ modules: [], private: false, reexports: [] });

/** What every process that serves a pool's calls is started with, a worker and a fork server alike. */
export interface ServeSpec {
  /** The already-resolved Python executable (see `resolvePython`). */
  python: string;
  /** Absolute directories put first on `sys.path`; their modules are callable. */
  path: readonly string[];
  /** Modules imported before the process reports ready. */
  preload?: readonly string[];
  /** Added to the environment; `undefined` removes a variable. */
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Largest message in either direction, all frames together, in bytes. */
  maxMessageSize: number;
  /** @default {@link NOTHING_MORE} */
  allow?: AllowRules;
}

/** The modules a launcher line can run. */
export type ServedModule = 'piton.worker' | 'piton.forkserver';

/**
 * The program of `python -c PROGRAM ARGS…` that runs `module`'s `main()` as `python -m module`
 * would, except that the working directory is never importable. `-m` (and `-c`) put the cwd first
 * on `sys.path`, so a planted `enum.py` or `piton/` there would run in every interpreter; `-P`
 * fixes that only from Python 3.11 on. The line drops that first entry (unless safe-path mode
 * already left it out) before anything is imported, and leaves `PYTHONPATH` and `path` as they
 * are. Nothing is set in the environment, so subprocesses of user code see the ordinary
 * `sys.path` rules. One line, so that `ps` shows it whole. `piton/agent/children.py` holds the
 * same line for the workers an agent starts.
 */
export function launcherCode(module: ServedModule): string {
  return (
    "import sys; sys.path[:1] == [''] and not getattr(sys.flags, 'safe_path', False) and sys.path.pop(0); " +
    `from ${module} import main; main()`
  );
}

/**
 * What every process that serves calls is told, a worker and a fork server alike: its parent, the
 * size limit, and what it imports and may call.
 */
export function serveArgs(spec: Omit<ServeSpec, 'python' | 'env' | 'cwd'>, parentPid: number = process.pid): string[] {
  const allow = spec.allow ?? NOTHING_MORE;
  const args = ['--parent-pid', String(parentPid), '--max-message-size', String(spec.maxMessageSize)];
  for (const dir of spec.path) args.push('--path', dir);
  for (const module of spec.preload ?? []) args.push('--preload', module);
  for (const module of allow.modules) args.push('--allow-module', module);
  if (allow.private) args.push('--allow-private');
  for (const module of allow.reexports) args.push('--allow-reexports', module);
  return args;
}

/** A worker's arguments: the endpoint it binds, then {@link serveArgs}. */
export function workerArgs(spec: Omit<ServeSpec, 'python' | 'env' | 'cwd'>, endpoint: string, parentPid: number = process.pid): string[] {
  return ['--endpoint', endpoint, ...serveArgs(spec, parentPid)];
}

/** A serving process's environment: the caller's, `spec.env` applied, unbuffered output, the runtime importable. */
export function workerEnv(spec: Pick<ServeSpec, 'env'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  env.PYTHONUNBUFFERED = '1';
  if (RUNTIME_SRC !== undefined) {
    const parts = (env.PYTHONPATH ?? '').split(delimiter).filter((p) => p !== '');
    if (!parts.includes(RUNTIME_SRC)) parts.push(RUNTIME_SRC);
    env.PYTHONPATH = parts.join(delimiter);
  }
  return env;
}
