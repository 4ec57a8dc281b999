/**
 * Calling back into Node: what a callback round trip (`node.call` of a no-op) and a progress
 * message cost, against a call round trip, in the same trial on a pool of 1; and what
 * `progress()` costs when no one listens (the promise: nothing).
 *
 * A call that calls back `n` times, or reports progress `n` times, takes one call round trip plus
 * `n` of the other kind, so each costs (its time − the no-op call's p50) / n.
 */
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { latencies } from './lib/timing.js';

const PER_CALL = 100;

export async function runCallbacks(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 300 : 2_000;
  const rounds = ctx.settings.quick ? 10 : 40;
  let progressSeen = 0;
  const pool = await startPool(ctx, { size: 1, expose: { noop: (x: unknown) => x } });
  const noop = () => pool.call('functions', 'noop', [1]);
  const callBack = () => pool.call('functions', 'call_back', [PER_CALL]);
  const listened = () => pool.call('functions', 'report', [PER_CALL], { onProgress: () => void progressSeen++ });
  const check = async (op: () => Promise<unknown>, expected: unknown, what: string) => {
    const r = await op();
    if (r !== expected) throw new Error(`${what} returned ${String(r)}, not ${String(expected)}`);
  };
  await check(noop, 1, 'noop');
  await check(callBack, PER_CALL, 'call_back');
  await check(listened, PER_CALL, 'report');
  if (progressSeen !== PER_CALL) throw new Error(`onProgress saw ${progressSeen} values, not ${PER_CALL}`);
  for (const op of [noop, callBack, listened]) await latencies(op, 20); // warm-up

  const call50: number[] = [], callback: number[] = [], progress: number[] = [], silent: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    const n = percentile(await latencies(noop, calls), 0.5);
    const c = percentile(await latencies(callBack, rounds), 0.5);
    const p = percentile(await latencies(listened, rounds), 0.5);
    call50.push(n * 1000);
    callback.push(((c - n) / PER_CALL) * 1000);
    progress.push(((p - n) / PER_CALL) * 1000);
    silent.push(await pool.call<number>('functions', 'silent_progress_ns', [100_000]));
  }
  await ctx.release(pool);
  const b = 'calling back into Node, pool of 1';
  return [
    { benchmark: b, figure: 'call round trip (no-op), p50', unit: 'µs', samples: call50 },
    {
      benchmark: b, figure: 'callback round trip (node.call of a no-op)', unit: 'µs', samples: callback,
      ratio: ratioTo('× call', callback, call50),
      // A callback is one round trip the other way round, plus a JavaScript function call.
      target: { text: '≤ 1.5× call', on: 'ratio', met: (r) => r <= 1.5 },
    },
    {
      benchmark: b, figure: 'progress message, with onProgress', unit: 'µs', samples: progress,
      ratio: ratioTo('× call', progress, call50),
      target: { text: '≤ 1.5× call', on: 'ratio', met: (r) => r <= 1.5 },
    },
    {
      benchmark: b, figure: 'progress() without onProgress', unit: 'ns', samples: silent,
      // Nothing crosses the wire: the cost of a Python function call that checks one flag.
      target: { text: '< 1 µs', on: 'value', met: (v) => v < 1_000 },
    },
  ];
}
