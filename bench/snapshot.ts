/**
 * What the snapshot of a typed array at `call()` costs (issue 10, item 3). By default a call copies
 * the memory of the typed arrays in its arguments when it is made, so that Python receives the
 * values as they were then; `transfer: true` skips the copy (the caller promises not to write to
 * them until the call settles). Per size, in the same trial:
 *
 * - the copy alone, into memory reused from the previous call's snapshot (what a pool does once
 *   it has sent an array of that size, snapshots.ts) and into fresh memory (the first time);
 * - the round trip it sits in: `pool.call('functions', 'echo', [array])` with and without
 *   `transfer`, MB/s (array bytes one way per second of round trip), and their ratio.
 *
 * The rationale checks itself: the snapshot must stay a small share of the round trip
 * (transfer ≤ 1.25× the default's rate at 64 MiB), or `transfer` would be the only sane choice
 * and the safe default would be a trap.
 */
import type { BenchContext } from './lib/context.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import { timeSync } from './lib/timing.js';

const MiB = 1024 * 1024;

interface Snapshots {
  take(view: Uint8Array): Buffer;
  give(buffers: readonly Buffer[]): void;
  clear(): void;
}

/** The bridge's snapshot memory, from its build output (internal, so not exported by the package). */
async function snapshotBuffers(): Promise<Snapshots> {
  const mod = (await import('../packages/python-bridge/dist/pool/snapshots.js')) as {
    SnapshotBuffers: new (options: { maxBytes: number; idleMs: number }) => Snapshots;
  };
  return new mod.SnapshotBuffers({ maxBytes: 128 * MiB, idleMs: 60_000 });
}

async function rate(echo: () => Promise<unknown>, bytes: number, reps: number): Promise<number> {
  const t0 = nowMs();
  for (let i = 0; i < reps; i++) {
    const back = await echo();
    if (!(back instanceof Float64Array) || back.byteLength !== bytes) throw new Error(`the ${bytes}-byte array did not come back whole`);
  }
  return (bytes * reps) / ((nowMs() - t0) * 1000);
}

export async function runSnapshot(ctx: BenchContext): Promise<Row[]> {
  const snapshots = await snapshotBuffers();
  const pool = await startPool(ctx, { size: 1 });
  const rows: Row[] = [];
  for (const mib of [1, 64]) {
    const array = new Float64Array((mib * MiB) / 8);
    for (let i = 0; i < array.length; i++) array[i] = i * 0.5;
    const minMs = mib === 1 ? 200 : 1_000;
    const reps = mib === 1 ? (ctx.settings.quick ? 20 : 100) : (ctx.settings.quick ? 2 : 6);
    const reusedUs: number[] = [], freshUs: number[] = [], byDefault: number[] = [], transferred: number[] = [];
    const bytes = Buffer.from(array.buffer);
    const viaDefault = () => pool.call('functions', 'echo', [array]);
    const viaTransfer = () => pool.call('functions', 'echo', [array], { transfer: true });
    await rate(viaDefault, array.byteLength, 2);
    await rate(viaTransfer, array.byteLength, 2);
    for (let trial = 0; trial < ctx.settings.trials; trial++) {
      reusedUs.push(timeSync(() => snapshots.give([snapshots.take(bytes)]), minMs));
      snapshots.clear();
      freshUs.push(timeSync(() => snapshots.take(bytes), minMs));
      if (trial % 2 === 0) {
        byDefault.push(await rate(viaDefault, array.byteLength, reps));
        transferred.push(await rate(viaTransfer, array.byteLength, reps));
      } else {
        transferred.push(await rate(viaTransfer, array.byteLength, reps));
        byDefault.push(await rate(viaDefault, array.byteLength, reps));
      }
    }
    const b = `Float64Array snapshot at call(), ${mib} MiB`;
    rows.push({ benchmark: b, figure: 'the copy alone, into reused memory', unit: 'µs', samples: reusedUs });
    rows.push({ benchmark: b, figure: 'the copy alone, into fresh memory (first of its size)', unit: 'µs', samples: freshUs });
    rows.push({ benchmark: b, figure: 'pool of 1, numpy echo, default (snapshot)', unit: 'MB/s', samples: byDefault });
    const row: Row = {
      benchmark: b,
      figure: 'pool of 1, numpy echo, transfer: true',
      unit: 'MB/s',
      samples: transferred,
      ratio: ratioTo('× default', transferred, byDefault),
    };
    if (mib === 64) row.target = { text: '≤ 1.25× default (the snapshot stays a small share)', on: 'ratio', met: (r) => r <= 1.25 };
    rows.push(row);
  }
  await ctx.release(pool);
  return rows;
}
