import { checkOptions } from '../validation.js';
import { BACKOFF_KEYS, type ResolvedBackoff } from './child-spec.js';

/**
 * Delay in ms before restart attempt number `attempt` (0 for the first after a stable run):
 * `min * factor^attempt` capped at `max`, then up to `jitter` of it taken off at random.
 */
export function backoffDelay(attempt: number, backoff: ResolvedBackoff, random: () => number = Math.random): number {
  checkOptions('backoff', backoff, BACKOFF_KEYS);
  const base = Math.min(backoff.max, backoff.min * backoff.factor ** attempt);
  return Math.round(base * (1 - backoff.jitter * random()));
}
