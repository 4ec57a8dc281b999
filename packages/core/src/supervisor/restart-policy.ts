import { isNormalExit, type ExitReason } from '../exit-reason.js';
import type { Restart } from './child-spec.js';

/** The restart-type half of OTP's `do_restart`. */
export function shouldRestart(restart: Restart, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return !isNormalExit(reason);
    case 'temporary':
      return false;
  }
}
