/**
 * The pool's crash policy, in one place: what an interpreter's exit means.
 *
 * - An interpreter that could not start, or that died before it was given any work, is a
 *   **failed start**: its worker exits, and the pool's supervisor restarts it by OTP's rules: the
 *   restart counts toward `supervision.intensity`/`period` (so a crash loop stops the pool) and
 *   waits the `supervision.backoff` delay, which doubles while starts keep failing.
 * - An interpreter that served (a call, a batch or a stream was sent to it) and then died is a
 *   **crash**: its worker replaces it in place at once, whatever the rate. A call that crashes its
 *   interpreter fails that call (or is retried, if it asked for `retries`), never the pool: the
 *   replacement is a fresh start, and only if that start fails does the failure count.
 *
 * So a bad input that kills a C extension costs a call and a start, however often it comes, while
 * a broken environment (an import error, a preload that exits) still makes the pool give up.
 */

import type { InterpreterExitCause } from '../ops/events.js';

/** What an exit the pool did not ask for is: a crash once the interpreter has served, else a failed start. */
export function unplannedExitCause(served: boolean): 'crash' | 'start_failure' {
  return served ? 'crash' : 'start_failure';
}

/** A crash is replaced in place by the interpreter's worker; a failed start is the supervisor's to count. */
export function replacedInPlace(cause: InterpreterExitCause): boolean {
  return cause === 'crash';
}
