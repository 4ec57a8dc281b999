/**
 * The validation kit: how every package of Piton checks what a user passes in, with one rule and
 * one message form.
 *
 * The rule: a wrong name or a wrong type is a `TypeError`; a value of the right type that is out of
 * range (a negative timeout, a fraction where an integer is wanted) is a `RangeError`. The errors
 * are `InvalidSpecError` (a TypeError) and `SpecRangeError` (a RangeError); both carry `field` and
 * `value`, and `instanceof InvalidSpecError` matches both.
 *
 * The message form: `<where> must be <expected>, got <value described>`, and for a name that is not
 * known, `<where>.<name> is not an option; did you mean <name>? (known: a, b, c)`.
 *
 * Unknown names are errors rather than silence: `{ restrat: 'temporary' }` would otherwise start a
 * permanent child without a word. `names<T>()` ties a list of names to the interface it checks at
 * compile time, so an option added to the interface and not to the list does not compile.
 */
import { InvalidSpecError, SpecRangeError } from './errors.js';

export { describeValue } from './describe-value.js';

// ---------------------------------------------------------------------------------------------
// Names

/**
 * The names of `T`'s keys, checked at compile time: `names<Options>()(['a', 'b'])` does not compile
 * if `Options` has a key the list leaves out (reported as `missing: 'thatKey'`), nor if the list
 * has a name `Options` lacks.
 */
export function names<T>() {
  return <const Listed extends readonly (keyof T & string)[]>(
    list: Listed & ([Exclude<keyof T, Listed[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, Listed[number]> }),
  ): readonly string[] => list;
}

/**
 * Throws an `InvalidSpecError` (a TypeError) naming the first own key of `value` that is not in
 * `known`, with the closest known name when one is near enough to be a typo. `where` names the
 * object in the message (`options`, `children[2]`): `options.sise is not an option; did you mean
 * size? (known: size, path)`.
 */
export function rejectUnknownKeys(where: string, value: object, known: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (known.includes(name)) continue;
    const guess = closest(name, known);
    throw new InvalidSpecError(`${where}.${name}`, (value as Record<string, unknown>)[name], 'a known option', {
      message:
        `${where}.${name} is not an option${guess === undefined ? '' : `; did you mean ${guess}?`} ` +
        `(known: ${known.join(', ')})`,
    });
  }
}

/** The known name nearest to `name`, if it is a plausible typo of it (case-insensitive edit distance). */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // One edit in four characters at most ('sise' → 'size', 'pth' → 'path', 'callTimout' → 'callTimeout').
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 4)) ? best : undefined;
}

/** Levenshtein distance with transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Checkers: each returns the value, typed, or throws by the rule above.

/** A plain options object (or anything object-like that is not an array or a function). */
export function checkObject(where: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidSpecError(where, value, 'an object');
  return value as Record<string, unknown>;
}

/** An object whose own keys are all in `known` (else "did you mean"). */
export function checkOptions(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  const object = checkObject(where, value);
  rejectUnknownKeys(where, object, known);
  return object;
}

export function checkFunction<F extends (...args: never) => unknown>(where: string, value: unknown): F {
  if (typeof value !== 'function') throw new InvalidSpecError(where, value, 'a function');
  return value as F;
}

export function checkBoolean(where: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidSpecError(where, value, 'a boolean');
  return value;
}

export function checkNonEmptyString(where: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidSpecError(where, value, 'a non-empty string');
  return value;
}

/** One of `choices` (strings), compared with `===`. */
export function checkOneOf<const C extends readonly string[]>(where: string, value: unknown, choices: C): C[number] {
  if (typeof value !== 'string' || !choices.includes(value)) {
    throw new InvalidSpecError(where, value, oneOf(choices));
  }
  return value;
}

/** `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`. */
function oneOf(choices: readonly string[]): string {
  const quoted = choices.map((c) => `'${c}'`);
  return quoted.length <= 1 ? (quoted[0] ?? 'nothing') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)!}`;
}

/**
 * A finite number (with `integer`, a safe integer): a TypeError for anything that is not a number,
 * a RangeError for NaN, ±Infinity, a fraction where an integer is wanted, or a value outside
 * `min`..`max`.
 */
export function checkNumber(
  where: string,
  value: unknown,
  bounds: { readonly min?: number; readonly max?: number; readonly integer?: boolean } = {},
): number {
  rejectUnknownKeys('checkNumber bounds', checkObject('checkNumber bounds', bounds), NUMBER_BOUND_KEYS);
  const { min = -Infinity, max = Infinity, integer = false } = bounds;
  const expected = `${integer ? 'an integer' : 'a finite number'}${rangeText(min, max)}`;
  if (typeof value !== 'number') throw new InvalidSpecError(where, value, expected);
  const whole = integer ? Number.isSafeInteger(value) : Number.isFinite(value);
  if (!whole || value < min || value > max) throw new SpecRangeError(where, value, expected);
  return value;
}

const NUMBER_BOUND_KEYS = ['min', 'max', 'integer'];
const TIMEOUT_OPTION_KEYS = ['infinity'];

function rangeText(min: number, max: number): string {
  if (min > -Infinity && max < Infinity) return ` from ${min} to ${max}`;
  if (min > -Infinity) return ` >= ${min}`;
  if (max < Infinity) return ` <= ${max}`;
  return '';
}

/** An integer >= 1. */
export function checkPositiveInteger(where: string, value: unknown): number {
  return checkNumber(where, value, { min: 1, integer: true });
}

/** An integer >= 0. */
export function checkNonNegativeInteger(where: string, value: unknown): number {
  return checkNumber(where, value, { min: 0, integer: true });
}

/**
 * The one rule for timeouts: a finite number of ms >= 0 (fractions as `setTimeout` takes them; any
 * length, since `setLongTimeout` chains timers past Node's 24.8-day limit), and with
 * `{ infinity: true }` also `'infinity'` (wait for good).
 */
export function checkTimeout(where: string, value: unknown): number;
export function checkTimeout(where: string, value: unknown, options: { readonly infinity: true }): number | 'infinity';
export function checkTimeout(where: string, value: unknown, options: { readonly infinity?: boolean } = {}): number | 'infinity' {
  rejectUnknownKeys('checkTimeout options', checkObject('checkTimeout options', options), TIMEOUT_OPTION_KEYS);
  const expected = options.infinity ? "a finite number of ms >= 0 or 'infinity'" : 'a finite number of ms >= 0';
  if (options.infinity && value === 'infinity') return value;
  if (typeof value !== 'number') throw new InvalidSpecError(where, value, expected);
  if (!Number.isFinite(value) || value < 0) throw new SpecRangeError(where, value, expected);
  return value;
}
