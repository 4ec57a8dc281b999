/**
 * examples/http-service as a deployment runs it: compiled to JavaScript (with the project's own
 * `tsc` and the examples' tsconfig), its Python modules beside it, run by plain `node`.
 *
 * Why not `node --import tsx`, as `npm run example:service` does: tsx compiles each module on
 * import through loader hooks that run on a thread of their own, with a V8 heap of their own, and
 * keeps an esbuild process. In the service benchmark's memory figure that was ~38 MiB of the Node
 * process's ~61 MiB PSS (and ~13 MiB more in esbuild), none of it the service's: the Python servers
 * it is compared with run no compiler. The code that runs is the example's, unchanged.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, ROOT } from './context.js';

const EXAMPLE = join(ROOT, 'examples', 'http-service');
/** Inside the repository, so that the compiled modules resolve `@piton/python-bridge` and the rest from its node_modules. */
const OUT = join(BENCH_DIR, '.service-example');

/** Compiles the example into bench/.service-example (made anew each run) and returns its entry point. */
export function buildServiceExample(): string {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const tsconfig = join(OUT, 'tsconfig.json');
  writeFileSync(tsconfig, JSON.stringify({
    extends: join(ROOT, 'examples', 'tsconfig.json'),
    compilerOptions: { noEmit: false, outDir: OUT, rootDir: EXAMPLE },
    include: [join(EXAMPLE, '*.ts')],
  }));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { cwd: ROOT, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`compiling examples/http-service failed:\n${tsc.stdout}${tsc.stderr}`);
  // The pool serves the modules under the entry point's directory (`path: here`): copies, not
  // links (a link resolves to the example's directory, outside the pool's path).
  for (const name of readdirSync(EXAMPLE)) if (name.endsWith('.py')) copyFileSync(join(EXAMPLE, name), join(OUT, name));
  rmSync(tsconfig);
  return join(OUT, 'index.js');
}
