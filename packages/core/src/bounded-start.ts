/**
 * A start bounded by a start timeout, for supervisors and the system alike: the start function runs
 * with a context whose `signal` the caller controls; if it has not finished within `timeout` ms,
 * the signal is aborted (with the `StartTimeoutError`), the start rejects with that error, and
 * whatever the start function resolves with afterwards is killed as it arrives.
 */
import { isIgnore, type Ignore, type StartContext, type StartedChild, type StartFn } from './child.js';
import { StartTimeoutError } from './errors.js';
import { within } from './within.js';

export function boundedStart(
  start: StartFn,
  ctx: StartContext,
  extraArgs: readonly unknown[],
  timeout: number | 'infinity',
  abandon: AbortController,
): Promise<StartedChild | Ignore> {
  const starting = start(ctx, ...extraArgs);
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
