/**
 * Where things are, found from this package's own location — never from `process.cwd()`, so a
 * service behaves the same whatever directory it is started from.
 *
 * - The worker runtime (the `piton` Python package): installed from npm, it ships inside this
 *   package at `<package>/python/piton` (copied there when the tarball is packed); in a checkout of
 *   the repository it is `<repo>/python/src/piton`. The packaged copy is looked for first.
 * - The project: the application that depends on this package. Installed, the package lives at
 *   `<project>/node_modules/…/@piton/python-bridge` (npm, yarn and pnpm alike, nested or hoisted),
 *   so the project is the directory holding the outermost `node_modules` on the path. In a checkout
 *   (no `node_modules` on the path) it is the nearest directory above the package with a
 *   `package.json`: the repository's root.
 * - The project's Python environment, which `npx piton setup` makes and the pool uses by default:
 *   `<project>/.venv`.
 */
import { existsSync } from 'node:fs';
import { dirname, join, parse, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `packages/python-bridge` in a checkout, `node_modules/@piton/python-bridge` when installed: the
 * nearest directory above this file with a `package.json` (found by walking up, so the answer does
 * not depend on how deep in `dist/` or `src/` this module sits).
 */
export const PACKAGE_DIR: string = packageDirAbove(dirname(fileURLToPath(import.meta.url)));

function packageDirAbove(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

/** The two places the runtime can be, in the order they are tried. */
export function runtimeCandidates(packageDir: string = PACKAGE_DIR): string[] {
  return [join(packageDir, 'python'), join(packageDir, '..', '..', 'python', 'src')];
}

/**
 * The directory to put on PYTHONPATH so that `import piton` finds the runtime that matches this
 * package, or undefined when neither place has it (then an installed `pip install piton` is used).
 */
export function locateRuntime(packageDir: string = PACKAGE_DIR, exists: (path: string) => boolean = existsSync): string | undefined {
  return runtimeCandidates(packageDir).find((dir) => exists(join(dir, 'piton', 'worker.py')));
}

/** The worker runtime's directory for PYTHONPATH (see {@link locateRuntime}). */
export const RUNTIME_SRC: string | undefined = locateRuntime();

/** The project that depends on the package at `packageDir` (see the top of this file). */
export function projectRoot(packageDir: string = PACKAGE_DIR, exists: (path: string) => boolean = existsSync): string {
  const parts = packageDir.split(sep);
  const outermost = parts.indexOf('node_modules');
  if (outermost > 0) return parts.slice(0, outermost).join(sep) || sep;
  for (let dir = dirname(packageDir); ; dir = dirname(dir)) {
    if (exists(join(dir, 'package.json'))) return dir;
    if (dir === parse(dir).root) return dirname(packageDir);
  }
}

/** The project's Python environment: `<project>/.venv`, made by `npx piton setup`. */
export function projectVenv(packageDir: string = PACKAGE_DIR, exists: (path: string) => boolean = existsSync): string {
  return join(projectRoot(packageDir, exists), '.venv');
}

/** The interpreter of a virtual environment. */
export function venvPython(venv: string): string {
  return join(venv, 'bin', 'python');
}
