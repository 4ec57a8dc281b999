/**
 * Interpreters on other hosts: three hosts simulated as network namespaces on this machine (see
 * bench/lib/remote.ts), each with a real agent; the pool reaches their interpreters over tcp with
 * CURVE. Two hosts (A, B) serve; the third (C) is the one whose link is cut, so that a cut never
 * touches the pools measured meanwhile. Each trial measures, in this order:
 *
 * - SIGKILL of a remote interpreter busy with a call, on 4 pools of 1 (2 on A, 2 on B), each
 *   interpreter having run past the restart backoff's reset window: time to the rejection (and
 *   whether it carries SIGKILL), and to the next call, served by the replacement;
 * - sequential no-op calls on a pool of 1 local (ipc) and a pool of 1 remote (tcp + CURVE)
 *   interpreter, one call of each in turn (so both see the same load): p50 and p99, and their ratio;
 * - 50 ms sleep calls at concurrency n on pools of n = 1, 2, 4, 8 interpreters split over A and B:
 *   calls per second against n × the pool of 1's rate, in the same trial;
 * - 120 calls recording themselves in a ledger on a pool of 2 + 2 while busy interpreters are
 *   SIGKILLed every 60 ms: calls whose function ran twice;
 * - a child Node process holding a pool of 2 on C, SIGKILLed: time until both interpreters are gone;
 * - C cut off while a call runs there, with the default heartbeat (1 s / 3 s) while 4 calls of 4 s
 *   run on B (none may be taken for lost), then with a 100 / 300 ms heartbeat: time to the rejection.
 */
import type { Heartbeat, PythonPool } from '@piton/python-bridge';
import { namespacesUnavailable, TestHosts, type TestHost } from '../test/remote/test-hosts.js';
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import {
  killRemote,
  ledgerRun,
  lostHostMs,
  nodeDeathMs,
  POOL_DEFAULT_HEARTBEAT,
  REMOTE_STABLE_RUN_MS,
  startRemotePool,
  type RemoteKill,
} from './lib/remote.js';
import { ratioTo, FamilySkipped, type Row } from './lib/report.js';
import { nowMs, percentile, summarize } from './lib/stats.js';
import { interleavedLatencies, throughput } from './lib/timing.js';

const DEFAULT_HEARTBEAT = POOL_DEFAULT_HEARTBEAT;
const SHORT_HEARTBEAT = { interval: 100, timeout: 300 };
const SLEEP_S = 0.05;
const SCALE = [1, 2, 4, 8] as const;

/** Sleep-bound calls per second of a pool of `n` at concurrency `n`, each result checked. */
async function sleepRate(pool: PythonPool, n: number, perInterpreter: number): Promise<number> {
  return throughput(async () => {
    if (await pool.call('functions', 'sleep', [SLEEP_S]) !== SLEEP_S) throw new Error('sleep did not return its argument');
  }, n * perInterpreter, n);
}

/** p50 and p99 in µs of sequential no-op calls on each of `pools`, one call of each in turn. */
async function noopPercentiles(pools: readonly PythonPool[], calls: number): Promise<{ p50: number; p99: number }[]> {
  const noop = (pool: PythonPool) => async () => {
    if (await pool.call('functions', 'noop', [1]) !== 1) throw new Error('the no-op did not return its argument');
  };
  const times = await interleavedLatencies(pools.map(noop), calls);
  return times.map((t) => ({ p50: percentile(t, 0.5) * 1000, p99: percentile(t, 0.99) * 1000 }));
}

/** Starts `count` calls of `sleep(4)` on `pool`; resolves with how many succeeded. */
async function longCalls(pool: PythonPool, count: number): Promise<number> {
  const results = await Promise.allSettled(Array.from({ length: count }, () => pool.call('functions', 'sleep', [4])));
  return results.filter((r) => r.status === 'fulfilled' && r.value === 4).length;
}

export async function runRemote(ctx: BenchContext): Promise<Row[]> {
  const why = namespacesUnavailable();
  if (why !== undefined) throw new FamilySkipped(`network namespaces cannot be made here (${why}); the remote figures need root and a working \`ip netns\``);
  const hosts = await TestHosts.create(3);
  const undo = ctx.atKill(() => hosts.destroyNow());
  try {
    return await measure(ctx, hosts);
  } finally {
    await ctx.stopOwned(); // the family's pools, before their hosts go
    await hosts.destroy();
    undo();
  }
}

async function measure(ctx: BenchContext, hosts: TestHosts): Promise<Row[]> {
  const bridge = await import('@piton/python-bridge');
  const quick = ctx.settings.quick;
  const [a, b, c] = hosts.hosts as [TestHost, TestHost, TestHost];
  const latencyCalls = quick ? 500 : 2_000;
  const perInterpreter = quick ? 6 : 12;
  const ledgerCalls = 120, ledgerKills = 6, longCallsPerTrial = 4;

  ctx.log('remote: starting pools on 2 hosts');
  const local = await startPool(ctx, { size: 1 });
  const remote = await startRemotePool(ctx, hosts, [[a, 1]]);
  const killPools = await Promise.all([a, a, b, b].map((h) => startRemotePool(ctx, hosts, [[h, 1]])));
  const stableSince = killPools.map(() => nowMs());
  const scalePools = await Promise.all(SCALE.map((n) => startRemotePool(ctx, hosts, n === 1 ? [[a, 1]] : [[a, n / 2], [b, n / 2]])));
  const longPool = await startRemotePool(ctx, hosts, [[b, longCallsPerTrial]]);
  // Warm-up: every pool has served, and the JIT has seen both paths.
  await noopPercentiles([local, remote], 200);
  for (const [i, pool] of scalePools.entries()) await sleepRate(pool, SCALE[i]!, 1);

  const kills: RemoteKill[][] = [];
  const localP50: number[] = [], localP99: number[] = [], remoteP50: number[] = [], remoteP99: number[] = [];
  const rates: number[][] = SCALE.map(() => []);
  const duplicates: number[] = [], ledgerKilled: number[] = [], ledgerCompleted: number[] = [];
  const nodeDeath: number[] = [], lostDefault: number[] = [], lostShort: number[] = [], longOk: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    ctx.log(`remote: trial ${trial + 1} of ${ctx.settings.trials}`);
    const trialKills: RemoteKill[] = [];
    for (const [i, pool] of killPools.entries()) {
      const wait = stableSince[i]! + REMOTE_STABLE_RUN_MS - nowMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      trialKills.push(await killRemote(bridge, pool));
      stableSince[i] = nowMs(); // the replacement has just served
    }
    kills.push(trialKills);

    const [ipc, tcp] = await noopPercentiles([local, remote], latencyCalls);
    localP50.push(ipc!.p50); localP99.push(ipc!.p99);
    remoteP50.push(tcp!.p50); remoteP99.push(tcp!.p99);

    const scaleOrder = trial % 2 === 0 ? [0, 1, 2, 3] : [3, 2, 1, 0];
    for (const i of scaleOrder) rates[i]!.push(await sleepRate(scalePools[i]!, SCALE[i]!, perInterpreter));

    const ledger = await ledgerRun(ctx, bridge, hosts, [a, b], ledgerCalls, ledgerKills);
    if (ledger.wrongErrors > 0) throw new Error(`${ledger.wrongErrors} calls under random kills rejected with something else than InterpreterExitedError`);
    duplicates.push(ledger.duplicates); ledgerKilled.push(ledger.kills); ledgerCompleted.push(ledger.completed);

    nodeDeath.push(await nodeDeathMs(ctx, hosts, c));

    const long = longCalls(longPool, longCallsPerTrial);
    lostDefault.push(await lostHostMs(ctx, bridge, hosts, c, 'default'));
    longOk.push((100 * await long) / longCallsPerTrial);
    lostShort.push(await lostHostMs(ctx, bridge, hosts, c, SHORT_HEARTBEAT));
  }
  return rows({ kills, localP50, localP99, remoteP50, remoteP99, rates, duplicates, ledgerKilled, ledgerCompleted, nodeDeath, lostDefault, lostShort, longOk, ledgerCalls, longCallsPerTrial });
}

interface Figures {
  kills: RemoteKill[][];
  localP50: number[]; localP99: number[]; remoteP50: number[]; remoteP99: number[];
  rates: number[][];
  duplicates: number[]; ledgerKilled: number[]; ledgerCompleted: number[];
  nodeDeath: number[]; lostDefault: number[]; lostShort: number[]; longOk: number[];
  ledgerCalls: number; longCallsPerTrial: number;
}

function rows(f: Figures): Row[] {
  const b = 'remote hosts (namespaces)';
  const median = (values: number[]) => summarize(values).median;
  const worst = (values: number[]) => Math.max(...values);
  const killsPerTrial = f.kills[0]!.length;
  const all = f.kills.flat();
  const carried = all.filter((k) => k.signal === 'SIGKILL').length;
  const bound = (h: Heartbeat) => h.timeout + h.interval + 100;
  return [
    { benchmark: b, figure: 'ipc (local) pool of 1: no-op p50', unit: 'µs', samples: f.localP50 },
    {
      benchmark: b, figure: 'tcp + CURVE pool of 1: no-op p50', unit: 'µs', samples: f.remoteP50,
      ratio: ratioTo('× ipc p50', f.remoteP50, f.localP50),
      target: { text: '≤ 2.5× ipc p50', on: 'ratio', met: (r) => r <= 2.5 },
    },
    { benchmark: b, figure: 'ipc (local) pool of 1: no-op p99', unit: 'µs', samples: f.localP99 },
    {
      benchmark: b, figure: 'tcp + CURVE pool of 1: no-op p99', unit: 'µs', samples: f.remoteP99,
      ratio: ratioTo('× ipc p99', f.remoteP99, f.localP99),
    },
    { benchmark: b, figure: `remote SIGKILL → its call rejects, median of ${killsPerTrial} kills`, unit: 'ms', samples: f.kills.map((t) => median(t.map((k) => k.rejectMs))) },
    {
      benchmark: b, figure: `remote SIGKILL → its call rejects, worst of ${killsPerTrial} kills`, unit: 'ms', samples: f.kills.map((t) => worst(t.map((k) => k.rejectMs))),
      target: { text: '≤ 20 ms, every trial', on: 'every', met: (v) => v <= 20 },
    },
    {
      benchmark: b, figure: 'remote SIGKILL: rejections that carry SIGKILL', unit: '%', samples: f.kills.map((t) => (100 * t.filter((k) => k.signal === 'SIGKILL').length) / t.length),
      note: `${carried} of ${all.length} kills`,
      target: { text: 'all, every trial', on: 'every', met: (v) => v >= 100 },
    },
    { benchmark: b, figure: `remote SIGKILL → next call served by the replacement (pool of 1), median of ${killsPerTrial}`, unit: 'ms', samples: f.kills.map((t) => median(t.map((k) => k.nextMs))) },
    {
      benchmark: b, figure: `remote SIGKILL → next call served by the replacement (pool of 1), worst of ${killsPerTrial}`, unit: 'ms', samples: f.kills.map((t) => worst(t.map((k) => k.nextMs))),
      target: { text: '≤ 1 s, every trial', on: 'every', met: (v) => v <= 1_000 },
    },
    { benchmark: b, figure: `${SLEEP_S * 1000} ms sleeps: 1 interpreter`, unit: 'calls/s', samples: f.rates[0]! },
    ...SCALE.slice(1).map((n, j): Row => ({
      benchmark: b, figure: `${SLEEP_S * 1000} ms sleeps: ${n} interpreters (${n / 2} on each host), concurrency ${n}`, unit: 'calls/s', samples: f.rates[j + 1]!,
      ratio: { label: `× ${n} × 1 interpreter`, samples: f.rates[j + 1]!.map((v, i) => v / (n * f.rates[0]![i]!)) },
      target: { text: '≥ 0.95× (linear within 5 %)', on: 'ratio', met: (r) => r >= 0.95 },
    })),
    {
      benchmark: b, figure: `random kills: calls run twice (${f.ledgerCalls} calls, pool of 2 + 2)`, unit: '', samples: f.duplicates,
      note: `kills per trial ${f.ledgerKilled.join(', ')}; calls completed ${f.ledgerCompleted.join(', ')}`,
      target: { text: '0, every trial', on: 'every', met: (v) => v === 0 },
    },
    {
      benchmark: b, figure: 'Node SIGKILLed → its 2 remote interpreters gone', unit: 'ms', samples: f.nodeDeath,
      target: { text: '≤ 1 s, every trial', on: 'every', met: (v) => v <= 1_000 },
    },
    {
      benchmark: b, figure: 'host cut off → its call rejects (HostLostError), heartbeat 1 s / 3 s', unit: 'ms', samples: f.lostDefault,
      ratio: { label: ' ms over the timeout', samples: f.lostDefault.map((v) => v - DEFAULT_HEARTBEAT.timeout) },
      target: { text: `≤ ${bound(DEFAULT_HEARTBEAT)} ms (timeout + interval + 100), every trial`, on: 'every', met: (v) => v <= bound(DEFAULT_HEARTBEAT) },
    },
    {
      benchmark: b, figure: `meanwhile, 4 s calls on another host that succeed (${f.longCallsPerTrial} per trial)`, unit: '%', samples: f.longOk,
      target: { text: 'all (no false loss), every trial', on: 'every', met: (v) => v >= 100 },
    },
    {
      benchmark: b, figure: 'host cut off → its call rejects (HostLostError), heartbeat 100 / 300 ms', unit: 'ms', samples: f.lostShort,
      ratio: { label: ' ms over the timeout', samples: f.lostShort.map((v) => v - SHORT_HEARTBEAT.timeout) },
      target: { text: `≤ ${bound(SHORT_HEARTBEAT)} ms (timeout + interval + 100), every trial`, on: 'every', met: (v) => v <= bound(SHORT_HEARTBEAT) },
    },
  ];
}
