/**
 * What the worker runtime needs in the interpreter that runs it: the dependencies declared in
 * python/pyproject.toml (a test holds the two together), with the module each one is imported as.
 * `npx piton setup` installs them; start errors and `npx piton doctor` name them in their fixes.
 */

export interface Requirement {
  /** The pip requirement, e.g. `pyzmq>=25`. */
  spec: string;
  /** The distribution name, e.g. `pyzmq`. */
  distribution: string;
  /** The module it is imported as, e.g. `zmq`. */
  module: string;
  /** The lowest version accepted, as numbers. */
  minimum: number[];
}

function requirement(distribution: string, module: string, minimum: string): Requirement {
  return { spec: `${distribution}>=${minimum}`, distribution, module, minimum: minimum.split('.').map(Number) };
}

/** Needed by every interpreter. */
export const RUNTIME_REQUIREMENTS: readonly Requirement[] = [requirement('pyzmq', 'zmq', '25'), requirement('msgpack', 'msgpack', '1.0')];

/** Optional: typed arrays arrive as numpy arrays when it is there (`npx piton setup --numpy`). */
export const NUMPY_REQUIREMENT: Requirement = requirement('numpy', 'numpy', '1.22');

/**
 * Optional: DataFrames and Arrow tables cross the wire when it is there (`npx piton setup --arrow`);
 * 16 is the first pyarrow that reads the string views polars writes.
 */
export const ARROW_REQUIREMENT: Requirement = requirement('pyarrow', 'pyarrow', '16');

/** The oldest Python the runtime supports (pyproject's requires-python). */
export const MINIMUM_PYTHON: readonly number[] = [3, 9];

/** Whether a dotted version (`26.2.0`, `1.1.0rc1`) is at least `minimum`. */
export function versionAtLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split('.').map((part) => Number.parseInt(part, 10));
  for (let i = 0; i < minimum.length; i++) {
    const have = Number.isNaN(parts[i] ?? Number.NaN) ? 0 : parts[i]!;
    if (have !== minimum[i]) return have > minimum[i]!;
  }
  return true;
}

/** A word safe to paste into a POSIX shell as is, or single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The exact command that installs `requirements` into `python`. */
export function pipInstallCommand(python: string, requirements: readonly Requirement[]): string {
  return [python, '-m', 'pip', 'install', ...requirements.map((r) => r.spec)].map(shellWord).join(' ');
}
