/** Timing loops for synchronous and asynchronous operations. */
import { nowMs } from './stats.js';

/**
 * Time of one synchronous `op`, in µs: warms up for `warmMs`, sizes a batch to take about a tenth
 * of `minMs`, then returns the median of the batches' mean times over `minMs`. The median keeps a
 * batch that a GC pause or another process interrupted from moving the figure.
 */
export function timeSync(op: () => void, minMs: number, warmMs = minMs / 2): number {
  let start = nowMs();
  let warmOps = 0;
  while (nowMs() - start < warmMs) { op(); warmOps++; }
  const perOpMs = warmMs / Math.max(1, warmOps);
  const batch = Math.max(1, Math.round(minMs / 10 / perOpMs));
  const means: number[] = [];
  start = nowMs();
  while (nowMs() - start < minMs || means.length < 5) {
    const t0 = nowMs();
    for (let i = 0; i < batch; i++) op();
    means.push(((nowMs() - t0) * 1000) / batch);
  }
  means.sort((a, b) => a - b);
  return means[means.length >> 1]!;
}

/** Per-call latencies in ms of `count` sequential calls of `op`. */
export async function latencies(op: () => Promise<unknown>, count: number): Promise<Float64Array> {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = nowMs();
    await op();
    out[i] = nowMs() - t0;
  }
  return out;
}

/**
 * Runs `total` calls of `op` with at most `concurrency` in flight (each of `concurrency` callers
 * loops until the total is used up); resolves with calls per second.
 */
export async function throughput(op: () => Promise<unknown>, total: number, concurrency: number): Promise<number> {
  let issued = 0;
  const caller = async () => {
    while (issued < total) {
      issued++;
      await op();
    }
  };
  const t0 = nowMs();
  await Promise.all(Array.from({ length: concurrency }, caller));
  return (total * 1000) / (nowMs() - t0);
}

/**
 * Per-call latencies in ms of `count` rounds in which each of `ops` makes one call, the order
 * rotating each round: all see the same moments of the machine's load, so their ratio moves far
 * less with other work than when each makes its calls in a batch of its own.
 */
export async function interleavedLatencies(ops: readonly (() => Promise<unknown>)[], count: number): Promise<Float64Array[]> {
  const out = ops.map(() => new Float64Array(count));
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < ops.length; j++) {
      const k = (i + j) % ops.length;
      const t0 = nowMs();
      await ops[k]!();
      out[k]![i] = nowMs() - t0;
    }
  }
  return out;
}
