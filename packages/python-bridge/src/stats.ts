/**
 * Call latencies over a sliding window of the most recent calls: enough for p50/p99 that follow
 * the pool's current behaviour, in constant memory whatever the pool's uptime.
 */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 2048) {
    this.#samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  /** Percentiles in ms (nearest rank); 0 when no call has completed yet. */
  percentiles(): { p50: number; p99: number } {
    if (this.#count === 0) return { p50: 0, p99: 0 };
    const sorted = this.#samples.slice(0, this.#count).sort();
    const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
    return { p50: rank(0.5), p99: rank(0.99) };
  }
}

/** What `pool.stats()` reports. */
export interface PoolStats {
  /** Interpreters the pool keeps (its `size`). */
  size: number;
  /** Interpreters started and idle, ready for a call. */
  ready: number;
  /** Interpreters running a call or holding an open stream. */
  busy: number;
  /** Calls waiting for an interpreter. */
  queued: number;
  /** Interpreters started to replace one that exited or was recycled. */
  restarts: number;
  /** Interpreters that died after serving (replaced at once; never stop the pool). */
  crashes: number;
  /** Starts that failed, and interpreters that died before serving (these count toward `intensity`). */
  startFailures: number;
  /** How interpreters are made: `'forkserver'` or `'spawn'`. */
  startMethod: 'forkserver' | 'spawn';
  /** Calls that returned a result. */
  completed: number;
  /** Calls that rejected, for any reason. */
  failed: number;
  /** Latency from `call()` to its settlement, ms, over the most recent calls. */
  latency: { p50: number; p99: number };
}
