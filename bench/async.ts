/**
 * `async def` and `concurrency` (issue 20), four comparisons, each with its setups alternating
 * within every trial (the order rotates from trial to trial) and its ratios taken trial by trial:
 *
 * 1. Waiting: 1,000 calls of `await asyncio.sleep(0.1)` on a pool of 2 with `concurrency: 500`,
 *    against the floor (`asyncio.gather` of the same 1,000 coroutines in one plain Python
 *    process, bench/python/asyncio_floor.py) and against the same pool with `concurrency: 1`. The
 *    latter would take 50 s per trial: it makes 20 calls and its time is scaled to
 *    1,000 (its calls run strictly two at a time, so the time is linear in the count).
 * 2. Real I/O: 1,000 GETs from Python (`aiohttp.ClientSession`) to a local Node HTTP server (its
 *    own process) answering after 20 ms, pool of 1 at `concurrency: 100` against `concurrency: 1`
 *    (which makes 100 calls, its rate being the same for any count), and against the same GETs
 *    100 at once in plain Python. The same with `httpx.AsyncClient`, on fewer calls: httpx's own
 *    rate at 100 connections at once is a small fraction of aiohttp's (its floor row says so).
 * 3. No-op round trips on a pool of 1 at the default concurrency: `async def` against a sync
 *    function, and the sync no-op against today's pool (the bridge of `main`, built by
 *    lib/baseline.ts), each pair's calls interleaved one by one, the two pairs taking turns;
 *    throughput of a pool of 2 at 8 callers against today's in alternating blocks. Each build
 *    against today's runs in a Node process of its own (lib/noop-child.ts).
 *    `PITON_BENCH_BASELINE=HEAD` compares the checkout with itself: its rows should say 1.00×.
 * 4. 50 calls in flight on one interpreter (each has told Node it started), SIGKILL: time from the
 *    kill to the last of the 50 rejections, each a `WorkerExitedError`.
 */
import { join } from 'node:path';
import type { PythonPool } from '@piton/python-bridge';
import { loadBaseline } from './lib/baseline.js';
import { LineChild } from './lib/line-child.js';
import { BENCH_DIR, exited, firstLine, PY_DIR, ROOT, type BenchContext } from './lib/context.js';
import { startPool, until } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs, percentile } from './lib/stats.js';
import { interleavedLatencies, throughput } from './lib/timing.js';

const SLEEPS = 1_000;
const SLEEP_S = 0.1;
const GETS = 1_000;
const GET_DELAY_MS = 20;
const IN_FLIGHT_KILLED = 50;

/** Runs each of `setups` once, in an order that rotates with `trial`. */
async function rotated(trial: number, setups: readonly (() => Promise<void>)[]): Promise<void> {
  for (let j = 0; j < setups.length; j++) await setups[(trial + j) % setups.length]!();
}

/** Wall time in ms of `count` calls of `fn(...args)` made at once; each must return `expected`. */
async function burstMs(pool: PythonPool, fn: string, args: unknown[], count: number, expected: (r: unknown) => boolean): Promise<number> {
  const t0 = nowMs();
  const results = await Promise.all(Array.from({ length: count }, () => pool.call('coroutines', fn, args)));
  const ms = nowMs() - t0;
  if (!results.every(expected)) throw new Error(`coroutines.${fn}: a call returned something else`);
  return ms;
}

/** bench/python/asyncio_floor.py, kept running: each request is answered with a time in ms. */
class AsyncioFloor {
  private constructor(readonly lines: LineChild) {}

  static async start(ctx: BenchContext): Promise<AsyncioFloor> {
    return ctx.own(new AsyncioFloor(await LineChild.start(ctx.spawnPython('asyncio_floor.py'), 'asyncio_floor.py')));
  }

  async ms(request: string): Promise<number> {
    return Number(await this.lines.ask(request));
  }

  stop(): Promise<void> {
    return this.lines.stop();
  }
}

async function waiting(ctx: BenchContext, floor: AsyncioFloor): Promise<Row[]> {
  const serial = ctx.settings.quick ? 10 : 20;
  const wide = await startPool(ctx, { size: 2, concurrency: 500 });
  const narrow = await startPool(ctx, { size: 2, concurrency: 1 });
  const floorMs = () => floor.ms(`sleep ${SLEEPS} ${SLEEP_S}`);
  const slept = (r: unknown) => r === SLEEP_S;
  await burstMs(wide, 'sleep', [0], SLEEPS, (r) => r === 0); // warm-up: 500 lanes on each
  await burstMs(narrow, 'sleep', [0], 20, (r) => r === 0);
  await floorMs();
  const floorTimes: number[] = [], wideMs: number[] = [], narrowMs: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    await rotated(trial, [
      async () => void floorTimes.push(await floorMs()),
      async () => void wideMs.push(await burstMs(wide, 'sleep', [SLEEP_S], SLEEPS, slept)),
      async () => void narrowMs.push(((await burstMs(narrow, 'sleep', [SLEEP_S], serial, slept)) * SLEEPS) / serial),
    ]);
  }
  await ctx.release(wide);
  await ctx.release(narrow);
  const b = `async: ${SLEEPS.toLocaleString('en-US')} × await asyncio.sleep(${SLEEP_S})`;
  return [
    { benchmark: b, figure: 'floor: asyncio.gather in one plain Python process', unit: 'ms', samples: floorTimes },
    {
      benchmark: b, figure: 'pool of 2, concurrency 500', unit: 'ms', samples: wideMs,
      ratio: ratioTo('× floor', wideMs, floorTimes),
      target: { text: '≤ 2× floor', on: 'ratio', met: (r) => r <= 2 },
    },
    {
      benchmark: b, figure: `pool of 2, concurrency 1 (${serial} calls, time × ${SLEEPS / serial})`, unit: 'ms', samples: narrowMs,
      ratio: { label: '× faster at concurrency 500', samples: narrowMs.map((v, i) => v / wideMs[i]!) },
      target: { text: '≥ 100× faster at concurrency 500', on: 'ratio', met: (r) => r >= 100 },
    },
  ];
}

/**
 * GETs with one HTTP client: the pool of 1 at concurrency 100 and 1, and the plain-Python floor at
 * the same 100 at once; `target` on the ratio of the two pools, if given.
 */
async function gets(ctx: BenchContext, floor: AsyncioFloor, url: string, client: 'aiohttp' | 'httpx', count: number, serial: number, target: boolean): Promise<Row[]> {
  const fn = `${client}_get`;
  const wide = await startPool(ctx, { size: 1, concurrency: 100 });
  const narrow = await startPool(ctx, { size: 1, concurrency: 1 });
  const answered = (r: unknown) => Array.isArray(r) && r[0] === 200 && r[1] === 'ok';
  const rate = async (pool: PythonPool, n: number) => (n * 1000) / (await burstMs(pool, fn, [url], n, answered));
  const floorRate = async () => (count * 1000) / (await floor.ms(`get ${client} ${count} 100 ${url}`));
  await rate(wide, 100); // warm-up: the client made and its connections open
  await rate(narrow, 5);
  const wideRate: number[] = [], narrowRate: number[] = [], floorRates: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    await rotated(trial, [
      async () => void floorRates.push(await floorRate()),
      async () => void wideRate.push(await rate(wide, count)),
      async () => void narrowRate.push(await rate(narrow, serial)),
    ]);
  }
  await ctx.release(wide);
  await ctx.release(narrow);
  const b = `async: ${count.toLocaleString('en-US')} ${client} GETs to a local server answering after ${GET_DELAY_MS} ms`;
  const wideRow: Row = {
    benchmark: b, figure: 'pool of 1, concurrency 100', unit: 'calls/s', samples: wideRate,
    ratio: ratioTo('× concurrency 1', wideRate, narrowRate),
  };
  if (target) wideRow.target = { text: '≥ 30× concurrency 1', on: 'ratio', met: (r) => r >= 30 };
  return [
    { benchmark: b, figure: `floor: the same ${count} GETs, 100 at once, in one plain Python process`, unit: 'calls/s', samples: floorRates },
    { benchmark: b, figure: `pool of 1, concurrency 1 (${serial} calls)`, unit: 'calls/s', samples: narrowRate },
    wideRow,
    { benchmark: b, figure: 'pool of 1, concurrency 100, against the floor', unit: 'calls/s', samples: wideRate, ratio: ratioTo('× floor', wideRate, floorRates) },
  ];
}

async function realIo(ctx: BenchContext, floor: AsyncioFloor): Promise<Row[]> {
  const server = ctx.spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'lib', 'slow-http-server.ts'), '--delay', String(GET_DELAY_MS)]);
  const url = `http://127.0.0.1:${Number(await firstLine(server, 'slow-http-server.ts'))}/`;
  const quick = ctx.settings.quick;
  const rows = [
    ...(await gets(ctx, floor, url, 'aiohttp', GETS, quick ? 50 : 100, true)),
    // httpx's own ceiling at 100 connections at once is some 100 GETs/s here (its floor row):
    // fewer calls keep the trial short.
    ...(await gets(ctx, floor, url, 'httpx', quick ? 100 : 200, quick ? 25 : 50, false)),
  ];
  server.stdin!.end();
  await exited(server);
  return rows;
}

/** One build's no-op pools in a Node process of their own (lib/noop-child.ts). */
class NoopChild {
  private constructor(readonly lines: LineChild) {}

  static async start(ctx: BenchContext, entry: string): Promise<NoopChild> {
    const child = ctx.spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'lib', 'noop-child.ts'), entry, ctx.python, PY_DIR]);
    return ctx.own(new NoopChild(await LineChild.start(child, 'noop-child.ts')));
  }

  /** One no-op call on its pool of 1: the time in ms, as the child measured it. */
  async call(): Promise<number> {
    return Number(await this.lines.ask('call'));
  }

  /** `count` no-op calls with `callers` callers on its pool of 2: the time in ms. */
  async block(count: number, callers: number): Promise<number> {
    return Number(await this.lines.ask(`block ${count} ${callers}`));
  }

  async stop(): Promise<void> {
    await this.lines.ask('stop');
    await this.lines.stop();
  }
}

async function noOps(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 600 : 3_000;
  const blocks = ctx.settings.quick ? 8 : 40; // short blocks, alternating: both pools see the same moments of the load
  const blockCalls = 500;
  const baseline = await loadBaseline(ctx);
  const pool = await startPool(ctx, { size: 1 });
  const syncNoop = () => pool.call('functions', 'noop', [1]);
  const asyncNoop = () => pool.call('coroutines', 'noop', [1]);
  for (const op of [syncNoop, asyncNoop]) {
    if ((await op()) !== 1) throw new Error('a no-op did not return its argument');
  }
  // This build against today's: each in a Node process of its own that makes only these calls
  // (lib/noop-child.ts says why), one call of each in turn, the order alternating.
  const builds = [
    await NoopChild.start(ctx, join(ROOT, 'packages', 'python-bridge', 'dist', 'index.js')),
    await NoopChild.start(ctx, baseline.entry),
  ];
  const alternating = async (count: number): Promise<Float64Array[]> => {
    const out = builds.map(() => new Float64Array(count));
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < builds.length; j++) {
        const k = (i + j) % builds.length;
        out[k]![i] = await builds[k]!.call();
      }
    }
    return out;
  };
  // The sync and async no-ops of one pool: a pair, each following its own kind as often as the other.
  const asyncPair = [syncNoop, asyncNoop];
  await interleavedLatencies(asyncPair, 300); // warm-up
  await alternating(300);
  const sync50: number[] = [], async50: number[] = [], ours50: number[] = [], today50: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    await rotated(trial, [
      async () => {
        const [s, a] = await interleavedLatencies(asyncPair, calls);
        sync50.push(percentile(s!, 0.5) * 1000);
        async50.push(percentile(a!, 0.5) * 1000);
      },
      async () => {
        const [o, t] = await alternating(calls);
        ours50.push(percentile(o!, 0.5) * 1000);
        today50.push(percentile(t!, 0.5) * 1000);
      },
    ]);
  }
  await ctx.release(pool);

  // Throughput: blocks of calls at 8 callers on each build's pool of 2, the builds alternating block by block.
  const [ours, today] = builds as [NoopChild, NoopChild];
  await ours.block(blockCalls, 8);
  await today.block(blockCalls, 8);
  const rate: number[] = [], todayRate: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    let ms = 0, todayMs = 0;
    for (let k = 0; k < blocks; k++) {
      await rotated(trial + k, [async () => void (ms += await ours.block(blockCalls, 8)), async () => void (todayMs += await today.block(blockCalls, 8))]);
    }
    rate.push((blocks * blockCalls * 1000) / ms);
    todayRate.push((blocks * blockCalls * 1000) / todayMs);
  }
  await ctx.release(ours);
  await ctx.release(today);

  const todays = `today's (${baseline.revision}, ${baseline.commit.slice(0, 9)})`;
  const b = 'async: no-op round trip, default concurrency 1';
  return [
    { benchmark: b, figure: 'pool of 1, sync def, p50', unit: 'µs', samples: sync50 },
    {
      benchmark: b, figure: 'pool of 1, async def, p50', unit: 'µs', samples: async50,
      ratio: ratioTo('× sync', async50, sync50),
      target: { text: '≤ 1.3× sync', on: 'ratio', met: (r) => r <= 1.3 },
    },
    { benchmark: b, figure: `pool of 1, sync def, p50, ${todays}`, unit: 'µs', samples: today50 },
    {
      benchmark: b, figure: 'pool of 1, sync def, p50, against today’s', unit: 'µs', samples: ours50,
      ratio: ratioTo('× today’s', ours50, today50),
      target: { text: '≤ 1.05× today’s', on: 'ratio', met: (r) => r <= 1.05 },
    },
    { benchmark: b, figure: `pool of 2, 8 callers, ${todays}`, unit: 'calls/s', samples: todayRate },
    {
      benchmark: b, figure: 'pool of 2, 8 callers: time per call against today’s', unit: 'calls/s', samples: rate,
      ratio: { label: '× today’s time per call', samples: rate.map((v, i) => todayRate[i]! / v) },
      target: { text: '≤ 1.05× today’s', on: 'ratio', met: (r) => r <= 1.05 },
    },
  ];
}

async function killed(ctx: BenchContext): Promise<Row[]> {
  const { WorkerExitedError } = await import('@piton/python-bridge');
  const pool = await startPool(ctx, { size: 1, concurrency: IN_FLIGHT_KILLED });
  const lastRejection: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    await pool.whenReady();
    let started = 0;
    const settled = Array.from({ length: IN_FLIGHT_KILLED }, () =>
      pool.call('coroutines', 'started_sleep', [60], { onProgress: () => void started++ }).then(
        () => ({ error: undefined, at: nowMs() }),
        (error: unknown) => ({ error, at: nowMs() }),
      ),
    );
    await until(() => started === IN_FLIGHT_KILLED, `${IN_FLIGHT_KILLED} calls started in Python`, 60_000);
    const [victim] = pool.interpreters();
    if (victim === undefined || victim.inFlight !== IN_FLIGHT_KILLED) throw new Error(`not ${IN_FLIGHT_KILLED} calls in flight on one interpreter`);
    const t0 = nowMs();
    process.kill(victim.pid, 'SIGKILL');
    const outcomes = await Promise.all(settled);
    const wrong = outcomes.find((o) => !(o.error instanceof WorkerExitedError));
    if (wrong) throw new Error(`a call of the killed interpreter did not reject with WorkerExitedError: ${String(wrong.error ?? 'it resolved')}`);
    lastRejection.push(Math.max(...outcomes.map((o) => o.at)) - t0);
  }
  await ctx.release(pool);
  return [
    {
      benchmark: `async: ${IN_FLIGHT_KILLED} calls in flight on one interpreter, SIGKILL`, figure: 'kill → the last of them rejected', unit: 'ms', samples: lastRejection,
      target: { text: '≤ 100 ms, every trial', on: 'every', met: (v) => v <= 100 },
    },
  ];
}

export async function runAsync(ctx: BenchContext): Promise<Row[]> {
  const floor = await AsyncioFloor.start(ctx);
  const rows = [...(await waiting(ctx, floor)), ...(await realIo(ctx, floor))];
  await ctx.release(floor);
  return [...rows, ...(await noOps(ctx)), ...(await killed(ctx))];
}
