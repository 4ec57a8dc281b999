/**
 * Latency of one no-op call (a function returning its argument), sequential: the bare floor and
 * the pool of 1, in the same trial, alternating which goes first.
 */
import type { BenchContext } from './lib/context.js';
import { FloorClient } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { latencies } from './lib/timing.js';

export async function runLatency(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 600 : 4_000;
  const floor = await FloorClient.start(ctx);
  const pool = await startPool(ctx, { size: 1 });
  const floorCall = () => floor.call(1);
  const poolCall = () => pool.call('functions', 'noop', [1]);
  for (const op of [floorCall, poolCall]) {
    const r = await op();
    if (r !== 1) throw new Error(`no-op returned ${String(r)}, not its argument 1`);
    await latencies(op, 300); // warm-up: JIT, socket buffers
  }
  const f50: number[] = [], f99: number[] = [], p50: number[] = [], p99: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    let f: Float64Array, p: Float64Array;
    if (trial % 2 === 0) { f = await latencies(floorCall, calls); p = await latencies(poolCall, calls); }
    else { p = await latencies(poolCall, calls); f = await latencies(floorCall, calls); }
    f50.push(percentile(f, 0.5) * 1000); f99.push(percentile(f, 0.99) * 1000);
    p50.push(percentile(p, 0.5) * 1000); p99.push(percentile(p, 0.99) * 1000);
  }
  await ctx.release(pool);
  await ctx.release(floor);
  const b = 'no-op latency, sequential';
  return [
    { benchmark: b, figure: 'floor: bare zeromq REQ ↔ pyzmq REP, p50', unit: 'µs', samples: f50 },
    { benchmark: b, figure: 'floor p99', unit: 'µs', samples: f99 },
    {
      benchmark: b, figure: 'pool of 1, p50', unit: 'µs', samples: p50,
      ratio: ratioTo('× floor', p50, f50),
      target: { text: '≤ 1.15× floor', on: 'ratio', met: (r) => r <= 1.15 },
    },
    { benchmark: b, figure: 'pool of 1, p99', unit: 'µs', samples: p99, ratio: ratioTo('× floor p99', p99, f99) },
  ];
}
