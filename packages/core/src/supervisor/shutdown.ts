import type { StartedChild } from '../child.js';
import type { ExitReason } from '../exit-reason.js';
import { setLongTimeout, type LongTimeout } from '../long-timeout.js';
import type { Shutdown } from './child-spec.js';

/**
 * OTP's shutdown protocol on top of `StartedChild`: `'brutal_kill'` kills at once; otherwise ask
 * for an orderly stop and wait for the exit, up to `shutdown` ms (forever for `'infinity'`),
 * then kill. Resolves with the reason the child actually exited with.
 */
export async function stopChild(child: StartedChild, shutdown: Shutdown): Promise<ExitReason> {
  if (shutdown === 'brutal_kill') {
    child.kill();
    return child.exited;
  }
  child.shutdown('shutdown');
  if (shutdown === 'infinity') return child.exited;
  let timer: LongTimeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setLongTimeout(() => resolve('timeout'), shutdown);
  });
  try {
    const first = await Promise.race([child.exited.then((reason) => ({ reason })), timedOut]);
    if (first !== 'timeout') return first.reason;
    child.kill();
    return await child.exited;
  } finally {
    timer?.clear();
  }
}
