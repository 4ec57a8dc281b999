/**
 * A Prometheus exporter for pools, on `prom-client` (an optional peer dependency: only this
 * entry point, `@piton/python-bridge/metrics`, imports it).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `piton_pool_calls_total` | counter | `pool`, `outcome`: ok, python_error, exited, timeout, aborted, queue_full, stopped, error |
 * | `piton_pool_call_duration_seconds` | histogram | `pool`, `phase`: wait (queued until an interpreter took it), run (on the interpreter) |
 * | `piton_pool_interpreters` | gauge | `pool`, `state`: ready, busy, starting, stopping |
 * | `piton_pool_target_interpreters` | gauge | `pool`: the interpreters the pool keeps now (an elastic pool's current size) |
 * | `piton_pool_size_limit` | gauge | `pool`, `bound`: min, max (the local interpreters' bounds) |
 * | `piton_pool_grown_total` | counter | `pool`: interpreters started because calls waited |
 * | `piton_pool_shrunk_total` | counter | `pool`: interpreters stopped because the pool shrank |
 * | `piton_pool_restarts_total` | counter | `pool`, `cause`: crash, recycle, timeout, abort |
 * | `piton_pool_queue_length` | gauge | `pool` |
 *
 * `pool` is the pool's path (`python-pool-1/root`, `app/root/py`), stable across restarts of a
 * pool mounted in a tree. Counters and gauges are read from `stats()` when the registry is
 * scraped: they cost nothing per call. The histogram counts each call (see metrics-histogram.ts)
 * as it settles, through the `piton:pool:call` tracing channel (see tracing.ts), which the
 * exporter subscribes to.
 */
import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { CountedHistogram, type BucketCounts } from './ops/metrics-histogram.js';
import { CALL_OUTCOMES, RESTART_CAUSES, type PoolStats } from './ops/stats.js';
import type { PoolRef } from './pool/pool-handle.js';
import { callChannel, type CallTraceContext } from './ops/tracing.js';
import { describe, names, rejectUnknownKeys } from './validation.js';

export interface PoolMetricsOptions {
  /** Where the metrics are registered. @default prom-client's default `register` */
  registry?: Registry;
  /**
   * Upper bounds of the duration histogram's buckets, in seconds, increasing.
   * @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
   */
  buckets?: number[];
}

const METRICS_OPTION_NAMES = names<PoolMetricsOptions>()(['registry', 'buckets']);

export const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A running exporter; `close()` unregisters its metrics and stops observing calls. */
export interface PoolMetrics {
  close(): void;
}

type Phase = 'wait' | 'run';

const METRIC_NAMES = [
  'piton_pool_calls_total',
  'piton_pool_call_duration_seconds',
  'piton_pool_interpreters',
  'piton_pool_restarts_total',
  'piton_pool_queue_length',
  'piton_pool_target_interpreters',
  'piton_pool_size_limit',
  'piton_pool_grown_total',
  'piton_pool_shrunk_total',
  'piton_pool_capacity',
  'piton_pool_calls_in_flight',
] as const;

/**
 * Exports the metrics of `pools` (one pool or several; each series has a `pool` label) to a
 * prom-client registry. One exporter per registry: a second would register the same names.
 */
export function poolMetrics(pools: PoolRef | readonly PoolRef[], options: PoolMetricsOptions = {}): PoolMetrics {
  const list = Array.isArray(pools) ? (pools as readonly PoolRef[]) : [pools as PoolRef];
  if (list.length === 0 || !list.every((p) => p && typeof p.stats === 'function' && typeof p.path === 'string')) {
    throw new TypeError(`pools must be a pool (PythonPool or PoolRef) or an array of them, got ${describe(pools)}`);
  }
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  rejectUnknownKeys('options', options, METRICS_OPTION_NAMES);
  const { registry = defaultRegistry, buckets = DEFAULT_BUCKETS } = options;
  if (!Array.isArray(buckets) || !buckets.every((b) => typeof b === 'number')) {
    throw new TypeError(`options.buckets must be an array of numbers of seconds, got ${describe(buckets)}`);
  }
  if (buckets.length === 0 || !buckets.every((b, i) => b > 0 && (i === 0 || b > buckets[i - 1]!))) {
    throw new RangeError(`options.buckets must be increasing positive numbers of seconds, got ${describe(buckets)}`);
  }
  const registers = [registry];
  // Paths are read once: a pool mounted in a tree keeps its path across restarts, and its
  // `whereis` handle has none while no incarnation runs.
  const mounted = list.map((pool) => ({ pool, path: pool.path }));
  /** Each pool's stats now; a pool between two incarnations (its handle's stats() rejects) is left out. */
  const statsOf = () =>
    mounted.flatMap(({ pool, path }) => {
      const stats: PoolStats | Promise<never> = pool.stats();
      if (stats instanceof Promise) {
        stats.catch(() => {});
        return [];
      }
      return [{ pool: path, stats }];
    });

  const calls = new Counter({
    name: 'piton_pool_calls_total',
    help: 'Calls to the pool that have settled, by outcome.',
    labelNames: ['pool', 'outcome'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) {
        for (const outcome of CALL_OUTCOMES) this.inc({ pool, outcome }, stats.outcomes[outcome]);
      }
    },
  });
  const interpreters = new Gauge({
    name: 'piton_pool_interpreters',
    help: 'Interpreters of the pool, by state.',
    labelNames: ['pool', 'state'] as const,
    registers,
    collect() {
      this.reset(); // a pool between two incarnations shows no stale figures
      for (const { pool, stats } of statsOf()) {
        this.set({ pool, state: 'ready' }, stats.ready);
        this.set({ pool, state: 'busy' }, stats.busy);
        this.set({ pool, state: 'starting' }, stats.starting);
        this.set({ pool, state: 'stopping' }, stats.stopping ?? 0);
      }
    },
  });
  new Gauge({
    name: 'piton_pool_capacity',
    help: 'Calls the pool may run at once: its interpreters times its concurrency.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) this.set({ pool }, stats.capacity);
    },
  });
  new Gauge({
    name: 'piton_pool_calls_in_flight',
    help: 'Calls and open streams running now on each interpreter of the pool (at most its concurrency).',
    labelNames: ['pool', 'worker'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) {
        for (const [worker, inFlight] of Object.entries(stats.inFlightByInterpreter)) this.set({ pool, worker }, inFlight);
      }
    },
  });
  new Gauge({
    name: 'piton_pool_target_interpreters',
    help: 'Interpreters the pool keeps now: its local ones (what an elastic pool has grown or shrunk to) and its hosts\'.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) this.set({ pool }, stats.size);
    },
  });
  new Gauge({
    name: 'piton_pool_size_limit',
    help: 'The bounds on the pool\'s local interpreters (equal for a fixed size).',
    labelNames: ['pool', 'bound'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) {
        if (stats.limits === undefined) continue;
        this.set({ pool, bound: 'min' }, stats.limits.min);
        this.set({ pool, bound: 'max' }, stats.limits.max);
      }
    },
  });
  new Counter({
    name: 'piton_pool_grown_total',
    help: 'Interpreters started because calls waited for one (an elastic pool growing).',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) this.inc({ pool }, stats.grown ?? 0);
    },
  });
  new Counter({
    name: 'piton_pool_shrunk_total',
    help: 'Interpreters stopped because the pool shrank (idle for idleTimeout, a resize, a host removed is not counted here).',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) this.inc({ pool }, stats.shrunk ?? 0);
    },
  });
  const restarts = new Counter({
    name: 'piton_pool_restarts_total',
    help: 'Interpreters replaced by a fresh one, by cause.',
    labelNames: ['pool', 'cause'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) {
        for (const cause of RESTART_CAUSES) this.inc({ pool, cause }, stats.restartsByCause[cause]);
      }
    },
  });
  const queue = new Gauge({
    name: 'piton_pool_queue_length',
    help: 'Calls waiting for an interpreter.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of statsOf()) this.set({ pool }, stats.queued);
    },
  });
  const durations = new CountedHistogram({
    name: 'piton_pool_call_duration_seconds',
    help: 'Time a call waited for an interpreter (phase "wait") and ran on it (phase "run").',
    labelNames: ['pool', 'phase'] as const,
    buckets,
    registers,
  });

  // One series per pool and phase, made up front: no label hashing per call.
  const observers = new Map<string, Record<Phase, BucketCounts>>();
  for (const { path } of mounted) {
    observers.set(path, { wait: durations.series({ pool: path, phase: 'wait' }), run: durations.series({ pool: path, phase: 'run' }) });
  }
  const onSettled = (message: unknown) => {
    const context = message as CallTraceContext;
    const observe = observers.get(context.pool);
    if (!observe) return;
    if (context.waitMs !== undefined) observe.wait.observe(context.waitMs / 1000);
    if (context.runMs !== undefined) observe.run.observe(context.runMs / 1000);
  };
  callChannel.asyncEnd.subscribe(onSettled);

  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      callChannel.asyncEnd.unsubscribe(onSettled);
      for (const name of METRIC_NAMES) registry.removeSingleMetric(name);
    },
  };
}
