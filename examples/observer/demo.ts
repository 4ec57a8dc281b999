/**
 * The observer example's system, as a function, so that the example and its browser test run the
 * same tree:
 *
 *   demo/root            one_for_one, intensity 10 / 10 s
 *   ├── clock            worker: counts ticks
 *   ├── flaky            worker: crashes when told to (now and then, in the example)
 *   ├── jobs             supervisor: one_for_one, intensity 1 / 5 s
 *   │   └── fragile      worker: crashes when told to; twice within 5 s and `jobs` gives up
 *   └── python           a pool of 2 Python interpreters (demo_jobs.work, demo_jobs.segfault)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorSystem, supervisor, worker, type ChildRef, type Registered, type SupervisorRef } from '@piton/core';
import { pythonPool, type PoolRef } from '@piton/python-bridge';

const here = dirname(fileURLToPath(import.meta.url));

type Crashable = ChildRef<'crash', void, 'crash'>;

/** A worker that crashes when it receives 'crash' (as a call or a cast). */
const crashable = worker<number, 'crash', void, 'crash'>({
  init: () => 0,
  handleCall: () => {
    throw new Error('told to crash');
  },
  handleCast: () => {
    throw new Error('told to crash');
  },
});

const clock = worker<number, 'ticks', number, 'tick'>({
  init: (ctx) => {
    const timer = setInterval(() => ctx.self.cast('tick'), 1_000);
    timer.unref();
    return 0;
  },
  handleCall: (_msg, n) => ({ reply: n, state: n }),
  handleCast: (_msg, n) => n + 1,
});

export interface Demo {
  system: ActorSystem;
  root: SupervisorRef;
  /** The pool's registered handle: its methods are the pool's, its alive/id/path the registration's. */
  pool: Registered<PoolRef>;
  /** Crashes `flaky` (root restarts it). */
  crashFlaky(): void;
  /** Crashes `fragile` (`jobs` restarts it; the second time within 5 s, `jobs` gives up and root restarts it). */
  crashFragile(): void;
  stop(): Promise<void>;
}

export async function startDemo(): Promise<Demo> {
  const system = new ActorSystem({ name: 'demo' });
  const root = await system.start(
    supervisor({
      strategy: 'one_for_one',
      intensity: 10,
      period: 10_000,
      children: [
        { id: 'clock', start: clock },
        { id: 'flaky', start: crashable, name: 'flaky' },
        {
          id: 'jobs',
          type: 'supervisor',
          start: supervisor({ strategy: 'one_for_one', intensity: 1, period: 5_000, children: [{ id: 'fragile', start: crashable, name: 'fragile' }] }),
        },
        { id: 'python', type: 'supervisor', name: 'python', start: pythonPool({ size: 2, path: [join(here, 'python')] }) },
      ],
    }),
  );
  const pool = system.whereis<PoolRef>('python');
  await pool.whenReady();
  return {
    system,
    root,
    pool,
    crashFlaky: () => system.whereis<Crashable>('flaky').cast('crash'),
    crashFragile: () => system.whereis<Crashable>('fragile').cast('crash'),
    stop: () => system.stop(),
  };
}
