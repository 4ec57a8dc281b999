import { expect } from 'chai';
import { PythonError, PythonPool, InterpreterExitedError } from '@piton/python-bridge';
import { fixtures } from './helpers.js';

// Short calls that queue up share a round trip. These tests pin down that sharing one changes
// nothing a caller can see: order, each call's own result or error, and what a crash means.
describe('PythonPool: queued short calls share a round trip', () => {
  let pool: PythonPool;

  beforeEach(async () => {
    // Any function the dispatcher has timed counts as short here, whatever the machine's load:
    // what these tests pin down is what batching means, not when it kicks in.
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'], supervision: { backoff: false }, batchCallsUnderMs: 60_000 });
    await pool.call('calls', 'echo', [0]);
    await pool.call('calls', 'maybe_die', [false, 0]);
    await pool.call('calls', 'fail', ['warm-up']).catch(() => undefined);
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
    for (const outcome of await Promise.all(doomed)) expect(outcome).to.be.instanceOf(InterpreterExitedError);
    expect(await retried).to.equal('again');
    await pool.whenReady();
    expect(await pool.call('calls', 'echo', ['after'])).to.equal('after');
  });

  it('runs every call alone with batchCallsUnderMs: 0', async () => {
    const alone = await PythonPool.start({ size: 1, path: fixtures, supervision: { backoff: false }, batchCallsUnderMs: 0 });
    try {
      await alone.call('calls', 'maybe_die', [false, 0]);
      const blocker = alone.call('calls', 'sleep', [0.2, 'blocker']);
      const calls = Array.from({ length: 6 }, (_, i) => alone.call('calls', 'maybe_die', [i === 3, i]).catch((e: unknown) => e));
      expect(await blocker).to.equal('blocker');
      const outcomes = await Promise.all(calls);
      // Each ran in its own round trip: only the call that killed its interpreter failed.
      expect(outcomes.slice(0, 3)).to.deep.equal([0, 1, 2]);
      expect(outcomes[3]).to.be.instanceOf(InterpreterExitedError);
      expect(outcomes.slice(4)).to.deep.equal([4, 5]);
    } finally {
      await alone.stop();
    }
  });

  it('never batches a call that has a timeout or a signal', async () => {
    const blocker = pool.call('calls', 'sleep', [0.2, 'blocker']);
    const plain = pool.call('calls', 'echo', ['plain']);
    const withTimeout = pool.call('calls', 'maybe_die', [true, 'x'], { timeout: 10_000 }).catch((e: unknown) => e);
    const after = pool.call('calls', 'echo', ['after']);
    expect(await blocker).to.equal('blocker');
    // The timed call ran alone: its death touched neither neighbour.
    expect(await plain).to.equal('plain');
    expect(await withTimeout).to.be.instanceOf(InterpreterExitedError);
    expect(await after).to.equal('after');
  });
});
