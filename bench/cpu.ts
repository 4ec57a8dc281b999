/**
 * CPU-bound work: COUNT × fib(20) on the pool of 1 (one interpreter, calls queued), the pool of 2,
 * and Python's own ProcessPoolExecutor(2) timing itself, all in the same trial.
 */
import { firstLine, type BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import type { PythonPool } from '@piton/python-bridge';

const N = 20;
const FIB_20 = 6765;

async function poolSeconds(pool: PythonPool, count: number): Promise<number> {
  const t0 = nowMs();
  const results = await Promise.all(Array.from({ length: count }, () => pool.call<number>('functions', 'fib', [N])));
  const seconds = (nowMs() - t0) / 1000;
  if (results.some((r) => r !== FIB_20)) throw new Error(`fib(${N}) did not return ${FIB_20}`);
  return seconds;
}

async function executorSeconds(ctx: BenchContext, count: number): Promise<{ sequential_s: number; executor_s: number }> {
  const child = ctx.spawnPython('process_pool.py', ['--n', String(N), '--count', String(count), '--workers', '2']);
  const line = await firstLine(child, 'process_pool.py', 120_000);
  return JSON.parse(line) as { sequential_s: number; executor_s: number };
}

export async function runCpu(ctx: BenchContext): Promise<Row[]> {
  const count = ctx.settings.quick ? 100 : 400;
  const one = await startPool(ctx, { size: 1 });
  const two = await startPool(ctx, { size: 2 });
  await poolSeconds(one, 20);
  await poolSeconds(two, 20);
  const s1: number[] = [], s2: number[] = [], sx: number[] = [], sq: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    s1.push(await poolSeconds(one, count));
    s2.push(await poolSeconds(two, count));
    const x = await executorSeconds(ctx, count);
    sx.push(x.executor_s);
    sq.push(x.sequential_s);
  }
  await ctx.release(one);
  await ctx.release(two);
  const b = `CPU-bound: ${count} × fib(${N})`;
  return [
    { benchmark: b, figure: 'plain Python loop, in one process', unit: 's', samples: sq },
    { benchmark: b, figure: 'pool of 1', unit: 's', samples: s1, ratio: ratioTo('× plain loop time', s1, sq) },
    {
      benchmark: b, figure: 'pool of 2: speed-up over pool of 1', unit: 's', samples: s2,
      ratio: { label: '× pool of 1 speed', samples: s2.map((v, i) => s1[i]! / v) },
      target: { text: '≥ 1.6× pool of 1', on: 'ratio', met: (r) => r >= 1.6 },
    },
    { benchmark: b, figure: 'ProcessPoolExecutor(2), default chunksize', unit: 's', samples: sx },
    {
      benchmark: b, figure: 'pool of 2 vs ProcessPoolExecutor(2)', unit: 's', samples: s2,
      ratio: { label: '× executor speed', samples: s2.map((v, i) => sx[i]! / v) },
      target: { text: '≥ 1.0× executor', on: 'ratio', met: (r) => r >= 1.0 },
    },
  ];
}
