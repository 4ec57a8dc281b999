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
 * All of it is @piton/core's validation kit, re-exported (one kit for every package): compile-time
 * name lists, unknown keys refused with "did you mean", the typo distance behind it, the number
 * check and the describer. Its errors are core's `InvalidSpecError` (a TypeError) and
 * `SpecRangeError` (a RangeError).
 */

export { names, rejectUnknownKeys, closest, editDistance, checkNumber, describeValue as describe } from '@piton/core';
