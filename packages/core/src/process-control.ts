/**
 * Process control from outside: `exit(ref, reason)` (OTP's `exit(Pid, Reason)`) and `stop(ref,
 * reason, timeout)` (OTP's `gen_server:stop`), for any child that a supervisor or the system
 * started, usable from anywhere.
 *
 * Both act through the child's own `StartedChild` (its orderly `shutdown(reason)` or its `kill()`),
 * so the exit reaches its supervisor like any other: restart types apply, a `permanent` child
 * comes back. A ref is known here from the moment its start completed; `whereis` handles stand for
 * whatever runs under their name when they are used.
 */
import type { StartedChild } from './child.js';
import { CallingSelfError, NoProcessError, StopTimeoutError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { currentRefOf } from './registry.js';
import { describeValue } from './describe-value.js';
import { currentTurnOf } from './turn.js';
import { checkTimeout } from './validation.js';
import { within } from './within.js';

interface Entry {
  readonly started: StartedChild;
  readonly path: string;
  exited: boolean;
}

/** Every ref handed out by a start that completed, until the ref itself is unreachable. */
const processes = new WeakMap<object, Entry>();

/** @internal Makes `started.ref` known to `exit` and `stop` (supervisors and the system call it for each child they start). */
export function track(started: StartedChild, path: string): void {
  const ref = started.ref;
  if (typeof ref !== 'object' || ref === null) return;
  const entry: Entry = { started, path, exited: false };
  processes.set(ref, entry);
  void started.exited.then(() => {
    entry.exited = true;
  });
}

/** The entry of `ref` (a whereis handle stands for its current ref); a TypeError for what is not a ref. */
function lookup(what: string, ref: unknown): { entry: Entry | undefined; target: string; actual: unknown } {
  if (typeof ref !== 'object' || ref === null) {
    throw new TypeError(`${what}: ref must be a child's ref or a whereis handle, got ${describeValue(ref)}`);
  }
  const registered = currentRefOf(ref);
  const actual = registered === undefined ? ref : registered.current;
  const entry = typeof actual === 'object' && actual !== null ? processes.get(actual) : undefined;
  const target = entry?.path ?? (registered === undefined ? pathOf(ref) : `registered name ${JSON.stringify(registered.name)}`);
  if (entry === undefined && registered === undefined && !('alive' in ref)) {
    throw new TypeError(`${what}: ${target} is not a ref that @piton/core started`);
  }
  return { entry, target, actual };
}

function pathOf(ref: object): string {
  const path = (ref as { path?: unknown }).path;
  return typeof path === 'string' ? path : 'the process';
}

/**
 * Sends an exit signal, as OTP's `exit(Pid, Reason)` to a process that traps exits:
 * - `'kill'`: killed at once, whatever it is doing; `terminate` does not run; its exit reason is
 *   `'killed'`. A worker's `ctx.signal` fires.
 * - any other reason: an orderly stop with that reason, after the callback in progress (as the
 *   exit message would wait in the mailbox): `terminate(reason, state)` runs, and the exit reason
 *   is `reason`.
 * Its supervisor then handles the exit as any other. A process that is not running is left alone
 * (as exit/2 to a dead pid); a value that is not a ref is a TypeError.
 */
export function exit(ref: object, reason: ExitReason): void {
  const { entry } = lookup('exit(ref, reason)', ref);
  if (entry === undefined || entry.exited) return;
  if (reason === 'kill') entry.started.kill();
  else entry.started.shutdown(reason);
}

/**
 * Stops a process in order and waits for it to be gone (OTP's `gen_server:stop`): as `exit(ref,
 * reason)`, then resolves once it has exited with `reason` (default `'normal'`). Rejects with
 * `NoProcessError` if it is not running; with the error `terminate` threw if that is how it ended
 * (a `NoProcessError` carrying any other reason it ended with); with `StopTimeoutError` if it has
 * not exited within `timeout` ms (default `'infinity'`), and then goes on stopping. A bad
 * `timeout` rejects (`InvalidSpecError`/`SpecRangeError`) before anything is sent, leaving the
 * process running. Called by a worker on itself from one of its own callbacks, it rejects at once
 * with `CallingSelfError` and stops nothing (it could only wait for itself; `ctx.exit` is the way).
 */
export async function stop(ref: object, reason: ExitReason = 'normal', timeout: number | 'infinity' = 'infinity'): Promise<void> {
  checkTimeout('stop(ref, reason, timeout): timeout', timeout, { infinity: true });
  const { entry, target, actual } = lookup('stop(ref, reason, timeout)', ref);
  if (entry === undefined || entry.exited) throw new NoProcessError(target);
  // A worker waiting for its own exit from one of its callbacks would wait for itself: the exit
  // comes only after that callback returns. OTP's gen_server:stop(self()) exits with calling_self.
  const turn = currentTurnOf();
  if (turn !== undefined && turn.active && turn.ref === actual) throw new CallingSelfError(target, 'stop');
  const { started } = entry;
  if (reason === 'kill') started.kill();
  else started.shutdown(reason);
  const ended = await within(started.exited, timeout, () => {
    throw new StopTimeoutError(target, timeout as number);
  });
  if (ended === reason || (reason === 'kill' && ended === 'killed')) return;
  throw ended instanceof Error ? ended : new NoProcessError(target, ended);
}
