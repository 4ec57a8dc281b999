/**
 * A start bounded by a start timeout, for supervisors and the system alike: the start function runs
 * with a context whose `signal` the caller controls; if it has not finished within `timeout` ms,
 * the signal is aborted (with the `StartTimeoutError`), the start rejects with that error, and
 * whatever the start function resolves with afterwards is killed as it arrives. What it resolves
 * with is checked: `IGNORE`, or a `StartedChild` with its keys and nothing else.
 */
import { IGNORE, isIgnore, type Ignore, type StartContext, type StartedChild, type StartFn } from './child.js';
import { InvalidSpecError, StartTimeoutError } from './errors.js';
import { checkFunction, checkOptions, names } from './validation.js';
import { within } from './within.js';

export function boundedStart(
  start: StartFn,
  ctx: StartContext,
  extraArgs: readonly unknown[],
  timeout: number | 'infinity',
  abandon: AbortController,
): Promise<StartedChild | Ignore> {
  const starting = Promise.resolve(start(ctx, ...extraArgs)).then((value) => checkStarted(value, ctx.path));
  return within(starting, timeout, () => {
    const timedOut = new StartTimeoutError(ctx.path, timeout as number);
    abandon.abort(timedOut);
    killWhenStarted(starting);
    throw timedOut;
  });
}

/** A start given up on may still complete: what it started then must not live on. */
function killWhenStarted(starting: Promise<StartedChild | Ignore>): void {
  starting.then(
    (late) => {
      if (!isIgnore(late) && typeof late?.kill === 'function') late.kill();
    },
    () => undefined,
  );
}

const STARTED_CHILD_KEYS = names<StartedChild>()(['ref', 'exited', 'shutdown', 'kill', 'inspect']);

/**
 * `IGNORE`, or a `StartedChild` { ref, exited, shutdown, kill, inspect? }: anything else is an
 * `InvalidSpecError` naming the start's path (an unknown key with "did you mean": a misspelt
 * `inspect` would leave the child a leaf in `system.tree()` without a word). What is refused is
 * killed first if it can be, so that it does not outlive its refusal.
 */
function checkStarted(value: unknown, path: string): StartedChild | Ignore {
  if (isIgnore(value)) return IGNORE;
  const where = `the StartedChild of ${path}`;
  try {
    const v = checkOptions(where, value, STARTED_CHILD_KEYS);
    if (!('ref' in v)) throw new InvalidSpecError(`${where}.ref`, undefined, 'the ref to hand out (the value may be undefined, the key may not be missing)');
    if (!(v.exited instanceof Promise)) throw new InvalidSpecError(`${where}.exited`, v.exited, 'a Promise of the exit reason');
    checkFunction(`${where}.shutdown`, v.shutdown);
    checkFunction(`${where}.kill`, v.kill);
    if (v.inspect !== undefined) checkFunction(`${where}.inspect`, v.inspect);
    return v as unknown as StartedChild;
  } catch (error) {
    const kill: unknown = typeof value === 'object' && value !== null ? (value as { kill?: unknown }).kill : undefined;
    if (typeof kill === 'function') Reflect.apply(kill, value, []);
    throw error;
  }
}
