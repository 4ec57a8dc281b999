/**
 * Waiting with a deadline, in one place: `within(promise, ms, onTimeout)` races a promise against
 * a timer (and always clears the timer), and `stopLadder(exited, steps)` is the escalation every
 * stop of a process is made of: ask, wait a while, ask harder, until the last step, a kill.
 *
 * Timers are `setLongTimeout`'s, so any length waits as long as it says (Node's own timers fire
 * after 1 ms past 2^31 − 1 ms). These are @piton/core's `within` and `stopLadder`, under their
 * names and signatures: once core exports them, this module becomes one line re-exporting them.
 */
import { setLongTimeout } from '@piton/core';

/**
 * `promise`, unless `ms` pass first: then whatever `onTimeout()` returns (or throws). `'infinity'`
 * waits for good. The timer is cleared as soon as either side wins; a rejection of `promise`
 * passes through.
 */
export function within<T, U>(promise: Promise<T>, ms: number | 'infinity', onTimeout: () => U | Promise<U>): Promise<T | U> {
  if (ms === 'infinity') return promise;
  let fire!: () => void;
  const timedOut = new Promise<'timeout'>((resolve) => {
    fire = () => resolve('timeout');
  });
  const timer = setLongTimeout(fire, ms);
  const first = Promise.race([promise.then((value) => ({ value })), timedOut]);
  return first.then(
    (won) => {
      timer.clear();
      return won === 'timeout' ? onTimeout() : won.value;
    },
    (error: unknown) => {
      timer.clear();
      throw error;
    },
  );
}

/** One rung of a stop ladder: `run` asks for the stop, then the ladder waits up to `wait` ms for the exit. */
export interface StopStep {
  readonly run: () => void;
  /** ms to wait for the exit before the next step, or `'infinity'`. Not used on the last step: nothing comes after it. */
  readonly wait: number | 'infinity';
}

/**
 * Runs `steps` in turn until `exited` settles: each step's `run`, then up to its `wait` for the
 * exit. After the last step it waits for the exit however long it takes, so the last step must be
 * one that ends the process (a kill). Resolves with what `exited` resolved with.
 */
export async function stopLadder<T>(exited: Promise<T>, steps: readonly StopStep[]): Promise<T> {
  let done = false;
  const marked = exited.then((value) => {
    done = true;
    return value;
  });
  for (const [i, step] of steps.entries()) {
    if (done) break;
    step.run();
    if (i === steps.length - 1) break;
    if (await within(marked.then(() => true), step.wait, () => false)) break;
  }
  return marked;
}
