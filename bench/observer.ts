/**
 * The observer's cost per call: no-op throughput of a pool of 2 at concurrency 8 with no
 * observer, with an observer that nobody watches (its only work is copying events into a ring),
 * and with one page open (an SSE client; tree and stats sampled every 100 ms, five times the
 * default rate), all in the same trial.
 */
import { request } from 'node:http';
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import { throughput } from './lib/timing.js';

/** Opens the page's event stream, as a browser would; resolves once the first snapshot arrived. */
function watch(url: string): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('api/events', url), (res) => {
      res.setEncoding('utf8');
      let seen = '';
      const onData = (chunk: string) => {
        seen += chunk;
        if (seen.includes('event: snapshot')) {
          res.off('data', onData);
          res.resume();
          resolve({ close: () => req.destroy() });
        }
      };
      res.on('data', onData);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function runObserver(ctx: BenchContext): Promise<Row[]> {
  const { startObserver } = await import('@piton/observer');
  // Each trial alternates short blocks of the three setups many times and sums each setup's
  // blocks, so that the machine's drift over a trial (other work, frequency) falls on all three
  // alike: whole runs one after another moved by ±15 % between setups that differ by nothing.
  const block = ctx.settings.quick ? 500 : 2_000;
  const rounds = ctx.settings.quick ? 2 : 6;
  const pool = await startPool(ctx, { size: 2 });
  const call = () => pool.call('functions', 'noop', [1]);
  await throughput(call, 1_000, 8);
  const none: number[] = [], idle: number[] = [], watched: number[] = [];
  const timed = async (ms: number[], i: number) => {
    const t0 = nowMs();
    await throughput(call, block, 8);
    ms[i] = (ms[i] ?? 0) + (nowMs() - t0);
  };
  const noneMs: number[] = [], idleMs: number[] = [], watchedMs: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    for (let round = 0; round < rounds; round++) {
      // Alternate the order within the trial too, so that no setup always runs first.
      const forward = round % 2 === 0;
      if (forward) await timed(noneMs, trial);
      const observer = await startObserver(pool.system, { sampleInterval: 100 });
      if (forward) await timed(idleMs, trial);
      const page = await watch(observer.url);
      await timed(watchedMs, trial);
      page.close();
      if (!forward) await timed(idleMs, trial);
      await observer.close();
      if (!forward) await timed(noneMs, trial);
    }
    const calls = block * rounds;
    none.push((calls * 1000) / noneMs[trial]!);
    idle.push((calls * 1000) / idleMs[trial]!);
    watched.push((calls * 1000) / watchedMs[trial]!);
  }
  await ctx.release(pool);
  const b = 'observer';
  const ratio = (samples: number[]) => (ratioTo('× no observer', samples, none));
  return [
    { benchmark: b, figure: 'pool of 2, concurrency 8, no observer', unit: 'calls/s', samples: none },
    {
      benchmark: b, figure: 'observer started, no page open', unit: 'calls/s', samples: idle, ratio: ratio(idle),
      target: { text: '≥ 0.97× no observer', on: 'ratio', met: (r) => r >= 0.97 },
    },
    {
      benchmark: b, figure: 'one page open, sampled every 100 ms', unit: 'calls/s', samples: watched, ratio: ratio(watched),
      note: 'five times the default sampling rate',
    },
  ];
}
