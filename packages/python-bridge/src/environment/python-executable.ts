/**
 * Which Python runs the workers. The choice, in order: an explicit option, `$PITON_PYTHON`, the
 * project's environment made by `npx piton setup` (`<project>/.venv/bin/python`, found from where
 * this package is installed, not from the cwd: see runtime-location.ts) if it exists, `python3` on
 * PATH. It is resolved once to the real
 * executable (`sys.executable`), because a launcher such as a pyenv shim costs ~150 ms per start
 * where the interpreter itself starts in ~25 ms, and restarts should pay only the latter.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { InterpreterStartError } from '../errors.js';
import { ChildProcessHandle } from '../launch/child-process.js';
import { projectVenv, venvPython } from './runtime-location.js';
import { within } from '@piton/core';

/** How long the probe may take when the caller gives no limit (a pool gives its `startTimeout`). */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

/**
 * The probe's program. Its answer starts with a marker that its own source does not contain, so
 * a program that merely echoes its arguments (`python: '/bin/echo'`) is not taken for a Python.
 */
const PROBE_MARKER = 'piton-probe:';
const PROBE_CODE = "import sys; print('piton-' + 'probe:' + sys.executable)";

// Keyed by the candidate and the directory it is resolved from; a failed probe is forgotten so a
// fixed installation is picked up on the next try.
const cache = new Map<string, Promise<string>>();

/** Where the candidate comes from, for messages (`npx piton doctor`). */
export type PythonSource = 'option' | 'PITON_PYTHON' | 'project environment' | 'PATH';

/** The candidate command before resolution, following the order above, and where it came from. */
export function choosePython(
  choice?: string,
  cwd: string = process.cwd(),
  venv: string = projectVenv(),
): { command: string; source: PythonSource } {
  const explicit = choice ?? process.env.PITON_PYTHON;
  if (explicit !== undefined && explicit !== '') {
    // A path relative to cwd ("./x/python", ".venv/bin/python"); a bare name is looked up on PATH.
    const command = explicit.includes('/') && !isAbsolute(explicit) ? resolve(cwd, explicit) : explicit;
    return { command, source: choice !== undefined ? 'option' : 'PITON_PYTHON' };
  }
  const python = venvPython(venv);
  return existsSync(python) ? { command: python, source: 'project environment' } : { command: 'python3', source: 'PATH' };
}

/** The candidate command before resolution, following the order above. */
export function pythonCandidate(choice?: string, cwd: string = process.cwd(), venv: string = projectVenv()): string {
  return choosePython(choice, cwd, venv).command;
}

/**
 * Resolves the interpreter to run: the real executable of the chosen Python. Rejects with
 * {@link InterpreterStartError} when it cannot be run, naming the command and how to choose another.
 */
export function resolvePython(choice?: string, cwd: string = process.cwd(), timeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS): Promise<string> {
  const candidate = pythonCandidate(choice, cwd);
  const key = `${cwd}\0${candidate}`;
  let resolved = cache.get(key);
  if (resolved === undefined) {
    resolved = probe(candidate, cwd, timeoutMs);
    cache.set(key, resolved);
    resolved.catch(() => cache.delete(key));
  }
  return resolved;
}

function cannotRun(candidate: string, why: string, stderr: string, cause?: unknown): InterpreterStartError {
  return new InterpreterStartError(
    `cannot run Python "${candidate}": ${why}; choose the interpreter with the \`python\` option or $PITON_PYTHON`,
    { stderrTail: stderr, cause },
  );
}

/** Why `cwd` cannot be a working directory, or `undefined` if it can. */
export function badDirectory(cwd: string): string | undefined {
  try {
    return statSync(cwd).isDirectory() ? undefined : `the working directory "${cwd}" is not a directory (options.cwd)`;
  } catch {
    return `the working directory "${cwd}" does not exist (options.cwd)`;
  }
}

/**
 * Runs the candidate once, in its own process group, for at most `timeoutMs`: a wrapper script
 * that hangs is given up at the deadline, and it and whatever it started are SIGKILLed.
 */
async function probe(candidate: string, cwd: string, timeoutMs: number): Promise<string> {
  const noDirectory = badDirectory(cwd);
  if (noDirectory !== undefined) throw new InterpreterStartError(`cannot start Python "${candidate}": ${noDirectory}`);
  const stdout: string[] = [];
  const child = new ChildProcessHandle({
    command: candidate,
    args: ['-c', PROBE_CODE],
    env: process.env,
    cwd,
    group: true,
    onLine: (line, stream) => {
      if (stream === 'stdout' && stdout.length < 100) stdout.push(line);
    },
  });
  const outcome = await within(child.exit, timeoutMs, () => 'timeout' as const);
  if (outcome === 'timeout') {
    child.signal('SIGKILL');
    await child.exit;
    throw cannotRun(candidate, `it did not answer within ${timeoutMs} ms (startTimeout) and was killed`, child.stderrTail());
  }
  await child.drained;
  const stderr = child.stderrTail();
  if (outcome.spawnError) {
    const code = (outcome.spawnError as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : `failed (${outcome.spawnError.message})`;
    throw cannotRun(candidate, why, stderr, outcome.spawnError);
  }
  if (outcome.code !== 0) {
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
    throw cannotRun(candidate, `it ${how}${stderr ? `: ${stderr.trim().slice(-2000)}` : ''}`, stderr);
  }
  const answer = stdout.find((line) => line.startsWith(PROBE_MARKER));
  if (answer === undefined) {
    const printed = stdout.join('\n').slice(0, 200);
    throw cannotRun(candidate, `it is not a Python interpreter (asked for sys.executable, it printed ${JSON.stringify(printed)})`, stderr);
  }
  const executable = answer.slice(PROBE_MARKER.length).trim();
  // An embedded Python may report an empty sys.executable: then the candidate is all we know.
  return executable !== '' ? executable : candidate;
}
