/**
 * How the bridge checks what its users pass in (options, arguments of `stop`, `drain`,
 * `poolMetrics`), with one rule and one message form, in every folder.
 *
 * The rule: a wrong name or a wrong type is a `TypeError`; a number of the right type that is out
 * of range (a negative timeout, a fraction where an integer is wanted, a value over a limit) is a
 * `RangeError`. Timeouts have no cap of their own: they are waited out with `setLongTimeout`, which
 * chains timers past Node's 2^31 − 1 ms; a value handed to something that has a limit (libzmq's
 * heartbeat options, a backoff the supervisor waits in one timer) is held to that limit.
 *
 * The message form: `<where> must be <expected>, got <value described>`, and for a name that is not
 * known, `<where>.<name> is not an option; did you mean <name>? (known: a, b, c)`.
 *
 * The name checks are @piton/core's validation kit, re-exported; `describe` and `checkNumber` keep
 * the bridge's wording of values (core's `describeValue` prints a few kinds differently).
 */

// The name checks are @piton/core's own (one kit for every package): compile-time name lists,
// unknown keys refused with "did you mean", and the typo distance behind it.
export { names, rejectUnknownKeys, closest, editDistance } from '@piton/core';

// How a value reads in a message: core's describer, so every package words values alike.
import { describeValue as describe } from '@piton/core';

export { describe };


/** A number: TypeError for anything else. Then `min`, `max` and `integer` are RangeErrors. */
export function checkNumber(
  where: string,
  value: unknown,
  bounds: { readonly min?: number; readonly max?: number; readonly integer?: boolean } = {},
): number {
  const { min = -Infinity, max = Infinity, integer = false } = bounds;
  const expected = `${integer ? 'an integer' : 'a number'}${rangeText(min, max)}`;
  if (typeof value !== 'number') throw new TypeError(`${where} must be ${expected}, got ${describe(value)}`);
  if (Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${where} must be ${expected}, got ${describe(value)}`);
  }
  return value;
}

function rangeText(min: number, max: number): string {
  if (min > -Infinity && max < Infinity) return ` from ${min} to ${max}`;
  if (min > -Infinity) return ` >= ${min}`;
  if (max < Infinity) return ` <= ${max}`;
  return '';
}
