/**
 * This build's no-op latency and throughput against another checkout's, in one process and one
 * run, interleaved: the same-run comparison a reshaping change is judged by ("within noise of
 * before"). Separate bench runs minutes apart differ by more than a reshape could on a shared
 * machine; here both pools see the same moments of its load.
 *
 *   npx tsx bench/versus.ts --other=DIR [--trials=7] [--calls=2000] [--total=20000]
 *
 * DIR is another checkout of the repository, installed and built (`npm install` there): its pool is
 * imported from DIR/packages/python-bridge/dist, runs DIR's worker runtime in DIR/.venv's Python and
 * calls DIR/bench/python/functions.py's `noop`, as DIR's own bench does. Only `size`, `path` and
 * `python` are passed to either pool, options every version has had.
 *
 * Each trial: latency, one call of each pool of 1 in turn (`calls` each), p50 and p99; then
 * throughput, pools of 2 at concurrency 8, `total` calls a block, the two blocks in an order that
 * alternates by trial. The figures are medians over trials, with this/other per trial.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PY_DIR, pythonExecutable } from './lib/context.js';
import { percentile, summarize } from './lib/stats.js';
import { interleavedLatencies, latencies, throughput } from './lib/timing.js';

/** What both versions' pools offer, and all this script uses of them. */
interface AnyPool {
  call(module: string, fn: string, args: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}
interface AnyPoolClass {
  start(options: { size: number; path: string; python: string }): Promise<AnyPool>;
}

interface Build {
  name: string;
  PythonPool: AnyPoolClass;
  python: string;
  path: string;
}

function option(name: string, fallback?: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg !== undefined) return arg.slice(name.length + 3);
  if (fallback === undefined) throw new TypeError(`--${name}=... is required (see the header of bench/versus.ts)`);
  return fallback;
}

function count(name: string, fallback: string): number {
  const value = Number(option(name, fallback));
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer, got ${option(name, fallback)}`);
  return value;
}

async function load(name: string, root: string | undefined): Promise<Build> {
  if (root === undefined) {
    const { PythonPool } = (await import('@piton/python-bridge')) as unknown as { PythonPool: AnyPoolClass };
    return { name, PythonPool, python: pythonExecutable(), path: PY_DIR };
  }
  const url = pathToFileURL(join(root, 'packages', 'python-bridge', 'dist', 'index.js')).href;
  const { PythonPool } = (await import(url)) as { PythonPool: AnyPoolClass };
  return { name, PythonPool, python: join(root, '.venv', 'bin', 'python'), path: join(root, 'bench', 'python') };
}

async function started(build: Build, size: number): Promise<{ pool: AnyPool; call: () => Promise<unknown> }> {
  const pool = await build.PythonPool.start({ size, path: build.path, python: build.python });
  const call = () => pool.call('functions', 'noop', [1]);
  if ((await call()) !== 1) throw new Error(`${build.name}: the no-op did not return its argument`);
  return { pool, call };
}

function row(figure: string, unit: string, mine: number[], theirs: number[]): string {
  const [a, b] = [summarize(mine), summarize(theirs)];
  const r = summarize(mine.map((v, i) => v / theirs[i]!));
  const n = (v: number) => (v >= 1000 ? Math.round(v).toLocaleString('en') : v.toFixed(1));
  return `| ${figure} | ${n(a.median)} ${unit} (${n(a.min)}–${n(a.max)}) | ${n(b.median)} ${unit} (${n(b.min)}–${n(b.max)}) | ${r.median.toFixed(3)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) |`;
}

async function main(): Promise<void> {
  const other = resolve(option('other'));
  const trials = count('trials', '7');
  const calls = count('calls', '2000');
  const total = count('total', '20000');
  const builds = [await load('this', undefined), await load('other', other)];
  const pools: AnyPool[] = [];
  try {
    const singles = [];
    const pairs = [];
    for (const build of builds) {
      const single = await started(build, 1);
      const pair = await started(build, 2);
      pools.push(single.pool, pair.pool);
      singles.push(single.call);
      pairs.push(pair.call);
      await latencies(single.call, 500); // warm-up: JIT, socket buffers
      await throughput(pair.call, 2_000, 8);
    }
    const p50: [number[], number[]] = [[], []];
    const p99: [number[], number[]] = [[], []];
    const rate: [number[], number[]] = [[], []];
    for (let t = 0; t < trials; t++) {
      const samples = await interleavedLatencies(singles, calls);
      samples.forEach((s, k) => {
        p50[k]!.push(percentile(s, 0.5) * 1000);
        p99[k]!.push(percentile(s, 0.99) * 1000);
      });
      for (const k of t % 2 === 0 ? [0, 1] : [1, 0]) rate[k]!.push(await throughput(pairs[k]!, total, 8));
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    console.log(`this: ${process.cwd()}; other: ${other}; ${trials} trials, ${calls} calls a latency trial, ${total} a throughput block`);
    console.log('| figure | this | other | this / other per trial |\n|---|---:|---:|---:|');
    console.log(row('no-op latency, pool of 1, p50', 'µs', ...p50));
    console.log(row('no-op latency, pool of 1, p99', 'µs', ...p99));
    console.log(row('no-op throughput, pool of 2, concurrency 8', 'calls/s', ...rate));
  } finally {
    for (const pool of pools) await pool.stop().catch(() => undefined);
  }
}

await main();
