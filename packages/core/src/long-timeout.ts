/**
 * `setTimeout` for any finite delay. Node's own takes at most 2^31 − 1 ms (~24.8 days): a longer
 * delay fires after 1 ms, with a `TimeoutOverflowWarning`. A user's timeout of a month must mean a
 * month, so a longer delay is chained: timers of at most the maximum, each arming the next.
 */

import { checkBoolean, checkOptions, names } from './validation.js';

/** The longest delay one Node timer takes, in ms. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

export interface LongTimeoutOptions {
  /** Let the process exit while the timeout is pending. @default false */
  readonly unref?: boolean;
}

const LONG_TIMEOUT_OPTION_KEYS = names<LongTimeoutOptions>()(['unref']);

/** A pending long timeout; `clear()` cancels it (idempotent). */
export interface LongTimeout {
  clear(): void;
}

/**
 * Calls `fn` once after `ms` milliseconds (any finite number ≥ 0; fractions as `setTimeout` takes
 * them). Each link is a plain timer, cleared by `clear()`; with `unref`, none of them keeps the
 * process alive.
 */
export function setLongTimeout(fn: () => void, ms: number, options: LongTimeoutOptions = {}): LongTimeout {
  checkOptions('setLongTimeout options', options, LONG_TIMEOUT_OPTION_KEYS);
  if (options.unref !== undefined) checkBoolean('setLongTimeout options.unref', options.unref);
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0 || ms === Infinity) {
    throw new RangeError(`a timeout must be a finite number of ms >= 0, got ${String(ms)}`);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = Date.now() + ms;
  const arm = (left: number): void => {
    // Past the maximum: wait the maximum, then arm the rest, by the wall clock so links do not drift.
    timer = left <= MAX_TIMER_DELAY ? setTimeout(fn, left) : setTimeout(() => arm(Math.max(0, deadline - Date.now())), MAX_TIMER_DELAY);
    if (options.unref) timer.unref();
  };
  arm(ms);
  return {
    clear: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
