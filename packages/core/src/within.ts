/**
 * Waiting with a deadline, on `setLongTimeout`'s timers: `within(promise, ms, onTimeout)` races a
 * promise against a timer (and always clears the timer), and `stopLadder(exited, steps)` is the
 * escalation every stop is made of: ask, wait a while, ask harder, and so on until the last step,
 * which must end it (a kill).
 */
import { InvalidSpecError } from './errors.js';
import { setLongTimeout, type LongTimeout } from './long-timeout.js';
import { checkFunction, checkOptions, checkTimeout, names } from './validation.js';

/**
 * `promise`, unless `ms` pass first: then whatever `onTimeout()` returns (or throws). `ms` is a
 * timeout by the one rule (finite, >= 0, any length) or `'infinity'`, which waits for good; any
 * other throws a RangeError at once. The timer is cleared as soon as either side wins; a rejection
 * of `promise` passes through.
 */
export function within<T, U>(promise: Promise<T>, ms: number | 'infinity', onTimeout: () => U | Promise<U>): Promise<T | U> {
  if (ms === 'infinity') return promise;
  let fire!: () => void;
  const timedOut = new Promise<'timeout'>((resolve) => {
    fire = () => resolve('timeout');
  });
  // Armed out here so that a bad `ms` throws (RangeError) to the caller rather than rejecting.
  const timer: LongTimeout = setLongTimeout(fire, ms);
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
  checkSteps(steps);
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

const STOP_STEP_KEYS = names<StopStep>()(['run', 'wait']);

/** Each step is `{ run, wait }` and nothing else, checked before the first one runs. */
function checkSteps(steps: readonly StopStep[]): void {
  if (!Array.isArray(steps)) throw new InvalidSpecError('stopLadder steps', steps, 'an array of { run, wait }');
  steps.forEach((step: unknown, i) => {
    const s = checkOptions(`stopLadder steps[${i}]`, step, STOP_STEP_KEYS);
    checkFunction(`stopLadder steps[${i}].run`, s.run);
    checkTimeout(`stopLadder steps[${i}].wait`, s.wait, { infinity: true });
  });
}
