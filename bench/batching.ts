/**
 * Dynamic batching alone: 1,000 concurrent single-row predict calls (the http-service example's
 * scikit-learn model) on a pool of 2, through a `@piton.batched` function and through a plain one
 * that runs one predict() per call. The two alternate within each trial; each is warmed (and the
 * batched one taught its policy) before timing. A trial times BURSTS bursts back to back: one
 * batched burst takes ~15 ms, short enough for one scheduling hiccup or collection to move a
 * single burst's figure by 2× (single bursts gave 3.1–9.4× in one run).
 */
import type { PythonPool } from '@piton/python-bridge';
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import type { Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';

const CALLS = 1_000;
const BURSTS = 5;

export async function runBatching(ctx: BenchContext): Promise<Row[]> {
  const { ndarray } = await import('@piton/python-bridge');
  const pool: PythonPool = await startPool(ctx, { size: 2, preload: ['batch_model'], startTimeout: 120_000 });
  const row = () => ndarray(Float64Array.from([5.1 + Math.random(), 3.5, 1.4, 0.2]), [1, 4]);
  const burst = async (fn: string, bursts = BURSTS): Promise<number> => {
    const t0 = nowMs();
    for (let b = 0; b < bursts; b++) {
      const out = await Promise.all(Array.from({ length: CALLS }, () => pool.call<string[]>('batch_model', fn, [row()])));
      if (out.length !== CALLS || out.some((labels) => labels.length !== 1)) throw new Error(`${fn}: a call did not get its one label`);
    }
    return (CALLS * bursts) / ((nowMs() - t0) / 1000);
  };
  await burst('predict_one', 1);
  await burst('predict', 1); // the first reply tells the pool it is batched
  await burst('predict', 1);
  const plain: number[] = [];
  const batched: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    if (trial % 2 === 0) {
      plain.push(await burst('predict_one'));
      batched.push(await burst('predict'));
    } else {
      batched.push(await burst('predict'));
      plain.push(await burst('predict_one'));
    }
  }
  await ctx.release(pool);
  const b = `batching: 1,000 concurrent single-row predicts (${BURSTS} bursts a trial), pool of 2`;
  return [
    { benchmark: b, figure: 'one predict() per call', unit: 'calls/s', samples: plain },
    {
      benchmark: b, figure: '@piton.batched(max_size=64, max_wait_ms=2)', unit: 'calls/s', samples: batched,
      ratio: { label: '× one per call', samples: batched.map((v, i) => v / plain[i]!) },
      target: { text: '≥ 5×', on: 'ratio', met: (r) => r >= 5 },
    },
  ];
}
