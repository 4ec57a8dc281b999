/**
 * Which Python runs the workers. The choice, in order: an explicit option, `$PITON_PYTHON`, the
 * project's environment made by `npx piton setup` (`<project>/.venv/bin/python`, found from where
 * this package is installed, not from the cwd: see runtime-location.ts) if it exists, `python3` on
 * PATH. It is resolved once to the real
 * executable (`sys.executable`), because a launcher such as a pyenv shim costs ~150 ms per start
 * where the interpreter itself starts in ~25 ms, and restarts should pay only the latter.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { InterpreterStartError } from './errors.js';
import { projectVenv, venvPython } from './runtime-location.js';

/** How long the probe (`python -c "import sys; print(sys.executable)"`) may take. */
const PROBE_TIMEOUT_MS = 15_000;

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
export function resolvePython(choice?: string, cwd: string = process.cwd()): Promise<string> {
  const candidate = pythonCandidate(choice, cwd);
  const key = `${cwd}\0${candidate}`;
  let resolved = cache.get(key);
  if (resolved === undefined) {
    resolved = probe(candidate, cwd);
    cache.set(key, resolved);
    resolved.catch(() => cache.delete(key));
  }
  return resolved;
}

function probe(candidate: string, cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      candidate,
      ['-c', 'import sys; print(sys.executable)'],
      { cwd, timeout: PROBE_TIMEOUT_MS, encoding: 'utf8', windowsHide: true },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const why =
            code === 'ENOENT'
              ? 'not found'
              : code === 'EACCES'
                ? 'not executable'
                : `failed (${error.message.split('\n')[0]})${stderr ? `: ${stderr.trim().slice(-2000)}` : ''}`;
          reject(
            new InterpreterStartError(
              `cannot run Python "${candidate}": ${why}; choose the interpreter with the \`python\` option or $PITON_PYTHON`,
              { stderrTail: stderr ?? '', cause: error },
            ),
          );
          return;
        }
        const executable = stdout.trim().split('\n').pop() ?? '';
        // An embedded Python may report an empty sys.executable: then the candidate is all we know.
        resolvePromise(executable !== '' ? executable : candidate);
      },
    );
  });
}
