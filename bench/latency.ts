/**
 * Latency of one no-op call (a function returning its argument), sequential: the bare floor
 * (bench/lib/floor.ts) and the pool of 1, one call of each in turn (bench/lib/timing.ts,
 * `interleavedLatencies`), so that both see the same moments of the machine's load; with them,
 * for scale, the floor as it was before issue 22 (msgpack encoding and decoding on both sides).
 */
import type { BenchContext } from './lib/context.js';
import { FloorClient } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { interleavedLatencies, latencies } from './lib/timing.js';

export async function runLatency(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 600 : 4_000;
  const floor = await FloorClient.start(ctx);
  const encoded = await FloorClient.start(ctx, 'msgpack');
  const pool = await startPool(ctx, { size: 1 });
  if ((await pool.call('functions', 'noop', [1])) !== 1) throw new Error('the pool\'s no-op did not return its argument 1');
  if ((await encoded.callEncoded(1)) !== 1) throw new Error('the msgpack floor did not return its argument 1');
  const ops = [() => floor.call(), () => pool.call('functions', 'noop', [1]), () => encoded.callEncoded(1)];
  for (const op of ops) await latencies(op, 300); // warm-up: JIT, socket buffers
  const p50 = ops.map(() => [] as number[]), p99 = ops.map(() => [] as number[]);
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    // The order of the three within a round rotates from trial to trial.
    const order = ops.map((_, i) => (i + trial) % ops.length);
    const samples = await interleavedLatencies(order.map((k) => ops[k]!), calls);
    order.forEach((k, j) => {
      p50[k]!.push(percentile(samples[j]!, 0.5) * 1000);
      p99[k]!.push(percentile(samples[j]!, 0.99) * 1000);
    });
  }
  await ctx.release(pool);
  await ctx.release(encoded);
  await ctx.release(floor);
  const [f50, pool50, old50] = p50 as [number[], number[], number[]];
  const [f99, pool99] = p99 as [number[], number[]];
  const b = 'no-op latency, sequential, one call of each in turn';
  return [
    { benchmark: b, figure: 'floor: bare zeromq REQ ↔ pyzmq REP, bytes made once, p50', unit: 'µs', samples: f50 },
    { benchmark: b, figure: 'floor p99', unit: 'µs', samples: f99 },
    {
      benchmark: b, figure: 'pool of 1, p50', unit: 'µs', samples: pool50,
      ratio: ratioTo('× floor', pool50, f50),
      target: { text: '≤ 1.15× floor', on: 'ratio', met: (r) => r <= 1.15 },
    },
    { benchmark: b, figure: 'pool of 1, p99', unit: 'µs', samples: pool99, ratio: ratioTo('× floor p99', pool99, f99) },
    {
      benchmark: b, figure: 'for scale: the floor before issue 22 (msgpack encode + decode both sides), p50', unit: 'µs', samples: old50,
      ratio: ratioTo('× floor', old50, f50),
    },
  ];
}
