/**
 * Throughput of no-op calls: pools of 1 and 2 at concurrency 1, 2, 8 and 64, against the bare
 * floor (bench/lib/floor.ts) with one socket and with two sockets in lockstep (each socket one
 * call per round trip, each to its own Python process), all in the same trial, in an order that
 * rotates from trial to trial so that no setup always runs first. The pools use the default start
 * method (the fork server on Linux); a pool of 2 made with `startMethod: 'spawn'` runs at
 * concurrency 8 in the same trial, to show that how an interpreter was made does not change what
 * a call costs. For scale, the floor as it was before issue 22 (msgpack on both sides), 2 sockets.
 */
import type { BenchContext } from './lib/context.js';
import { cpuDuring } from './lib/cpu-time.js';
import { FloorClient } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import { throughput } from './lib/timing.js';

const CONCURRENCY = [1, 2, 8, 64] as const;

/** Calls per second of `total` round trips spread over `ops` (one socket each), each strictly sequential. */
async function lockstep(ops: readonly (() => Promise<unknown>)[], total: number): Promise<number> {
  let issued = 0;
  const loop = async (op: () => Promise<unknown>) => {
    while (issued < total) {
      issued++;
      await op();
    }
  };
  const t0 = nowMs();
  await Promise.all(ops.map(loop));
  return (total * 1000) / (nowMs() - t0);
}

export async function runThroughput(ctx: BenchContext): Promise<Row[]> {
  const total = ctx.settings.quick ? 400 : 5_000;
  const floors = [await FloorClient.start(ctx), await FloorClient.start(ctx)];
  const encoded = [await FloorClient.start(ctx, 'msgpack'), await FloorClient.start(ctx, 'msgpack')];
  const pools = { 1: await startPool(ctx, { size: 1 }), 2: await startPool(ctx, { size: 2 }) };
  const spawned = await startPool(ctx, { size: 2, startMethod: 'spawn' });
  const floorOps = floors.map((f) => () => f.call());
  const encodedOps = encoded.map((f) => () => f.callEncoded(1));

  // Each setup is a unit of one trial; the units run in a rotated order.
  const units = new Map<string, () => Promise<number>>([
    ['floor1', () => lockstep(floorOps.slice(0, 1), total)],
    ['floor2', () => lockstep(floorOps, total)],
    ['encoded2', () => lockstep(encodedOps, total)],
    ...([1, 2] as const).flatMap((size) => CONCURRENCY.map((c): [string, () => Promise<number>] =>
      [`${size}:${c}`, () => throughput(() => pools[size].call('functions', 'noop', [1]), total, c)])),
    ['spawned8', () => throughput(() => spawned.call('functions', 'noop', [1]), total, 8)],
  ]);
  const names = [...units.keys()];
  for (const run of units.values()) await run(); // warm-up
  const rates = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + trial * 5) % names.length]!;
      rates.get(name)!.push(await units.get(name)!());
    }
  }
  // CPU per call, Node (all threads) and Python, for the two setups the target compares: what
  // bounds the rate on a machine whose 2 cores both sides share.
  const cpu = { floor: { node: [] as number[], python: [] as number[] }, pool: { node: [] as number[], python: [] as number[] } };
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    const f = await cpuDuring(floors.map((x) => x.pid!), () => lockstep(floorOps, total));
    cpu.floor.node.push((f.node / total) * 1e6);
    cpu.floor.python.push((f.python / total) * 1e6);
    const p = await cpuDuring(pools[2].interpreters().map((i) => i.pid), () => throughput(() => pools[2].call('functions', 'noop', [1]), total, 8));
    cpu.pool.node.push((p.node / total) * 1e6);
    cpu.pool.python.push((p.python / total) * 1e6);
  }
  for (const p of [...Object.values(pools), spawned]) await ctx.release(p);
  for (const f of [...floors, ...encoded]) await ctx.release(f);

  const floor1 = rates.get('floor1')!, floor2 = rates.get('floor2')!;
  const b = 'no-op throughput';
  const rows: Row[] = [
    { benchmark: b, figure: 'floor, 1 socket', unit: 'calls/s', samples: floor1 },
    { benchmark: b, figure: 'floor, 2 sockets in lockstep', unit: 'calls/s', samples: floor2 },
  ];
  for (const size of [1, 2] as const) {
    const base = size === 1 ? floor1 : floor2;
    for (const c of CONCURRENCY) {
      const samples = rates.get(`${size}:${c}`)!;
      const row: Row = {
        benchmark: b, figure: `pool of ${size}, concurrency ${c}`, unit: 'calls/s', samples,
        ratio: ratioTo(size === 1 ? '× floor 1 socket' : '× floor 2 sockets', samples, base),
      };
      if (size === 2 && c === 8) row.target = { text: '≥ 1.5× floor 2 sockets', on: 'ratio', met: (r) => r >= 1.5 };
      rows.push(row);
    }
  }
  const spawned8 = rates.get('spawned8')!;
  rows.push({
    benchmark: b, figure: "pool of 2, concurrency 8, startMethod 'spawn'", unit: 'calls/s', samples: spawned8,
    ratio: ratioTo('× the default start method’s', spawned8, rates.get('2:8')!),
  });
  const encoded2 = rates.get('encoded2')!;
  rows.push({
    benchmark: b, figure: 'for scale: the floor before issue 22 (msgpack encode + decode both sides), 2 sockets in lockstep', unit: 'calls/s', samples: encoded2,
    ratio: ratioTo('× floor 2 sockets', encoded2, floor2),
  });
  rows.push(
    { benchmark: b, figure: 'CPU per call, floor 2 sockets: Node process (all threads)', unit: 'µs', samples: cpu.floor.node },
    { benchmark: b, figure: 'CPU per call, floor 2 sockets: Python processes', unit: 'µs', samples: cpu.floor.python },
    { benchmark: b, figure: 'CPU per call, pool of 2 at concurrency 8: Node process (all threads)', unit: 'µs', samples: cpu.pool.node },
    { benchmark: b, figure: 'CPU per call, pool of 2 at concurrency 8: interpreters', unit: 'µs', samples: cpu.pool.python },
  );
  return rows;
}
