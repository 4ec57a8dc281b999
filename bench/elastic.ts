/**
 * Elastic size and hosts found by DNS.
 *
 * - Burst: a pool `{ min: 1, max: 8 }`, idle at its min, and a fixed pool of 8, both started
 *   before the trials, each given a sudden burst of `burst` calls of 20 ms of CPU at once (all
 *   submitted together); time to finish, elastic against fixed in the same trial, their order
 *   alternating from trial to trial. On a machine with fewer than 8 cores the fixed pool is bound
 *   by the cores, not by its size: the ratio says what elasticity costs there (its growth: starts
 *   and forks), and the row's note says how many cores there were.
 * - Back at min: from the burst's last result until the elastic pool is back at `min` with no
 *   interpreter stopping, against `idleTimeout` + 1 s.
 * - A host added by DNS: a pool whose hosts are a DNS name (dnsmasq on loopback, agents in network
 *   namespaces, as in test/remote-dynamic.test.ts), re-resolved every `interval`; from the moment
 *   the name's record for a second host appears (the DNS server answers with it) until a call has
 *   run on that host, against `interval` + 1 s, split into its steps (resolution, link,
 *   interpreter start, first call). Then the record is taken away again and the host drained, for
 *   the next trial.
 */
import type { HostEvent, InterpreterEvent, PythonPool } from '@piton/python-bridge';
import { namespacesUnavailable, TestHosts, type TestHost } from '../test/remote/test-hosts.js';
import { ensureDnsmasq, TestDns } from '../test/remote/test-dns.js';
import { PY_DIR, type BenchContext } from './lib/context.js';
import { startPool, until } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import { availableParallelism } from 'node:os';

const BURN_MS = 20;
const IDLE_TIMEOUT_MS = 1_000;
const DNS_INTERVAL_MS = 1_000;
const DNS_NAME = 'agents.piton.test';

/** ms for `count` calls of `burn(BURN_MS)` submitted at once. */
async function burst(pool: PythonPool, count: number): Promise<number> {
  const t0 = nowMs();
  const results = await Promise.all(Array.from({ length: count }, () => pool.call<number>('functions', 'burn', [BURN_MS])));
  const ms = nowMs() - t0;
  if (results.some((r) => r !== BURN_MS)) throw new Error('burn did not return its argument');
  return ms;
}

export async function runElastic(ctx: BenchContext): Promise<Row[]> {
  const count = ctx.settings.quick ? 200 : 1_000;
  const elastic = await startPool(ctx, { size: { min: 1, max: 8 }, idleTimeout: IDLE_TIMEOUT_MS });
  const fixed = await startPool(ctx, { size: 8 });
  // Warm-up: every interpreter of the fixed pool has served; the elastic one has grown once and is back at min.
  await burst(fixed, 16);
  await burst(elastic, 16);
  await until(() => elastic.stats().size === 1 && elastic.stats().stopping === 0, 'the elastic pool back at min', 30_000);

  const fixedMs: number[] = [], elasticMs: number[] = [], backMs: number[] = [], peak: number[] = [], grown: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    ctx.log(`elastic: trial ${trial + 1} of ${ctx.settings.trials}`);
    const runElasticBurst = async () => {
      let most = elastic.stats().size;
      const watch = setInterval(() => (most = Math.max(most, elastic.stats().size)), 5);
      const before = elastic.stats().grown;
      elasticMs.push(await burst(elastic, count));
      clearInterval(watch);
      peak.push(most);
      grown.push(elastic.stats().grown - before);
      const end = nowMs();
      await until(() => elastic.stats().size === 1 && elastic.stats().stopping === 0, 'the elastic pool back at min', 30_000);
      backMs.push(nowMs() - end);
    };
    if (trial % 2 === 0) {
      fixedMs.push(await burst(fixed, count));
      await runElasticBurst();
    } else {
      await runElasticBurst();
      fixedMs.push(await burst(fixed, count));
    }
  }
  await ctx.stopOwned();
  const b = 'elastic size';
  const rows: Row[] = [
    { benchmark: b, figure: `burst of ${count} × ${BURN_MS} ms CPU: fixed pool of 8`, unit: 'ms', samples: fixedMs, note: `${availableParallelism()} cores` },
    {
      benchmark: b, figure: `burst of ${count} × ${BURN_MS} ms CPU: pool { min: 1, max: 8 }, idle at min`, unit: 'ms', samples: elasticMs,
      ratio: ratioTo('× fixed 8', elasticMs, fixedMs),
      note: `grew by ${grown.join(', ')}; most interpreters seen ${Math.max(...peak)}`,
      target: { text: '≤ 1.3× fixed 8', on: 'ratio', met: (r) => r <= 1.3 },
    },
    {
      benchmark: b, figure: `after the burst: back at min (idleTimeout ${IDLE_TIMEOUT_MS} ms)`, unit: 'ms', samples: backMs,
      target: { text: `≤ idleTimeout + 1 s (${IDLE_TIMEOUT_MS + 1_000} ms), every trial`, on: 'every', met: (v) => v <= IDLE_TIMEOUT_MS + 1_000 },
    },
    {
      benchmark: b, figure: 'most interpreters during a burst (max 8)', unit: '', samples: peak,
      target: { text: '≤ 8, every trial', on: 'every', met: (v) => v <= 8 },
    },
  ];
  return [...rows, ...(await dnsRows(ctx))];
}

/** A host added by DNS: record set → first call on it. */
async function dnsRows(ctx: BenchContext): Promise<Row[]> {
  const b = 'hosts found by DNS';
  const why = namespacesUnavailable();
  const dnsmasq = why === undefined ? ensureDnsmasq() : undefined;
  if (why !== undefined || dnsmasq === undefined) {
    ctx.log(`elastic: DNS rows skipped: ${why ?? 'dnsmasq is missing and cannot be installed'}`);
    return [];
  }
  const hosts = await TestHosts.create(2, { sharedKey: true });
  const undo = ctx.atKill(() => hosts.destroyNow());
  const dns = await TestDns.start(dnsmasq);
  try {
    const [a, other] = hosts.hosts as [TestHost, TestHost];
    await dns.set(DNS_NAME, [a.address]);
    const { PythonPool } = await import('@piton/python-bridge');
    const pool = ctx.own(await PythonPool.start({
      remote: {
        hosts: [{ dns: DNS_NAME, port: 7100, serverKey: a.serverKey, size: 1, interval: DNS_INTERVAL_MS }],
        dns: { servers: [dns.server] },
        keys: hosts.client,
      },
      path: PY_DIR,
      onOutput: false,
    }));
    await until(() => pool.stats().hosts.some((h) => h.agent === a.agent && h.serving === 1), 'the first host to serve', 30_000);
    // Each trial's timeline, from the moment the record appeared (TestDns.set: the last query that
    // still got the old answer) to: the resolution that found it, the link to its agent, the start
    // of its interpreter asked, that interpreter ready, the first call run there.
    const steps = { resolved: [] as number[], connected: [] as number[], launching: [] as number[], ready: [] as number[], served: [] as number[] };
    for (let trial = 0; trial < ctx.settings.trials; trial++) {
      const seen: Partial<Record<'resolved' | 'connected' | 'launching' | 'ready', number>> = {};
      let hostId: string | undefined;
      const onHost = (event: HostEvent) => {
        if (event.type === 'dns' && event.added.includes(other.agent)) seen.resolved ??= nowMs();
        if (event.type === 'host' && event.agent === other.agent && event.state === 'connected') {
          seen.connected ??= nowMs();
          hostId = event.host;
        }
      };
      const onInterpreter = (event: InterpreterEvent) => {
        if (hostId === undefined || !event.worker.startsWith(`${hostId}/`)) return;
        if (event.type === 'launching') seen.launching ??= nowMs();
        if (event.type === 'ready') seen.ready ??= nowMs();
      };
      pool.system.events.on('host', onHost);
      pool.system.events.on('interpreter', onInterpreter);
      const appeared = await dns.set(DNS_NAME, [a.address, other.address]);
      // Two calls at a time, each holding its interpreter 5 ms: once the new host serves, one lands there.
      for (;;) {
        const inodes = await Promise.all([pool.call<number>('functions', 'net_inode', [0.005]), pool.call<number>('functions', 'net_inode', [0.005])]);
        if (inodes.includes(other.netInode)) break;
        if (nowMs() - appeared > 30_000) throw new Error('the host added by DNS never served');
      }
      steps.served.push(nowMs() - appeared);
      pool.system.events.off('host', onHost);
      pool.system.events.off('interpreter', onInterpreter);
      for (const step of ['resolved', 'connected', 'launching', 'ready'] as const) {
        if (seen[step] === undefined) throw new Error(`the host added by DNS served, but its '${step}' step was not seen`);
        steps[step].push(seen[step] - appeared);
      }
      await dns.set(DNS_NAME, [a.address]);
      await until(() => pool.stats().hosts.length === 1, 'the host taken out of DNS to be drained', 30_000);
    }
    const gap = (to: number[], from: number[]) => to.map((v, i) => v - from[i]!);
    const step = (figure: string, samples: number[], note: string): Row => ({ benchmark: b, figure, unit: 'ms', samples, note });
    return [
      step(`record appeared → the resolution that found it (interval ${DNS_INTERVAL_MS} ms)`, steps.resolved, 'the wait for the next resolution: up to one interval'),
      step('… → its agent\'s link made', gap(steps.connected, steps.resolved), 'TCP connect, CURVE handshake, hello/welcome'),
      step('… → its interpreter\'s start asked', gap(steps.launching, steps.connected), 'the host\'s supervisor started with that link'),
      step('… → that interpreter ready', gap(steps.ready, steps.launching), 'the agent starts it (forked from its warm zygote), its CURVE endpoint connected, the handshake'),
      step('… → the first call run on it', gap(steps.served, steps.ready), 'dispatch, and the bench\'s calls in pairs (5 ms each)'),
      {
        benchmark: b, figure: `record appeared → first call on that host (interval ${DNS_INTERVAL_MS} ms)`, unit: 'ms', samples: steps.served,
        target: { text: `≤ interval + 1 s (${DNS_INTERVAL_MS + 1_000} ms), every trial`, on: 'every', met: (v) => v <= DNS_INTERVAL_MS + 1_000 },
      },
    ];
  } finally {
    await ctx.stopOwned();
    await dns.stop();
    await hosts.destroy();
    undo();
  }
}

