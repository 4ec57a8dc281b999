// Chaos under load: interpreters are SIGKILLed at random while 10,000 calls run. Every call must
// settle exactly once, with its own answer or a InterpreterExitedError, and the pool must heal.
import { expect } from 'chai';
import { PythonPool, type CallOptions } from '@piton/python-bridge';
import { fixtures, isAlive } from '../helpers.js';
import { until } from '../support.js';
import { Killer } from './killer.js';
import { formatReport, runLoad, type LoadReport } from './load.js';

const SIZE = 4;
const CALLS = 10_000;
const CONCURRENCY = 32;
/** Calls go on past CALLS until this many interpreters were killed, however fast the pool is. */
const MIN_KILLS = 20;

interface ChaosRun {
  report: LoadReport;
  kills: number;
  restarts: number;
}

async function chaos(pool: PythonPool, title: string, callOptions?: CallOptions): Promise<ChaosRun> {
  const before = pool.stats();
  const killer = new Killer(pool, { minDelay: 100, maxDelay: 300 });
  killer.start();
  let report: LoadReport;
  try {
    report = await runLoad(pool, {
      calls: CALLS,
      until: () => killer.killed.length >= MIN_KILLS,
      concurrency: CONCURRENCY,
      deadline: 60_000,
      callOptions,
    });
  } finally {
    killer.stop();
  }
  const after = pool.stats();
  // The pool's own books agree with the callers'.
  expect(after.completed - before.completed, 'completed calls in stats').to.equal(report.ok);
  expect(after.failed - before.failed, 'failed calls in stats').to.equal(report.calls - report.ok);
  await healed(pool);
  const run = { report, kills: killer.killed.length, restarts: pool.stats().restarts - before.restarts };
  // Kills in calls are crashes; a kill of an interpreter not yet given work is a failed start.
  const crashes = pool.stats().crashes - before.crashes;
  const startFailures = pool.stats().startFailures - before.startFailures;
  expect(crashes, 'crashes').to.be.greaterThan(0);
  expect(crashes + startFailures, 'crashes and failed starts, each replaced once').to.equal(run.restarts);
  console.log(formatReport(title, report, { kills: run.kills, restarts: run.restarts, crashes, 'failed starts': startFailures }));
  return run;
}

/** After the killing: `size` live interpreters, each of which answers a call. */
async function healed(pool: PythonPool): Promise<void> {
  await pool.whenReady();
  // whenReady counts attached interpreters; one killed last may not be detached yet.
  await until(
    () => pool.interpreters().length === SIZE && pool.interpreters().every((i) => isAlive(i.pid)),
    `${SIZE} live interpreters`,
    15_000,
  );
  const serving = pool.interpreters().map((i) => i.pid).sort();
  // Four calls that each hold an interpreter for a moment land on four different interpreters.
  const answered = await Promise.all(Array.from({ length: SIZE }, () => pool.call<number>('calls', 'pid_after', [0.2])));
  expect([...answered].sort()).to.deep.equal(serving);
}

function expectEverySettledOnce(run: ChaosRun): void {
  const { report } = run;
  expect(report.settledTwice, 'calls settled twice').to.deep.equal([]);
  expect(report.calls, 'calls sent').to.be.at.least(CALLS);
  expect(report.settled, 'settled calls').to.equal(report.calls);
  expect(report.wrongAnswers, 'calls answered with another call’s value').to.equal(0);
  expect(report.samples, 'rejections other than InterpreterExitedError').to.deep.equal([]);
  expect(run.kills, 'interpreters killed').to.be.at.least(MIN_KILLS);
  expect(run.restarts, 'restarts').to.be.at.least(run.kills);
}

describe('chaos: interpreters SIGKILLed at random under load', function () {
  this.timeout(180_000);
  let pool: PythonPool;

  beforeEach(async () => {
    // Default options: kills in calls are crashes, which are replaced whatever their rate.
    pool = await PythonPool.start({ size: SIZE, path: fixtures, preload: ['calls'] });
  });

  afterEach(() => pool.stop());

  it(`settles each of ${CALLS}+ calls exactly once, with its own answer or InterpreterExitedError, and heals`, async () => {
    const run = await chaos(pool, 'chaos, at-most-once (retries: 0)');
    expectEverySettledOnce(run);
    expect(Object.keys(run.report.failedByType)).to.satisfy((types: string[]) => types.every((t) => t === 'InterpreterExitedError'));
    // Under constant load every interpreter is nearly always busy, so kills cost calls.
    expect(run.report.failedByType.InterpreterExitedError ?? 0, 'calls lost to kills').to.be.greaterThan(0);
  });

  it(`loses none of ${CALLS}+ calls when they may be retried (retries: 5)`, async () => {
    const run = await chaos(pool, 'chaos, with retries: 5', { retries: 5 });
    expectEverySettledOnce(run);
    expect(run.report.failedByType).to.deep.equal({});
    expect(run.report.ok).to.equal(run.report.calls);
  });
});
