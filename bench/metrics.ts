/**
 * What the Prometheus exporter costs per call. With `poolMetrics` attached, every call is traced
 * through the `piton:pool:call` tracing channel (a context object, a traced promise, four
 * publishes) and counted in two histogram series; without it, the channel has no subscriber and
 * a call pays five flag checks. Scrapes cost nothing per call (counters and gauges are read from
 * `stats()` when scraped) and are not part of this.
 *
 * Two measures. In-process: the exporter's own work per call (what `PoolHandle.call` adds when
 * traced, with the exporter's subscriber counting), timed in alternating blocks against a plain
 * awaited call, so it is precise to a fraction of a µs. End to end, for scale: the same pools with
 * the exporter closed and attached, alternating which goes first, in the same trial: sequential
 * no-op latency on a pool of 1, and throughput with Node's CPU per call on a pool of 2 at
 * concurrency 8 (the throughput target's setup). These move by more than the exporter's cost
 * from one block to the next on a shared machine, so they carry ratios, not targets.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { Registry } from 'prom-client';
import { CALL_CHANNEL, type CallTraceContext, type PythonPool } from '@piton/python-bridge';
import type { BenchContext } from './lib/context.js';
import { ownCpuSeconds } from './lib/cpu-time.js';
import { startPool } from './lib/pool.js';
import type { Row } from './lib/report.js';
import { nowMs, percentile, summarize } from './lib/stats.js';
import { latencies, throughput } from './lib/timing.js';

/** Runs `work` with an exporter attached to `pools`, then detaches it. */
async function withMetrics<T>(pools: PythonPool[], work: () => Promise<T>): Promise<T> {
  const { poolMetrics } = await import('@piton/python-bridge/metrics');
  const metrics = poolMetrics(pools, { registry: new Registry() });
  try {
    return await work();
  } finally {
    metrics.close();
  }
}

/**
 * µs the exporter adds to one call, in-process: a traced call whose settlement fills in its
 * timings (as the dispatcher does), counted by the exporter of `pool`, against a plain awaited
 * call; median over alternating blocks.
 */
async function exporterWorkPerCall(pool: PythonPool, blocks: number): Promise<number> {
  const channel = tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);
  const args = [1];
  const perBlock = 20_000;
  const plain = async () => {
    const t0 = nowMs();
    for (let i = 0; i < perBlock; i++) await Promise.resolve(1);
    return ((nowMs() - t0) * 1000) / perBlock;
  };
  const traced = async () => {
    const t0 = nowMs();
    for (let i = 0; i < perBlock; i++) {
      const context: CallTraceContext = { pool: pool.path, module: 'functions', fn: 'noop', args, kwargs: undefined };
      await channel.tracePromise(() => {
        context.outcome = 'ok';
        context.waitMs = 0.01;
        context.runMs = 0.1;
        return Promise.resolve(1);
      }, context);
    }
    return ((nowMs() - t0) * 1000) / perBlock;
  };
  return withMetrics([pool], async () => {
    await plain();
    await traced();
    const differences: number[] = [];
    for (let b = 0; b < blocks; b++) {
      if (b % 2 === 0) differences.push(-(await plain()) + (await traced()));
      else differences.push((await traced()) - (await plain()));
    }
    return summarize(differences).median;
  });
}

export async function runMetrics(ctx: BenchContext): Promise<Row[]> {
  if (ctx.settings.metrics) {
    // Every pool of the run has an exporter then, so no call here could go untraced.
    ctx.log('metrics: skipped under --metrics: it compares pools with and without the exporter');
    return [];
  }
  const calls = ctx.settings.quick ? 600 : 4_000;
  const total = ctx.settings.quick ? 2_000 : 10_000;
  const one = await startPool(ctx, { size: 1 });
  const work: number[] = [];
  const two = await startPool(ctx, { size: 2 });
  const pools = [one, two];
  const noop = (pool: PythonPool) => () => pool.call('functions', 'noop', [1]);
  for (const pool of pools) {
    await latencies(noop(pool), 300);
    await withMetrics(pools, () => latencies(noop(pool), 300));
  }

  const latency = { off: [] as number[], on: [] as number[] };
  const rate = { off: [] as number[], on: [] as number[] };
  const cpu = { off: [] as number[], on: [] as number[] };
  const measure = async (mode: 'off' | 'on') => {
    const run = async () => {
      latency[mode].push(percentile(await latencies(noop(one), calls), 0.5) * 1000);
      const cpu0 = ownCpuSeconds();
      rate[mode].push(await throughput(noop(two), total, 8));
      cpu[mode].push(((ownCpuSeconds() - cpu0) * 1e6) / total);
    };
    if (mode === 'on') await withMetrics(pools, run);
    else await run();
  };
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    const order: ('off' | 'on')[] = trial % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const mode of order) await measure(mode);
    work.push(await exporterWorkPerCall(one, 11));
  }
  await ctx.release(one);
  await ctx.release(two);

  const b = 'metrics: poolMetrics attached vs not';
  const ratio = (on: number[], off: number[]) => on.map((v, i) => v / off[i]!);
  return [
    {
      benchmark: b, figure: "the exporter's work per call (in-process, traced vs plain)", unit: 'µs', samples: work,
      // A traced promise and four publishes (~0.1 µs) and two bucket counts (prom-client's own
      // observe() would add ~0.6 µs each): well under 1 µs, against a round trip of 50–200 µs.
      target: { text: '≤ 1 µs', on: 'value', met: (v) => v <= 1 },
    },
    { benchmark: b, figure: 'no-op p50, pool of 1, without metrics', unit: 'µs', samples: latency.off },
    {
      benchmark: b, figure: 'no-op p50, pool of 1, with metrics', unit: 'µs', samples: latency.on,
      ratio: { label: '× without', samples: ratio(latency.on, latency.off) },
    },
    { benchmark: b, figure: 'pool of 2, concurrency 8, without metrics', unit: 'calls/s', samples: rate.off },
    {
      benchmark: b, figure: 'pool of 2, concurrency 8, with metrics', unit: 'calls/s', samples: rate.on,
      ratio: { label: '× without', samples: ratio(rate.on, rate.off) },
    },
    { benchmark: b, figure: 'Node CPU per call, without metrics', unit: 'µs', samples: cpu.off },
    {
      benchmark: b, figure: 'Node CPU per call, with metrics', unit: 'µs', samples: cpu.on,
      ratio: { label: '× without', samples: ratio(cpu.on, cpu.off) },
    },
  ];
}
