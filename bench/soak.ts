/**
 * Soak: many no-op calls at concurrency 16 on a pool of 2, with the memory of the Node process
 * (RSS, V8 heap, after a forced GC) and of the interpreters (RSS from /proc) sampled after a
 * warm-up and then after each fifth of the calls. Growth is measured from the post-warm-up sample.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { PythonPool } from '@piton/python-bridge';
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import type { Row } from './lib/report.js';
import { throughput } from './lib/timing.js';

const MiB = 1024 * 1024;

/** A full GC, so that heap figures are live data, not garbage not yet collected. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

interface MemorySample {
  rss: number;
  heap: number;
  heapTotal: number;
  /** Total RSS of the interpreters; the pids must be the same as at the baseline. */
  pythonRss: number;
  pids: string;
}

function sample(pool: PythonPool): MemorySample {
  collectGarbage();
  const { rss, heapUsed, heapTotal } = process.memoryUsage();
  const interpreters = pool.interpreters();
  return {
    rss, heap: heapUsed, heapTotal,
    pythonRss: interpreters.reduce((sum, i) => sum + rssOf(i.pid), 0),
    pids: interpreters.map((i) => i.pid).sort().join(','),
  };
}

/**
 * Warm-up: calls in chunks until V8's committed heap (heapTotal) has stopped growing for
 * `window` chunks. Under a high allocation rate V8 grows its young generation, by tens of MiB, and
 * RSS follows; growth measured before that has settled is the heap sizing itself, not a leak.
 * The young generation grows in steps some 25,000 calls apart here, hence a long stable window.
 * Returns the calls made.
 */
async function warmUp(op: () => Promise<unknown>, min: number, max: number, chunk: number, window: number): Promise<number> {
  let calls = 0, stable = 0, last = -1;
  while (calls < max && (calls < min || stable < window)) {
    await throughput(op, chunk, 16);
    calls += chunk;
    collectGarbage();
    const heapTotal = process.memoryUsage().heapTotal;
    stable = Math.abs(heapTotal - last) <= last * 0.01 ? stable + 1 : 0;
    last = heapTotal;
  }
  return calls;
}

export async function runSoak(ctx: BenchContext): Promise<Row[]> {
  const total = ctx.settings.quick ? 10_000 : 100_000;
  const concurrency = 16;
  const pool = await startPool(ctx, { size: 2 });
  const noop = () => pool.call('functions', 'noop', [1]);
  collectGarbage();
  const heapAtStart = process.memoryUsage().heapTotal;
  const warmed = ctx.settings.quick
    ? await warmUp(noop, 4_000, 10_000, 2_000, 2)
    : await warmUp(noop, 100_000, 300_000, 10_000, 5);
  const base = sample(pool);
  const segments: { at: MemorySample; rate: number }[] = [];
  for (let s = 0; s < 5; s++) {
    const rate = await throughput(noop, total / 5, concurrency);
    segments.push({ at: sample(pool), rate });
  }
  const stats = pool.stats();
  await ctx.release(pool);
  const last = segments[segments.length - 1]!.at;
  if (last.pids !== base.pids) throw new Error('an interpreter was replaced during the soak: its RSS cannot be compared');
  if (stats.failed !== 0) throw new Error(`${stats.failed} soak calls failed`);

  const growth = (pick: (m: MemorySample) => number) => segments.map((s) => ((pick(s.at) - pick(base)) / pick(base)) * 100);
  const b = `soak: ${total.toLocaleString('en-US')} no-op calls, concurrency 16, pool of 2`;
  const finalGrowth = (pick: (m: MemorySample) => number) => growth(pick).at(-1)!;
  return [
    { benchmark: b, figure: 'calls/s per fifth of the run', unit: 'calls/s', samples: segments.map((s) => s.rate) },
    {
      benchmark: b, unit: 'MiB', samples: [base.heapTotal / MiB],
      figure: `V8 committed heap after warm-up (${warmed.toLocaleString('en-US')} calls, until it stopped growing; ${(heapAtStart / MiB).toFixed(0)} MiB before)`,
    },
    { benchmark: b, figure: 'Node RSS after warm-up', unit: 'MiB', samples: [base.rss / MiB] },
    { benchmark: b, figure: 'Node RSS at the end', unit: 'MiB', samples: [last.rss / MiB] },
    {
      benchmark: b, figure: 'Node RSS growth after warm-up, per fifth', unit: '%', samples: growth((m) => m.rss),
      target: { text: '< 10 % at the end', on: 'value', met: () => finalGrowth((m) => m.rss) < 10 },
    },
    {
      // V8 may still resize its young generation after the warm-up: a one-time step in RSS. What
      // remains after taking V8's committed heap out is native memory (zeromq.js, libuv, malloc).
      benchmark: b, figure: 'V8 committed heap per fifth', unit: 'MiB', samples: segments.map((s) => s.at.heapTotal / MiB),
    },
    {
      benchmark: b, figure: 'Node RSS growth outside the V8 heap, per fifth', unit: '%',
      samples: segments.map((s) => ((s.at.rss - s.at.heapTotal - (base.rss - base.heapTotal)) / base.rss) * 100),
    },
    { benchmark: b, figure: `Node heap used after warm-up ${(base.heap / MiB).toFixed(1)} MiB; growth per fifth`, unit: '%', samples: growth((m) => m.heap) },
    {
      benchmark: b, figure: `interpreters' RSS after warm-up ${(base.pythonRss / MiB).toFixed(1)} MiB; growth per fifth`, unit: '%', samples: growth((m) => m.pythonRss),
      target: { text: '< 2 % at the end (noise)', on: 'value', met: () => finalGrowth((m) => m.pythonRss) < 2 },
    },
  ];
}
