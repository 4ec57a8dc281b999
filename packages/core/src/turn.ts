/**
 * Which worker's callback the current async context belongs to (across awaits), so that a worker
 * waiting on itself is caught at once instead of at a timeout: a `call` to itself, or a `stop` of
 * itself, from one of its own callbacks (OTP's `calling_self`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** One run of a callback (init, or the handling of one message) of the worker whose ref is `ref`. */
export interface Turn {
  readonly ref: object;
  /** False once the callback has returned: a timer it set still carries the turn, but is no part of it. */
  active: boolean;
}

const currentTurn = new AsyncLocalStorage<Turn>();

/** Runs `fn` as `turn`: everything it awaits, and calls in between, see it as the current turn. */
export function runTurn<T>(turn: Turn, fn: () => T): T {
  return currentTurn.run(turn, fn);
}

/** The turn the current async context belongs to, if any. */
export function currentTurnOf(): Turn | undefined {
  return currentTurn.getStore();
}
