/**
 * Starting the bridge's pool for a benchmark. The package is imported lazily so that the families
 * that do not need it (codec, floor) run even where it is not built.
 */
import type { PoolOptions, PythonPool } from '@piton/python-bridge';
import { PY_DIR, type BenchContext } from './context.js';

/** Starts a pool calling bench/python/functions.py, registered with `ctx` for clean-up. */
export async function startPool(ctx: BenchContext, options: PoolOptions = {}): Promise<PythonPool> {
  const { PythonPool } = await import('@piton/python-bridge');
  // Default options: recovery kills interpreters busy in calls, which the pool replaces whatever
  // their rate (only failed starts count toward intensity).
  const pool = await PythonPool.start({ path: PY_DIR, python: ctx.python, ...options });
  if (ctx.settings.metrics) {
    const { poolMetrics } = await import('@piton/python-bridge/metrics');
    const { Registry } = await import('prom-client');
    const metrics = poolMetrics(pool, { registry: new Registry() });
    ctx.own({ stop: async () => metrics.close() });
  }
  return ctx.own(pool);
}

/** Polls `condition` every millisecond until it holds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
