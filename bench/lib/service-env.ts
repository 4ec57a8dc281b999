/**
 * What the service benchmark needs besides the repository: its own Python environment
 * (bench/.venv-service, never the project's .venv) with the servers it compares against, the model
 * and the worker runtime; and wrk, which it installs with apt-get when it is missing. Made on the
 * first run and again whenever its requirements change; a run with everything in place only checks.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, ROOT, type BenchContext } from './context.js';
import { FamilySkipped } from './report.js';

export const SERVICE_PY_DIR = join(BENCH_DIR, 'python', 'service');
const VENV = join(BENCH_DIR, '.venv-service');
const STAMP = join(VENV, '.bench-service-setup');
const REQUIREMENTS = join(SERVICE_PY_DIR, 'requirements.txt');

export interface ServiceEnvironment {
  /** The environment's directory; its `bin/` holds python, gunicorn and uvicorn. */
  venv: string;
  python: string;
  wrk: string;
  /** The versions of what the servers run on (package → version), wrk's and autocannon's. */
  versions: Record<string, string>;
}

/** The packages whose versions the family reports. */
const REPORTED = ['flask', 'gunicorn', 'fastapi', 'pydantic', 'uvicorn', 'uvloop', 'httptools', 'scikit-learn', 'numpy'];

function run(ctx: BenchContext, command: string, args: readonly string[], options: SpawnSyncOptions = {}): boolean {
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT, ...options });
  if (result.status === 0) return true;
  ctx.log(`service: '${command} ${args.join(' ')}' failed (${result.error?.message ?? `exit ${result.status}`})`);
  return false;
}

/** What the environment is made from: when neither changes, pip has nothing to do. */
function digest(): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(REQUIREMENTS));
  hash.update(readFileSync(join(ROOT, 'python', 'pyproject.toml')));
  return hash.digest('hex');
}

function prepareVenv(ctx: BenchContext): string {
  const python = join(VENV, 'bin', 'python');
  if (!existsSync(python)) {
    const base = process.env.PITON_SETUP_PYTHON ?? 'python3';
    ctx.log(`service: creating ${VENV} with ${base}`);
    if (!run(ctx, base, ['-m', 'venv', VENV])) throw new FamilySkipped(`cannot create the benchmark's environment ${VENV} with ${base}`);
  }
  const want = digest();
  if (!existsSync(STAMP) || readFileSync(STAMP, 'utf8') !== want) {
    ctx.log('service: installing Flask, gunicorn, FastAPI, uvicorn, scikit-learn and the worker runtime into it (once)');
    // The worker runtime's dependencies come with it (python/pyproject.toml); the pool puts the
    // checkout's own runtime first on PYTHONPATH, so the installed copy only brings them.
    // -qq: errors only (the mirror's configuration makes pip warn about every index it skips).
    const ok = run(ctx, python, ['-m', 'pip', 'install', '--retries', '0', '-qq', '-r', REQUIREMENTS, `${join(ROOT, 'python')}[numpy]`]);
    if (!ok) throw new FamilySkipped(`pip could not install ${REQUIREMENTS} into ${VENV}`);
    writeFileSync(STAMP, want);
  }
  return python;
}

function versionsOf(python: string): Record<string, string> {
  const code = `import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in ${JSON.stringify(REPORTED)}}))`;
  const result = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cannot read the service environment's versions: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, string>;
}

function wrkVersion(wrk: string): string {
  // `wrk --version` prints "wrk 4.1.0 [epoll] Copyright …" (and exits 1).
  const out = spawnSync(wrk, ['--version'], { encoding: 'utf8' });
  return /wrk (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

function hasWrk(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

function prepareWrk(ctx: BenchContext): string {
  if (hasWrk()) return 'wrk';
  if (process.getuid?.() !== 0) throw new FamilySkipped('wrk is not installed and installing it needs root (apt-get install wrk)');
  ctx.log('service: installing wrk with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => run(ctx, 'apt-get', ['install', '-y', '-q', 'wrk'], { env });
  if (!install()) {
    // The package lists may be missing or stale.
    run(ctx, 'apt-get', ['update', '-q'], { env });
    install();
  }
  if (!hasWrk()) throw new FamilySkipped('wrk could not be installed with apt-get');
  return 'wrk';
}

export function prepareServiceEnvironment(ctx: BenchContext): ServiceEnvironment {
  const wrk = prepareWrk(ctx);
  const python = prepareVenv(ctx);
  const autocannon = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'autocannon', 'package.json'), 'utf8')) as { version: string }).version;
  return { venv: VENV, python, wrk, versions: { ...versionsOf(python), wrk: wrkVersion(wrk), autocannon } };
}
