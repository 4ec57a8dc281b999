/**
 * Where the Node side of a no-op call spends its CPU: V8's sampling profiler (the same data as
 * `node --cpu-prof`) over sequential calls on a pool of 1, self time grouped by where the code
 * lives. Idle time (waiting for Python) is left out of the shares and reported apart.
 */
import { Session } from 'node:inspector/promises';
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import type { Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import { latencies } from './lib/timing.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const GROUPS = [
  'zeromq.js (native addon)', 'zeromq.js (JS)', 'nact', '@piton/core', 'python-bridge codec',
  'python-bridge dispatch', 'Node internals', 'GC', '(program): V8, libuv',
] as const;
type Group = (typeof GROUPS)[number] | 'idle' | 'benchmark';

function groupOf(node: ProfileNode): Group {
  const { url, functionName } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)' || functionName === '(root)') return '(program): V8, libuv';
  // A frame without a script is native code called from JavaScript; on this path the only
  // addon is zeromq.js (its sockets' send, receive and poller callbacks).
  if (url === '') return 'zeromq.js (native addon)';
  if (url.includes('/node_modules/zeromq/')) return 'zeromq.js (JS)';
  if (url.includes('/node_modules/nact/')) return 'nact';
  if (url.includes('/packages/core/')) return '@piton/core';
  if (url.includes('/packages/python-bridge/') && url.includes('/dist/wire/')) return 'python-bridge codec';
  if (url.includes('/packages/python-bridge/')) return 'python-bridge dispatch';
  if (url.includes('/bench/')) return 'benchmark';
  return 'Node internals';
}

/** Self time per group, µs. */
function selfTimes(profile: Profile): Map<Group, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, groupOf(n)]));
  const out = new Map<Group, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const group = byId.get(profile.samples[i]!) ?? '(program): V8, libuv';
    out.set(group, (out.get(group) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return out;
}

export async function runNodeProfile(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 2_000 : 6_000;
  const pool = await startPool(ctx, { size: 1 });
  const noop = () => pool.call('functions', 'noop', [1]);
  await latencies(noop, 500);
  const session = new Session();
  session.connect();
  const perCall: number[] = [], idlePerCall: number[] = [];
  const shares = new Map<Group, number[]>();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    for (let trial = 0; trial < ctx.settings.trials; trial++) {
      await session.post('Profiler.start');
      const t0 = nowMs();
      await latencies(noop, calls);
      const wallUs = (nowMs() - t0) * 1000;
      const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
      const times = selfTimes(profile);
      const idle = times.get('idle') ?? 0;
      const busy = [...times.entries()].filter(([g]) => g !== 'idle' && g !== 'benchmark').reduce((s, [, t]) => s + t, 0);
      perCall.push(busy / calls);
      idlePerCall.push((wallUs - busy) / calls);
      for (const g of GROUPS) (shares.get(g) ?? shares.set(g, []).get(g)!).push(((times.get(g) ?? 0) / busy) * 100);
    }
    await session.post('Profiler.disable');
  } finally {
    session.disconnect();
    await ctx.release(pool);
  }
  const b = 'Node CPU of a no-op call (V8 profiler), pool of 1';
  return [
    { benchmark: b, figure: 'Node CPU per call', unit: 'µs', samples: perCall },
    { benchmark: b, figure: 'Node idle per call (waiting for Python and the kernel)', unit: 'µs', samples: idlePerCall },
    ...GROUPS.map((g): Row => ({ benchmark: b, figure: `share: ${g}`, unit: '%', samples: shares.get(g)! })),
  ];
}
