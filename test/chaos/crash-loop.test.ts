// A crash loop that begins after a good start: every fresh interpreter dies at once. The pool
// must give up within its restart-intensity budget, with backoff between attempts, and leave
// nothing behind.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestartingEvent, StartFailedEvent, SupervisorEvent } from '@piton/core';
import { PoolStoppedError, PythonPool, type PoolOptions } from '@piton/python-bridge';
import { fixtures, workersOf } from '../helpers.js';
import { until } from '../support.js';

const INTENSITY = 4;

interface LoopRecord {
  events: SupervisorEvent[];
  restarting: RestartingEvent[];
  startFailed: StartFailedEvent[];
  started: number;
  elapsedMs: number;
}

/** Starts a pool, arms the crash marker, kills one interpreter, and records until the pool gives up. */
async function crashLoop(options: PoolOptions): Promise<{ pool: PythonPool; record: LoopRecord }> {
  const dir = mkdtempSync(join(tmpdir(), 'piton-crash-loop-'));
  const marker = join(dir, 'marker');
  try {
    const pool = await PythonPool.start({
      size: 2,
      path: fixtures,
      preload: ['dies_when_marked'],
      env: { PITON_CRASH_MARKER: marker },
      ...options,
      supervision: { intensity: INTENSITY, period: 60_000, ...options.supervision },
    });
    const events: SupervisorEvent[] = [];
    const stopped = new Promise<void>((resolve) =>
      pool.system.events.on('event', (event) => {
        events.push(event);
        if (event.type === 'exited' && event.path.endsWith('/root')) resolve();
      }),
    );
    // The fork server's spare was forked before the marker: it would serve. The loop is of every
    // interpreter forked from now on, so it goes too (the server forks on request once spares die).
    const spare = await spareOf(pool);
    writeFileSync(marker, '');
    if (spare !== undefined) process.kill(spare, 'SIGKILL');
    const began = Date.now();
    process.kill(pool.interpreters()[0]!.pid, 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      stopped,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the pool did not give up within 30 s; events: ${events.map((e) => e.type).join(', ')}`)), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const record: LoopRecord = {
      events,
      restarting: events.filter((e): e is RestartingEvent => e.type === 'restarting'),
      startFailed: events.filter((e): e is StartFailedEvent => e.type === 'start_failed'),
      started: events.filter((e) => e.type === 'started').length,
      elapsedMs: Date.now() - began,
    };
    return { pool, record };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** With a fork server, the interpreter it forked ahead of need (piton/forkserver.py), once it is there. */
async function spareOf(pool: PythonPool): Promise<number | undefined> {
  if (pool.stats().startMethod !== 'forkserver') return undefined;
  const interpreters = pool.interpreters().map((i) => i.pid);
  const parent = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[1]);
  const server = parent(interpreters[0]!);
  let spare: number | undefined;
  await until(() => {
    spare = workersOf().find((pid) => pid !== server && !interpreters.includes(pid));
    return spare !== undefined;
  }, "the fork server's spare");
  return spare;
}

async function expectGaveUpCleanly(pool: PythonPool, record: LoopRecord): Promise<void> {
  // Every attempt to start failed, each with the cause, and the attempts stayed within budget.
  expect(record.started, 'interpreters started after the marker').to.equal(0);
  expect(record.startFailed.length, 'failed starts').to.be.within(1, INTENSITY);
  expect(record.restarting.length, 'restart decisions').to.be.at.most(INTENSITY + 1);
  for (const failed of record.startFailed) {
    expect(String((failed.reason as Error).message)).to.contain('exited with code 7').and.to.contain('dies_when_marked');
  }
  expect(record.events.some((e) => e.type === 'gave_up')).to.equal(true);
  // Backoff: each delay at least the one before, and growing overall.
  const delays = record.restarting.map((e) => e.delay);
  for (let i = 1; i < delays.length; i++) expect(delays[i], `delays ${delays.join(', ')}`).to.be.at.least(delays[i - 1]!);
  expect(delays.at(-1)!).to.be.greaterThan(delays[0]!);
  // Nothing is left, and the pool says it is stopped.
  await until(() => workersOf().length === 0, 'no interpreter left', 5_000);
  const error = await pool.call('calls', 'echo', [1]).catch((e: unknown) => e);
  expect(error).to.be.instanceOf(PoolStoppedError);
  // The refusal says why the pool stopped: the budget, and the interpreters' last failure.
  expect((error as Error).message)
    .to.contain(`more than ${INTENSITY} failed interpreter starts`)
    .and.to.contain('exited with code 7')
    .and.to.contain('dies_when_marked');
  console.log(
    `crash loop: ${record.startFailed.length} failed starts, delays ${delays.join('/')} ms, gave up after ${record.elapsedMs} ms`,
  );
}

for (const startMethod of ['forkserver', 'spawn'] as const) describe(`chaos: a crash loop after a good start (${startMethod})`, function () {
  this.timeout(60_000);

  it(`gives up after at most ${INTENSITY} failed restarts, with growing delays, leaving no interpreter`, async () => {
    const { pool, record } = await crashLoop({ startMethod });
    try {
      await expectGaveUpCleanly(pool, record);
    } finally {
      await pool.stop();
    }
  });

  it('waits at least the backoff delay between two attempts', async () => {
    const { pool, record } = await crashLoop({ startMethod, supervision: { backoff: { min: 100, max: 400 } } });
    try {
      await expectGaveUpCleanly(pool, record);
      // Attempt n+1 starts after attempt n failed plus its delay, so failures are at least that far apart.
      for (let i = 1; i < record.startFailed.length; i++) {
        const gap = record.startFailed[i]!.at - record.startFailed[i - 1]!.at;
        const delay = record.restarting[i]!.delay;
        expect(gap, `gap before attempt ${i + 1}`).to.be.at.least(delay);
      }
      expect(record.restarting.map((e) => e.delay).slice(0, 4)).to.deep.equal([100, 200, 400, 400]);
    } finally {
      await pool.stop();
    }
  });
});
