import { expect } from 'chai';
import { PythonError, PythonPool, WorkerExitedError } from '@piton/python-bridge';
import { fixtures } from './helpers.js';

// Short calls that queue up share a round trip. These tests pin down that sharing one changes
// nothing a caller can see: order, each call's own result or error, and what a crash means.
describe('PythonPool: queued short calls share a round trip', () => {
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'], restartBackoff: false });
    // Known short functions: the dispatcher only batches calls whose function it has timed under
    // 1 ms on average (a moving average of round trips). Enough samples that one slow round trip
    // on a loaded machine, early in the warm-up, no longer weighs.
    for (let i = 0; i < 20; i++) {
      await pool.call('calls', 'echo', [i]);
      await pool.call('calls', 'maybe_die', [false, i]);
      await pool.call('calls', 'fail', ['warm-up']).catch(() => undefined);
    }
  });

  afterEach(() => pool.stop());

  it('gives each queued call its own result or error, in order', async () => {
    const blocker = pool.call('calls', 'sleep', [0.2, 'blocker']);
    const calls = Array.from({ length: 30 }, (_, i) =>
      (i % 3 === 2 ? pool.call('calls', 'fail', [`no ${i}`]) : pool.call('calls', 'echo', [i])).then(
        (value) => ({ i, value }),
        (error: unknown) => ({ i, error }),
      ),
    );
    expect(pool.stats().queued).to.equal(30);
    expect(await blocker).to.equal('blocker');
    const settled = await Promise.all(calls);
    settled.forEach((outcome, i) => {
      if (i % 3 === 2) {
        expect(outcome).to.have.property('error').that.is.instanceOf(PythonError);
        expect((outcome as { error: PythonError }).error.message).to.equal(`no ${i}`);
      } else {
        expect(outcome).to.deep.equal({ i, value: i });
      }
    });
  });

  it('rejects every call of a round trip whose interpreter dies, and retries those that asked', async () => {
    const blocker = pool.call('calls', 'sleep', [0.2, 'blocker']);
    const doomed = Array.from({ length: 8 }, (_, i) => pool.call('calls', 'maybe_die', [i === 4, i]).catch((e: unknown) => e));
    const retried = pool.call('calls', 'maybe_die', [false, 'again'], { retries: 1 });
    expect(await blocker).to.equal('blocker');
    // All nine were queued behind the blocker and went in one round trip: the death of the
    // interpreter at the fifth takes the results of the first four with it, as at-most-once says.
    for (const outcome of await Promise.all(doomed)) expect(outcome).to.be.instanceOf(WorkerExitedError);
    expect(await retried).to.equal('again');
    await pool.whenReady();
    expect(await pool.call('calls', 'echo', ['after'])).to.equal('after');
  });

  it('never batches a call that has a timeout or a signal', async () => {
    const blocker = pool.call('calls', 'sleep', [0.2, 'blocker']);
    const plain = pool.call('calls', 'echo', ['plain']);
    const withTimeout = pool.call('calls', 'maybe_die', [true, 'x'], { timeout: 10_000 }).catch((e: unknown) => e);
    const after = pool.call('calls', 'echo', ['after']);
    expect(await blocker).to.equal('blocker');
    // The timed call ran alone: its death touched neither neighbour.
    expect(await plain).to.equal('plain');
    expect(await withTimeout).to.be.instanceOf(WorkerExitedError);
    expect(await after).to.equal('after');
  });
});
