/**
 * The pool's crash policy, in one place: what an interpreter's exit means.
 *
 * - An interpreter that could not start, or that died before it was given any work, is a
 *   **failed start**: its worker exits, and the pool's supervisor restarts it by OTP's rules: the
 *   restart counts toward `intensity`/`period` (so a crash loop stops the pool) and waits the
 *   `restartBackoff` delay, which doubles while starts keep failing.
 * - An interpreter that served (a call, a batch or a stream was sent to it) and then died is a
 *   **crash**: its worker replaces it in place at once, whatever the rate. A call that crashes its
 *   interpreter fails that call (or is retried, if it asked for `retries`), never the pool: the
 *   replacement is a fresh start, and only if that start fails does the failure count.
 *
 * So a bad input that kills a C extension costs a call and a start, however often it comes, while
 * a broken environment (an import error, a preload that exits) still makes the pool give up.
 */

/** Why an interpreter left the pool. */
export type InterpreterExitCause =
  /** It had served, then died (killed by a timeout, an abort, a signal, or its own crash). */
  | 'crash'
  /** It could not start, or died before it was given any work. */
  | 'start_failure'
  /** Replaced on purpose after `maxTasksPerWorker` calls or above `maxMemoryPerWorker`. */
  | 'recycle'
  /** Stopped with its pool. */
  | 'stop'
  /**
   * Stopped because the pool has fewer interpreters now: an elastic pool shrank (idle for
   * `idleTimeout`, or `resize`), or its host was removed. A clean stop: never a crash, never counted.
   */
  | 'shrink';

/** What an exit the pool did not ask for is: a crash once the interpreter has served, else a failed start. */
export function unplannedExitCause(served: boolean): 'crash' | 'start_failure' {
  return served ? 'crash' : 'start_failure';
}

/** A crash is replaced in place by the interpreter's worker; a failed start is the supervisor's to count. */
export function replacedInPlace(cause: InterpreterExitCause): boolean {
  return cause === 'crash';
}
