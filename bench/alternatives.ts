/**
 * What users would pick instead, in the same trial as the pool of 1 and the floor: python-shell
 * (JSON lines over stdio) for the no-op and for fib(20), and a plain stdio pipe with
 * length-prefixed MessagePack for scale.
 */
import { PipeClient, ShellClient } from './lib/alternatives.js';
import type { BenchContext } from './lib/context.js';
import { FloorClient } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { percentile, summarize } from './lib/stats.js';
import { latencies } from './lib/timing.js';

export async function runAlternatives(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 1_000 : 3_000;
  const fibCalls = ctx.settings.quick ? 30 : 100;
  const pool = await startPool(ctx, { size: 1 });
  const floor = await FloorClient.start(ctx);
  const shell = ctx.own(new ShellClient(ctx));
  await shell.ready();
  const pipe = await PipeClient.start(ctx);

  const noops = {
    pool: () => pool.call('functions', 'noop', [1]),
    shell: () => shell.call('noop', [1]),
    floor: () => floor.call(), // rejects unless the reply is the expected bytes
    pipe: () => pipe.call(1),
  };
  const fibs = {
    pool: () => pool.call('functions', 'fib', [20]),
    shell: () => shell.call('fib', [20]),
  };
  for (const [name, op] of Object.entries(noops)) {
    if (name !== 'floor' && (await op()) !== 1) throw new Error(`${name}: the no-op did not return its argument`);
    await latencies(op, 200);
  }
  for (const [name, op] of Object.entries(fibs)) {
    if ((await op()) !== 6765) throw new Error(`${name}: fib(20) did not return 6765`);
  }
  const p50 = { pool: [] as number[], shell: [] as number[], floor: [] as number[], pipe: [] as number[] };
  const fib = { pool: [] as number[], shell: [] as number[] };
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    for (const name of ['pool', 'shell', 'floor', 'pipe'] as const) {
      p50[name].push(percentile(await latencies(noops[name], calls), 0.5) * 1000);
    }
    for (const name of ['pool', 'shell'] as const) {
      fib[name].push(summarize([...await latencies(fibs[name], fibCalls)]).median);
    }
  }
  for (const s of [pool, floor, shell, pipe]) await ctx.release(s);

  const b = 'alternatives, sequential';
  return [
    { benchmark: b, figure: 'pool of 1, no-op p50', unit: 'µs', samples: p50.pool },
    { benchmark: b, figure: 'python-shell (JSON lines), no-op p50', unit: 'µs', samples: p50.shell, ratio: ratioTo('× pool', p50.shell, p50.pool) },
    { benchmark: b, figure: 'pool of 1, fib(20) per call', unit: 'ms', samples: fib.pool },
    { benchmark: b, figure: 'python-shell, fib(20) per call', unit: 'ms', samples: fib.shell, ratio: ratioTo('× pool', fib.shell, fib.pool) },
    { benchmark: b, figure: 'floor (bare ZeroMQ), no-op p50', unit: 'µs', samples: p50.floor },
    { benchmark: b, figure: 'stdio pipe, length-prefixed MessagePack, no-op p50', unit: 'µs', samples: p50.pipe, ratio: ratioTo('× floor', p50.pipe, p50.floor) },
  ];
}
