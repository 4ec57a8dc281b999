/**
 * Round trips of a Float64Array through a Python function returning its argument (numpy on the
 * Python side): the pool of 1 against the floor (array bytes as a raw second frame, sent back as
 * they came), same trial.
 */
import type { BenchContext } from './lib/context.js';
import { FloorClient } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';

const MiB = 1024 * 1024;

/** MB/s (array bytes per second of round trip) of `reps` sequential round trips of `array`. */
async function rate(echo: (a: Float64Array) => Promise<unknown>, array: Float64Array, reps: number): Promise<number> {
  const t0 = nowMs();
  for (let i = 0; i < reps; i++) {
    const back = await echo(array);
    if (!(back instanceof Float64Array) || back.length !== array.length || back[array.length - 1] !== array[array.length - 1]) {
      throw new Error(`the ${array.byteLength}-byte array did not come back intact`);
    }
  }
  return (array.byteLength * reps) / ((nowMs() - t0) * 1000);
}

export async function runData(ctx: BenchContext): Promise<Row[]> {
  const floor = await FloorClient.start(ctx, 'array');
  const pool = await startPool(ctx, { size: 1 });
  const floorEcho = (a: Float64Array) => floor.echoArray(a);
  const poolEcho = (a: Float64Array) => pool.call('functions', 'echo', [a]);
  const rows: Row[] = [];
  for (const mib of [1, 64]) {
    const array = new Float64Array((mib * MiB) / 8);
    for (let i = 0; i < array.length; i++) array[i] = i * 0.5;
    const reps = mib === 1 ? (ctx.settings.quick ? 20 : 100) : (ctx.settings.quick ? 2 : 6);
    await rate(floorEcho, array, 2);
    await rate(poolEcho, array, 2);
    const f: number[] = [], p: number[] = [];
    for (let trial = 0; trial < ctx.settings.trials; trial++) {
      if (trial % 2 === 0) { f.push(await rate(floorEcho, array, reps)); p.push(await rate(poolEcho, array, reps)); }
      else { p.push(await rate(poolEcho, array, reps)); f.push(await rate(floorEcho, array, reps)); }
    }
    const b = `Float64Array round trip, ${mib} MiB`;
    rows.push({ benchmark: b, figure: 'floor: bytes as a second frame', unit: 'MB/s', samples: f });
    const row: Row = { benchmark: b, figure: 'pool of 1, numpy echo', unit: 'MB/s', samples: p, ratio: ratioTo('× floor', p, f) };
    if (mib === 64) row.target = { text: '≥ 0.8× floor', on: 'ratio', met: (r) => r >= 0.8 };
    rows.push(row);
  }
  await ctx.release(pool);
  await ctx.release(floor);
  return rows;
}
