/**
 * The measurements of the remote family that break something: a remote interpreter killed, a
 * host's link cut, the Node process that holds a pool killed, interpreters killed at random under
 * load. The hosts are the remote tests' (test/remote/test-hosts.ts): network namespaces joined to
 * this one by veth pairs, each running a real agent, with a blackhole route that keeps every
 * packet for them on this machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Heartbeat, PythonPool } from '@piton/python-bridge';
import { isAlive, repoRoot } from '../../test/helpers.js';
import type { TestHost, TestHosts } from '../../test/remote/test-hosts.js';
import { PY_DIR, type BenchContext } from './context.js';
import { startPool, until } from './pool.js';
import { nowMs } from './stats.js';

type Bridge = typeof import('@piton/python-bridge');

/**
 * A host's interpreters are restarted after a backoff that starts again from its minimum (100 ms)
 * only once the one that died had run this long (the bridge's HOST_RETRY_MAX_MS, 5 s, which is
 * the backoff's reset window), plus a margin. A kill measures a first crash only after that.
 */
export const REMOTE_STABLE_RUN_MS = 5_100;

/** The pool's default heartbeat (`DEFAULT_HEARTBEAT` in the bridge's remote options), for the bounds. */
export const POOL_DEFAULT_HEARTBEAT: Heartbeat = { interval: 1_000, timeout: 3_000 };

/** A pool whose interpreters are all remote: `size` on each of the given hosts. */
export function startRemotePool(
  ctx: BenchContext,
  hosts: TestHosts,
  sizes: readonly (readonly [TestHost, number])[],
  heartbeat?: Heartbeat,
): Promise<PythonPool> {
  return startPool(ctx, {
    remote: { hosts: sizes.map(([host, size]) => ({ agent: host.agent, serverKey: host.serverKey, size })), keys: hosts.client, heartbeat },
    onOutput: false,
  });
}

export interface RemoteKill {
  /** SIGKILL → the rejection of the call it was running. */
  rejectMs: number;
  /** SIGKILL → the next call served (by the replacement, on a pool of 1). */
  nextMs: number;
  /** The signal the rejection carried (`null`: the exit was known only as a lost connection). */
  signal: string | null;
}

/** SIGKILL of a pool's remote interpreter busy in `sleep(60)`, then one no-op call. */
export async function killRemote(bridge: Bridge, pool: PythonPool): Promise<RemoteKill> {
  await pool.whenReady();
  const settled = pool.call('functions', 'sleep', [60]).then(
    () => ({ error: undefined as unknown, at: nowMs() }),
    (error: unknown) => ({ error, at: nowMs() }),
  );
  await until(() => pool.interpreters().some((i) => i.busy), 'a remote interpreter to be busy');
  const victim = pool.interpreters().find((i) => i.busy)!;
  const t0 = nowMs();
  process.kill(victim.pid, 'SIGKILL');
  const { error, at } = await settled;
  if (!(error instanceof bridge.InterpreterExitedError)) {
    throw new Error(`the killed remote interpreter's call did not reject with InterpreterExitedError: ${error === undefined ? 'it resolved' : String(error)}`);
  }
  if (await pool.call('functions', 'noop', [1]) !== 1) throw new Error('the call after the kill did not return its argument');
  return { rejectMs: at - t0, nextMs: nowMs() - t0, signal: error.signal };
}

/**
 * Cuts `host` off while a pool's only interpreter, there, runs a call, at a random moment of the
 * heartbeat's period; resolves with the time from the cut to the call's rejection with
 * `HostLostError`. The link is restored and the pool
 * stopped before it resolves.
 */
export async function lostHostMs(ctx: BenchContext, bridge: Bridge, hosts: TestHosts, host: TestHost, heartbeat: Heartbeat | 'default'): Promise<number> {
  // The default is measured as users get it: without the option.
  const pool = await startRemotePool(ctx, hosts, [[host, 1]], heartbeat === 'default' ? undefined : heartbeat);
  const interval = heartbeat === 'default' ? POOL_DEFAULT_HEARTBEAT.interval : heartbeat.interval;
  try {
    const settled = pool.call('functions', 'sleep', [60]).then(
      () => ({ error: undefined as unknown, at: nowMs() }),
      (error: unknown) => ({ error, at: nowMs() }),
    );
    await until(() => pool.interpreters().some((i) => i.busy), 'the call to run on the host to be cut');
    // A partition comes at any moment of the heartbeat's period: when the last pong was heard
    // decides how long the silence must last.
    await new Promise((r) => setTimeout(r, Math.random() * interval));
    const t0 = nowMs();
    hosts.setLink(host, false);
    const { error, at } = await settled;
    if (!(error instanceof bridge.HostLostError)) {
      throw new Error(`the cut host's call did not reject with HostLostError: ${error === undefined ? 'it resolved' : String(error)}`);
    }
    return at - t0;
  } finally {
    hosts.setLink(host, true);
    await ctx.release(pool);
  }
}

/**
 * Starts a pool of 2 interpreters on `host` in a child Node process (test/fixtures/hold-remote-pool.ts),
 * SIGKILLs that process, and resolves with the time until both interpreters are gone.
 */
export async function nodeDeathMs(ctx: BenchContext, hosts: TestHosts, host: TestHost): Promise<number> {
  const child = ctx.spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fixtures', 'hold-remote-pool.ts'),
    JSON.stringify({ agent: host.agent, serverKey: host.serverKey, keys: hosts.client, path: PY_DIR })], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as number[]);
    });
    child.once('exit', (code, signal) => reject(new Error(`the pool holder exited (code ${code}, signal ${signal}) before its pool was ready`)));
  });
  if (pids.length !== 2 || !pids.every(isAlive)) throw new Error(`the pool holder reported ${JSON.stringify(pids)}, not 2 live interpreters`);
  const t0 = nowMs();
  child.kill('SIGKILL');
  await until(() => !pids.some(isAlive), 'the remote interpreters of a dead Node to be gone', 10_000);
  return nowMs() - t0;
}

export interface LedgerRun {
  /** Calls whose function ran more than once (the ledger holds their id twice). */
  duplicates: number;
  kills: number;
  completed: number;
  /** Calls that rejected with anything but `InterpreterExitedError` (must be none). */
  wrongErrors: number;
}

/**
 * `calls` calls of `record(ledger, i, 0.01)` at once on a pool of 2 interpreters on each of two
 * hosts, while a busy interpreter is SIGKILLed every 60 ms (`kills` times): every run of a call
 * leaves a line in the ledger, so a call run twice shows as a duplicate.
 */
export async function ledgerRun(ctx: BenchContext, bridge: Bridge, hosts: TestHosts, on: readonly TestHost[], calls: number, kills: number): Promise<LedgerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'piton-bench-ledger-'));
  const ledger = join(dir, 'ledger');
  const pool = await startRemotePool(ctx, hosts, on.map((h) => [h, 2] as const));
  try {
    let killed = 0;
    const pending = Array.from({ length: calls }, (_, i) => pool.call('functions', 'record', [ledger, i, 0.01]));
    const killer = (async () => {
      while (killed < kills) {
        await new Promise((r) => setTimeout(r, 60));
        const victim = pool.interpreters().find((i) => i.busy);
        if (victim === undefined) break; // all calls done
        try {
          process.kill(victim.pid, 'SIGKILL');
          killed++;
        } catch {
          // already replaced
        }
      }
    })();
    const results = await Promise.allSettled(pending);
    await killer;
    const lines = readFileSync(ledger, 'utf8').trim().split('\n');
    return {
      duplicates: lines.length - new Set(lines).size,
      kills: killed,
      completed: results.filter((r) => r.status === 'fulfilled').length,
      wrongErrors: results.filter((r) => r.status === 'rejected' && !(r.reason instanceof bridge.InterpreterExitedError)).length,
    };
  } finally {
    await ctx.release(pool);
    rmSync(dir, { recursive: true, force: true });
  }
}
