/**
 * Runs `piton.typegen` in the interpreter the pool would use, with the worker's environment, its
 * `path` first on `sys.path` and its allow rules, and collects what it reports (ir.ts).
 *
 * Importing a user's module runs their code, which may kill the interpreter (`os._exit`, a crash
 * in C) or never finish. Either costs that module only: the program reports each module before
 * importing it, so when it dies, or a module takes longer than `moduleTimeout`, that module is
 * reported as failed and the program runs again without it. It runs in a process group of its own,
 * which is SIGKILLed when it is done, so nothing a module started outlives the command; it also
 * exits when Node goes (PR_SET_PDEATHSIG, and the end of its stdin).
 */
import { spawn } from 'node:child_process';
import { workerEnv } from '../launch/command-line.js';
import type { PyModule, PyModuleFailure, TypegenMessage } from './ir.js';

/** `python -c` this: keeps the cwd off `sys.path` as the worker's launcher does, then runs the program. */
const LAUNCHER =
  "import sys; sys.path[:1] == [''] and not getattr(sys.flags, 'safe_path', False) and sys.path.pop(0); " +
  'from piton.typegen import main; main()';

/** How long the interpreter may take to start and say which modules it reads. */
const START_TIMEOUT_MS = 30_000;

/** After the exit, how long its pipes may take to close (a process that left the group may hold them). */
const DRAIN_TIMEOUT_MS = 1_000;

/** Keeps the last few KiB of the program's stderr for error messages. */
const STDERR_TAIL_CHARS = 4096;

export interface IntrospectOptions {
  /** The interpreter to run. */
  python: string;
  /** The pool's `path`, absolute. */
  paths: readonly string[];
  /** Only these modules; empty: every module under `paths`, and the allowed ones. */
  modules: readonly string[];
  allowModules: readonly string[];
  allowPrivate: boolean;
  allowReexports: readonly string[];
  /** The working directory (the pool's `cwd`). */
  cwd: string;
  /** ms a module may take to import and be described. */
  moduleTimeout: number;
}

export interface Introspection {
  /** The modules read, in the order they were found. */
  modules: PyModule[];
  /** The modules that could not be read, and why. */
  failures: PyModuleFailure[];
}

/** The program could not run at all (no such interpreter, no worker runtime), before any module. */
export class TypegenError extends Error {
  override name = 'TypegenError';
}

interface Run {
  order: string[] | undefined;
  modules: PyModule[];
  failures: PyModuleFailure[];
  done: boolean;
  /** The module being imported when the run ended without `done`, and why it ended. */
  current: string | undefined;
  why: string;
}

export async function introspect(options: IntrospectOptions): Promise<Introspection> {
  const skip: string[] = [];
  const modules: PyModule[] = [];
  const failures: PyModuleFailure[] = [];
  let order: string[] | undefined;
  for (;;) {
    const run = await runOnce(options, skip);
    order ??= run.order;
    modules.push(...run.modules);
    failures.push(...run.failures);
    if (run.done) break;
    if (run.current === undefined) throw new TypegenError(`${options.python} could not read the modules: ${run.why}`);
    failures.push({ module: run.current, error: run.why });
    skip.push(...run.modules.map((m) => m.module), ...run.failures.map((f) => f.module), run.current);
  }
  const rank = new Map((order ?? []).map((name, i) => [name, i]));
  const byOrder = (a: { module: string }, b: { module: string }) => (rank.get(a.module) ?? 0) - (rank.get(b.module) ?? 0);
  return { modules: modules.sort(byOrder), failures: failures.sort(byOrder) };
}

function programArgs(options: IntrospectOptions, skip: readonly string[]): string[] {
  return [
    ...options.paths.flatMap((p) => ['--path', p]),
    ...options.modules.flatMap((m) => ['--module', m]),
    ...options.allowModules.flatMap((m) => ['--allow-module', m]),
    ...(options.allowPrivate ? ['--allow-private'] : []),
    ...options.allowReexports.flatMap((m) => ['--allow-reexports', m]),
    ...skip.flatMap((m) => ['--skip', m]),
  ];
}

function runOnce(options: IntrospectOptions, skip: readonly string[]): Promise<Run> {
  const run: Run = { order: undefined, modules: [], failures: [], done: false, current: undefined, why: '' };
  return new Promise((resolve) => {
    const child = spawn(options.python, ['-c', LAUNCHER, ...programArgs(options, skip)], {
      cwd: options.cwd,
      env: workerEnv({}),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // a process group of its own, killed whole at the end
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, ms);
    };
    const onMessage = (message: TypegenMessage) => {
      if ('modules' in message) run.order = message.modules;
      else if ('importing' in message) {
        run.current = message.importing;
        arm(options.moduleTimeout);
      } else if ('done' in message) run.done = true;
      else if ('error' in message) {
        run.failures.push(message);
        run.current = undefined;
      } else {
        run.modules.push(message);
        run.current = undefined;
      }
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (let newline = stdout.indexOf('\n'); newline !== -1; newline = stdout.indexOf('\n')) {
        const line = stdout.slice(0, newline);
        stdout = stdout.slice(newline + 1);
        try {
          onMessage(JSON.parse(line) as TypegenMessage);
        } catch {
          run.why = `unexpected output ${JSON.stringify(line.slice(0, 200))}`;
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.stdin.on('error', () => undefined); // EPIPE once it has exited
    // The interpreter's own start is not a module's import: a short --timeout does not bound it.
    arm(Math.max(options.moduleTimeout, START_TIMEOUT_MS));
    let settled = false;
    const finish = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup(child.pid);
      child.stdin.destroy();
      if (!run.done) {
        const tail = stderr.trim().split('\n').slice(-5).join('\n');
        const limit = run.current === undefined ? `${Math.max(options.moduleTimeout, START_TIMEOUT_MS)} ms` : `${options.moduleTimeout} ms (--timeout)`;
        run.why = run.why || (timedOut ? `it did not finish within ${limit} and was killed` : why);
        if (tail !== '' && !timedOut) run.why += `\n${tail}`;
      }
      resolve(run);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'ENOENT' ? 'not found' : error.code === 'EACCES' ? 'not executable' : error.message;
      finish(`cannot run it: ${why}`);
    });
    child.once('exit', (code, signal) => {
      const why = signal ? `the interpreter was killed by ${signal}` : `the interpreter exited with code ${code}`;
      // What it started goes with it; then its pipes close, once the last lines are read.
      killGroup(child.pid);
      const drained = setTimeout(() => finish(why), DRAIN_TIMEOUT_MS);
      child.once('close', () => {
        clearTimeout(drained);
        finish(why);
      });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already empty
  }
}
