/**
 * What the pool checks before and after it tries to start its interpreters, so that a start that
 * cannot work says why and how to fix it instead of failing later or vaguely:
 * - before: every `path` entry is a directory (else the first call would fail with a puzzling
 *   "No module named …" far from the mistake);
 * - after a failed start: an interpreter that lacks the runtime's dependencies (pyzmq, msgpack) or
 *   the runtime itself gets a message naming the interpreter and the command that fixes it.
 */
import { stat } from 'node:fs/promises';
import { InterpreterStartError, PoolStartError } from '../errors.js';
import { pipInstallCommand, RUNTIME_REQUIREMENTS } from './requirements.js';
import { runtimeCandidates } from './runtime-location.js';

/** Rejects with PoolStartError naming the first `path` entry that is not an existing directory. */
export async function checkPathEntries(path: readonly string[], cwd: string): Promise<void> {
  for (const dir of path) {
    const found = await stat(dir).catch(() => undefined);
    if (found?.isDirectory()) continue;
    throw new PoolStartError(
      undefined,
      `the Python pool could not start: options.path entry "${dir}" ${found ? 'is not a directory' : 'does not exist'} ` +
        `(relative entries resolve against the cwd option, else process.cwd(); here ${cwd})`,
    );
  }
}

/** The modules Python reported missing in a failed start's stderr, in the order reported. */
export function missingModules(stderr: string): string[] {
  return [...stderr.matchAll(/No module named '([\w.]+)'/g)].map((match) => match[1]!.split('.')[0]!);
}

/**
 * The error a failed start rejects with: a PoolStartError whose message, when the interpreter
 * lacks a dependency of the runtime or the runtime itself, names the interpreter and the fix.
 */
export function poolStartError(error: unknown, python: string): PoolStartError {
  const failure = findInterpreterStartError(error);
  const missing = failure === undefined ? [] : missingModules(`${failure.stderrTail}\n${failure.message}`);
  const needed = RUNTIME_REQUIREMENTS.filter((r) => missing.includes(r.module));
  if (needed.length > 0) {
    const lacking = needed.map((r) => r.distribution).join(' and ');
    const said = needed.map((r) => `No module named '${r.module}'`).join(', ');
    return new PoolStartError(
      error,
      `the Python pool could not start: the interpreter ${python} lacks ${lacking}, which the worker runtime needs (${said}). ` +
        `Fix: run \`npx piton setup\` in your project to make the environment the pool uses by default, ` +
        `or install them into this interpreter: ${pipInstallCommand(python, RUNTIME_REQUIREMENTS)}`,
    );
  }
  if (missing.includes('piton')) {
    return new PoolStartError(
      error,
      `the Python pool could not start: the interpreter ${python} cannot import the worker runtime (the piton package), ` +
        `which @piton/python-bridge carries in ${runtimeCandidates()[0]}; reinstall @piton/python-bridge, ` +
        `or install the runtime into this interpreter (pip install ./python from a checkout of Piton for Node)`,
    );
  }
  return error instanceof PoolStartError ? error : new PoolStartError(error);
}

function findInterpreterStartError(error: unknown): InterpreterStartError | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof InterpreterStartError) return e;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}
