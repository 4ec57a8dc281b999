import type { StartedChild } from '../child.js';
import type { ExitReason } from '../exit-reason.js';
import { stopLadder } from '../within.js';
import type { Shutdown } from './child-spec.js';

/**
 * OTP's shutdown protocol on top of `StartedChild`: `'brutal_kill'` kills at once; otherwise ask
 * for an orderly stop and wait for the exit, up to `shutdown` ms (forever for `'infinity'`),
 * then kill. Resolves with the reason the child actually exited with.
 */
export function stopChild(child: StartedChild, shutdown: Shutdown, reason: ExitReason = 'shutdown'): Promise<ExitReason> {
  const kill = { run: () => child.kill(), wait: 'infinity' } as const;
  if (shutdown === 'brutal_kill') return stopLadder(child.exited, [kill]);
  return stopLadder(child.exited, [{ run: () => child.shutdown(reason), wait: shutdown }, kill]);
}
