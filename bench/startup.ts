/**
 * Start-up and memory with a heavy preload (`bench/python/heavy_preload.py`: ~1 s of import, a
 * 256 MiB numpy array), spawn against forkserver, each as a ratio within one trial:
 *
 * - a pool of 4 ready with the fork server, against one spawned interpreter's cold start (the
 *   server imports once, then four forks start side by side);
 * - memory: the sum of the PSS (proportional set size: shared pages split among the sharers) of the
 *   server and its 4 interpreters, against the PSS of one spawned interpreter; the same with every
 *   interpreter's guard counted (a guard that shared the interpreter's pages would take its share
 *   of them out of the first sum); and the PSS of one guard, spawned and forked;
 * - SIGKILL of a busy interpreter → the next call served, on a pool of 1 with the fork server,
 *   against the cold start (a replacement is a fork, not a start-up);
 * - for scale: a pool of 4 with spawn (now started in parallel) against the same cold start.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { PythonPool, StartMethod } from '@piton/python-bridge';
import type { BenchContext } from './lib/context.js';
import { startPool, until } from './lib/pool.js';
import { pssBytes } from './lib/procfs.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';

const PRELOAD = ['heavy_preload'];

/** The guard of the interpreter `pid` (python/src/piton/group.py): its group's `piton-guard`. */
function guardOf(pid: number): number {
  const guards: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pid && state !== 'Z' && readFileSync(`/proc/${entry}/comm`, 'latin1').trim() === 'piton-guard') {
        guards.push(Number(entry));
      }
    } catch {
      // exited while we looked
    }
  }
  if (guards.length !== 1) throw new Error(`expected one guard in the group of interpreter ${pid}, found ${guards.length}`);
  return guards[0]!;
}

/** The pool's processes: its interpreters, and a fork server's pid (their common parent). */
function processesOf(pool: PythonPool): number[] {
  const pids = pool.interpreters().map((i) => i.pid);
  const parents = new Set(pids.map((pid) => Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[1])));
  parents.delete(process.pid);
  return [...pids, ...parents];
}

async function timedStart(ctx: BenchContext, size: number, startMethod: StartMethod): Promise<{ ms: number; pool: PythonPool }> {
  const t0 = nowMs();
  const pool = await startPool(ctx, { size, startMethod, preload: PRELOAD });
  const ms = nowMs() - t0;
  if ((await pool.call('heavy_preload', 'predict', [2])) !== 2) throw new Error('predict(2) did not return 2');
  return { ms, pool };
}

/** SIGKILL of the interpreter busy with a call → the next call served, in ms. */
async function killToNextCall(pool: PythonPool): Promise<number> {
  await pool.whenReady();
  const busy = pool.call('functions', 'sleep', [60]).catch((error: unknown) => error);
  await until(() => pool.interpreters().some((i) => i.busy), 'an interpreter to be busy');
  const victim = pool.interpreters().find((i) => i.busy)!;
  const t0 = nowMs();
  process.kill(victim.pid, 'SIGKILL');
  await busy;
  if ((await pool.call('functions', 'noop', [1])) !== 1) throw new Error('the call after the kill did not return its argument');
  return nowMs() - t0;
}

export async function runStartup(ctx: BenchContext): Promise<Row[]> {
  const cold: number[] = [], fork4: number[] = [], spawn4: number[] = [], coldPss: number[] = [], forkPss: number[] = [];
  const spawnedGuardPss: number[] = [], forkedGuardPss: number[] = [], coldPssGuarded: number[] = [], forkPssGuarded: number[] = [];
  const recover: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    const one = await timedStart(ctx, 1, 'spawn');
    cold.push(one.ms);
    const spawnedPid = one.pool.interpreters()[0]!.pid;
    coldPss.push(pssBytes(spawnedPid));
    spawnedGuardPss.push(pssBytes(guardOf(spawnedPid)));
    coldPssGuarded.push(coldPss.at(-1)! + spawnedGuardPss.at(-1)!);
    await ctx.release(one.pool);

    const forked = await timedStart(ctx, 4, 'forkserver');
    fork4.push(forked.ms);
    if (forked.pool.stats().startMethod !== 'forkserver') throw new Error('the pool fell back to spawn');
    await Promise.all(Array.from({ length: 8 }, (_, i) => forked.pool.call('heavy_preload', 'predict', [i])));
    const pids = processesOf(forked.pool);
    if (pids.length !== 5) throw new Error(`expected 4 interpreters and a server, found ${pids.length} processes`);
    const sum = (values: number[]) => values.reduce((total, v) => total + v, 0);
    const guardsPss = forked.pool.interpreters().map((i) => pssBytes(guardOf(i.pid)));
    forkPss.push(sum(pids.map(pssBytes)));
    forkPssGuarded.push(forkPss.at(-1)! + sum(guardsPss));
    forkedGuardPss.push(Math.max(...guardsPss));
    await ctx.release(forked.pool);

    const spawned = await timedStart(ctx, 4, 'spawn');
    spawn4.push(spawned.ms);
    await ctx.release(spawned.pool);

    const single = await timedStart(ctx, 1, 'forkserver');
    recover.push(await killToNextCall(single.pool));
    await ctx.release(single.pool);
  }
  const b = 'startup: preload of ~1 s and 256 MiB';
  const mib = (bytes: number[]) => bytes.map((v) => v / 2 ** 20);
  return [
    { benchmark: b, figure: 'cold start, spawn → ready (pool of 1, spawn)', unit: 'ms', samples: cold },
    {
      benchmark: b, figure: 'pool of 4 ready, forkserver', unit: 'ms', samples: fork4,
      ratio: ratioTo('× cold start', fork4, cold),
      target: { text: '≤ 1.3× cold start', on: 'ratio', met: (r) => r <= 1.3 },
    },
    {
      benchmark: b, figure: 'pool of 4 ready, spawn (started side by side)', unit: 'ms', samples: spawn4,
      ratio: ratioTo('× cold start', spawn4, cold),
    },
    { benchmark: b, figure: 'PSS of one spawned interpreter', unit: 'MiB', samples: mib(coldPss) },
    {
      benchmark: b, figure: 'PSS of a forkserver pool of 4 (server + interpreters)', unit: 'MiB', samples: mib(forkPss),
      ratio: ratioTo('× one spawned', forkPss, coldPss),
      target: { text: '≤ 1.5× one spawned interpreter', on: 'ratio', met: (r) => r <= 1.5 },
    },
    {
      benchmark: b, figure: 'PSS of a forkserver pool of 4 with the guards (server, interpreters, guards)', unit: 'MiB',
      samples: mib(forkPssGuarded),
      ratio: ratioTo('× one spawned with its guard', forkPssGuarded, coldPssGuarded),
      target: { text: '≤ 1.5× one spawned interpreter with its guard', on: 'ratio', met: (r) => r <= 1.5 },
    },
    {
      benchmark: b, figure: 'PSS of a spawned interpreter\'s guard', unit: 'MiB', samples: mib(spawnedGuardPss),
      target: { text: '≤ 2 MiB, every trial', on: 'every', met: (v) => v <= 2 },
    },
    {
      benchmark: b, figure: 'PSS of a forked interpreter\'s guard (the largest of the 4)', unit: 'MiB', samples: mib(forkedGuardPss),
      target: { text: '≤ 2 MiB, every trial', on: 'every', met: (v) => v <= 2 },
    },
    {
      benchmark: b, figure: 'forkserver pool of 1: SIGKILL → next call served', unit: 'ms', samples: recover,
      ratio: ratioTo('× cold start', recover, cold),
      target: { text: '≤ 100 ms and ≤ 0.1× cold start', on: 'ratio', met: (r) => r <= 0.1 },
    },
  ];
}
