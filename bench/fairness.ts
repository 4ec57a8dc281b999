/**
 * Fairness: 8 concurrent callers, each making 25 sequential fib(20) calls, on a pool of 1. Calls
 * are served in arrival order, so the callers finish close together; a caller that starves
 * finishes far after the others (or first, if it jumps the queue).
 */
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import type { Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';

const CALLERS = 8;
const CALLS = 25;

export async function runFairness(ctx: BenchContext): Promise<Row[]> {
  const pool = await startPool(ctx, { size: 1 });
  await pool.call('functions', 'fib', [20]);
  const spread: number[] = [], firstOverLast: number[] = [], total: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    const t0 = nowMs();
    const caller = async () => {
      for (let i = 0; i < CALLS; i++) {
        if ((await pool.call('functions', 'fib', [20])) !== 6765) throw new Error('fib(20) did not return 6765');
      }
      return nowMs() - t0;
    };
    const done = await Promise.all(Array.from({ length: CALLERS }, caller));
    const first = Math.min(...done), last = Math.max(...done);
    total.push(last);
    spread.push(last - first);
    firstOverLast.push(first / last);
  }
  await ctx.release(pool);
  const b = `fairness: ${CALLERS} callers × ${CALLS} fib(20), pool of 1`;
  return [
    { benchmark: b, figure: 'time until the last caller is done', unit: 'ms', samples: total },
    { benchmark: b, figure: 'spread of completion times (last − first)', unit: 'ms', samples: spread },
    {
      benchmark: b, figure: 'first caller done / last caller done', unit: '', samples: firstOverLast,
      target: { text: '≥ 0.9 (no caller starves)', on: 'value', met: (v) => v >= 0.9 },
    },
  ];
}
