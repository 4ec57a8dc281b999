/**
 * "Today's" pool, for figures that must stay unchanged against it in the same run: the bridge as
 * it is on another git revision (`main` by default, `PITON_BENCH_BASELINE=<rev>` to choose), built
 * from that revision's own sources in a directory of its own, next to the checkout's build.
 *
 * The revision's tree is exported with `git archive` (the repository's worktrees are left alone)
 * into `$TMPDIR/piton-bench-baseline-<commit>`, given a `node_modules` whose third-party packages
 * are this checkout's (links) and whose `@piton/*` packages are its own, and built with this
 * checkout's `tsc -b`. The directory is kept and reused while the revision stays on that commit.
 * The revision's pool finds its own Python runtime (`python/src` beside its package) and is given
 * the run's Python executable, so both pools run on the same interpreter and libraries.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PythonPool as PythonPoolClass } from '@piton/python-bridge';
import { ROOT, type BenchContext } from './context.js';

export interface Baseline {
  /** The revision as asked for, and the commit it named. */
  revision: string;
  commit: string;
  /** That revision's `PythonPool`, and the file it comes from (for a process of its own). */
  PythonPool: typeof PythonPoolClass;
  entry: string;
}

function git(args: string[]): string {
  const result = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** Exports `commit` into `dir` and builds its packages there (once: a finished build is marked). */
function build(ctx: BenchContext, commit: string, dir: string): void {
  const done = join(dir, '.piton-bench-built');
  if (existsSync(done)) return;
  ctx.log(`baseline: building ${commit.slice(0, 12)} in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('sh', ['-c', `git archive --format=tar ${commit} | tar -x -C "$1"`, 'sh', dir], { cwd: ROOT, encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`baseline: git archive ${commit} failed: ${archive.stderr}`);
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@piton'), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === '@piton' || entry === '.bin' || entry.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  for (const pkg of readdirSync(join(dir, 'packages'))) {
    symlinkSync(join(dir, 'packages', pkg), join(modules, '@piton', pkg));
  }
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(dir, 'packages', 'python-bridge')], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) throw new Error(`baseline: tsc -b failed:\n${tsc.stdout}\n${tsc.stderr}`);
  writeFileSync(done, `${commit}\n`);
}

/** Today's pool: the bridge of `PITON_BENCH_BASELINE` (default `main`), built if need be. */
export async function loadBaseline(ctx: BenchContext): Promise<Baseline> {
  const revision = process.env.PITON_BENCH_BASELINE ?? 'main';
  const commit = git(['rev-parse', '--verify', `${revision}^{commit}`]);
  const dir = join(tmpdir(), `piton-bench-baseline-${commit}`);
  build(ctx, commit, dir);
  const entry = join(dir, 'packages', 'python-bridge', 'dist', 'index.js');
  const module = (await import(pathToFileURL(entry).href)) as { PythonPool: typeof PythonPoolClass };
  return { revision, commit, PythonPool: module.PythonPool, entry };
}
