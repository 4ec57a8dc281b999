/**
 * Recovery: SIGKILL of an interpreter busy with a call, timed to (a) the rejection of that call
 * and (b) the next successful call; on a pool of 1 the next call waits for a replacement, on a pool
 * of 2 the other (idle) interpreter serves it. Also the cold start of an interpreter (spawn →
 * ready), with and without numpy preloaded.
 *
 * These rows use `startMethod: 'spawn'`, so that a replacement is a cold start; the `startup`
 * family measures the fork server. A kill of an interpreter busy in a call is a crash, which the
 * pool replaces at once whatever the rate (only failed starts back off).
 */
import type { PythonPool } from '@piton/python-bridge';
import { exited, type BenchContext } from './lib/context.js';
import { startPool, until } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs, summarize } from './lib/stats.js';

interface KillTiming {
  rejectMs: number;
  nextMs: number;
}

async function killBusy(pool: PythonPool, InterpreterExitedError: new (...a: never[]) => Error): Promise<KillTiming> {
  await pool.whenReady();
  const pending = pool.call('functions', 'sleep', [60]);
  const settled = pending.then(() => nowMs(), (error: unknown) => ({ error, at: nowMs() }));
  await until(() => pool.interpreters().some((i) => i.busy), 'an interpreter to be busy');
  const victim = pool.interpreters().find((i) => i.busy)!;
  const t0 = nowMs();
  process.kill(victim.pid, 'SIGKILL');
  const outcome = await settled;
  if (typeof outcome === 'number' || !(outcome.error instanceof InterpreterExitedError)) {
    throw new Error(`the killed interpreter's call did not reject with InterpreterExitedError: ${String(typeof outcome === 'number' ? 'it resolved' : outcome.error)}`);
  }
  const next = await pool.call('functions', 'noop', [1]);
  const t2 = nowMs();
  if (next !== 1) throw new Error('the call after the kill did not return its argument');
  return { rejectMs: outcome.at - t0, nextMs: t2 - t0 };
}

async function coldStartMs(ctx: BenchContext, preload: string[]): Promise<number> {
  const t0 = nowMs();
  const pool = await startPool(ctx, { size: 1, preload, startMethod: 'spawn' });
  const ms = nowMs() - t0;
  await ctx.release(pool);
  return ms;
}

/** Spawn → exit of `python -c code`: what the interpreter and the imports alone cost. */
async function pythonRunMs(ctx: BenchContext, code: string): Promise<number> {
  const t0 = nowMs();
  const child = ctx.spawn(ctx.python, ['-c', code], { stdio: 'ignore' });
  await exited(child);
  if (child.exitCode !== 0) throw new Error(`python -c ${JSON.stringify(code)} exited with ${child.exitCode}`);
  return nowMs() - t0;
}

export async function runRecovery(ctx: BenchContext): Promise<Row[]> {
  const { InterpreterExitedError } = await import('@piton/python-bridge');
  const kills = ctx.settings.quick ? 1 : 3;
  const cold: number[] = [], coldNumpy: number[] = [], bare: number[] = [], imports: number[] = [], importsNumpy: number[] = [];
  const reject1: number[] = [], next1: number[] = [], reject2: number[] = [], next2: number[] = [];
  const one = await startPool(ctx, { size: 1, startMethod: 'spawn' });
  const two = await startPool(ctx, { size: 2, startMethod: 'spawn' });
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    bare.push(await pythonRunMs(ctx, 'pass'));
    imports.push(await pythonRunMs(ctx, 'import zmq, msgpack'));
    importsNumpy.push(await pythonRunMs(ctx, 'import zmq, msgpack, numpy'));
    cold.push(await coldStartMs(ctx, []));
    coldNumpy.push(await coldStartMs(ctx, ['numpy']));
    // Several kills per trial; the trial's figure is their median.
    const t1: KillTiming[] = [], t2: KillTiming[] = [];
    for (let k = 0; k < kills; k++) {
      await Promise.all([one.whenReady(), two.whenReady()]);
      t1.push(await killBusy(one, InterpreterExitedError));
      t2.push(await killBusy(two, InterpreterExitedError));
    }
    reject1.push(summarize(t1.map((t) => t.rejectMs)).median);
    next1.push(summarize(t1.map((t) => t.nextMs)).median);
    reject2.push(summarize(t2.map((t) => t.rejectMs)).median);
    next2.push(summarize(t2.map((t) => t.nextMs)).median);
  }
  await ctx.release(one);
  await ctx.release(two);
  const b = 'recovery';
  return [
    { benchmark: b, figure: 'for scale: python -c pass', unit: 'ms', samples: bare },
    { benchmark: b, figure: 'for scale: python -c "import zmq, msgpack"', unit: 'ms', samples: imports },
    { benchmark: b, figure: 'for scale: python -c "import zmq, msgpack, numpy"', unit: 'ms', samples: importsNumpy },
    { benchmark: b, figure: 'cold start, spawn → ready (pool of 1 started)', unit: 'ms', samples: cold },
    { benchmark: b, figure: 'cold start with numpy preloaded', unit: 'ms', samples: coldNumpy, ratio: ratioTo('× without', coldNumpy, cold) },
    {
      benchmark: b, figure: 'pool of 1: SIGKILL → its call rejects', unit: 'ms', samples: reject1,
      target: { text: '≤ 10 ms', on: 'value', met: (v) => v <= 10 },
    },
    {
      benchmark: b, figure: 'pool of 1: SIGKILL → next call served', unit: 'ms', samples: next1,
      ratio: { label: ' ms over cold start', samples: next1.map((v, i) => v - cold[i]!) },
      target: { text: '≤ cold start + 20 ms', on: 'ratio', met: (d) => d <= 20 },
    },
    {
      benchmark: b, figure: 'pool of 2: SIGKILL → its call rejects', unit: 'ms', samples: reject2,
      target: { text: '≤ 10 ms', on: 'value', met: (v) => v <= 10 },
    },
    {
      // "At once": the call issued when the rejection arrives does not wait for a replacement.
      benchmark: b, figure: 'pool of 2: SIGKILL → next call served (other interpreter idle)', unit: 'ms', samples: next2,
      ratio: { label: ' ms after the rejection', samples: next2.map((v, i) => v - reject2[i]!) },
      target: { text: 'at once: ≤ 2 ms after the rejection', on: 'ratio', met: (d) => d <= 2 },
    },
  ];
}
