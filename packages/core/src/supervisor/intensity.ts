/**
 * Restart intensity, OTP's `add_restart`: forget restarts older than `period`, add `now`, and
 * give up when more than `intensity` remain. Pure, so a fake clock can test it.
 */
export interface IntensityResult {
  /** Timestamps (ms) of the restarts still inside the window, oldest first, `now` included. */
  readonly restarts: readonly number[];
  /** True when this restart is one too many: the supervisor must shut down. */
  readonly exceeded: boolean;
}

export function addRestart(restarts: readonly number[], now: number, intensity: number, period: number): IntensityResult {
  const threshold = now - period;
  const kept = restarts.filter((t) => t >= threshold);
  const next = [...kept, now];
  return { restarts: next, exceeded: next.length > intensity };
}
