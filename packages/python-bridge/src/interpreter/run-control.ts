/**
 * How a caller gives up on a call it has handed to an interpreter (a timeout, an abort): the
 * interpreter fills in `cancel` once the call is sent. What the dispatcher and the interpreter
 * agree on, so that neither imports the other.
 */
export interface RunControl {
  /**
   * Gives up on the call: its task is cancelled in Python (`CancelledError`, its `finally` runs)
   * and its lane stays taken until its reply comes. If the worker says the call runs sync code,
   * or the reply has not come within the interpreter's `cancelGrace`, `beforeKill` is called and
   * the interpreter killed (the other calls in flight on it reject with `InterpreterExitedError`).
   */
  cancel?: (beforeKill: () => void) => void;
}
