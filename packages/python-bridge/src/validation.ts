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
 * These are the functions of @piton/core's validation kit, under its names and signatures
 * (`names`, `rejectUnknownKeys`, `closest`, `editDistance`, `describe`, `checkNumber`), so that
 * once core exports them this module becomes one line re-exporting them from `@piton/core`.
 */

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
 * Throws a TypeError naming the first own key of `value` that is not in `known`, with the closest
 * known name when one is near enough to be a typo. `where` names the object (`options`,
 * `options.allow`): `options.sise is not an option; did you mean size? (known: size, path)`.
 */
export function rejectUnknownKeys(where: string, value: object, known: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (known.includes(name)) continue;
    const guess = closest(name, known);
    throw new TypeError(`${where}.${name} is not an option${guess === undefined ? '' : `; did you mean ${guess}?`} (known: ${known.join(', ')})`);
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

/** Longest rendering of a value's contents in a message; longer ones end with `…`. */
const SHOWN_CHARS = 80;

/**
 * A value as a message shows it: what it is and, where short, what it holds. `"x" (string)`,
 * `-1 (number)`, `[1,2] (array)`, `{"a":1} (object)`, `a function (init)`, `a Map`, `null`,
 * `undefined`.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `${clip(JSON.stringify(value))} (string)`;
    case 'number':
    case 'boolean':
      return `${String(value)} (${typeof value})`;
    case 'bigint':
      return `${String(value)}n (bigint)`;
    case 'symbol':
      return `${String(value)} (symbol)`;
    case 'function':
      return `a function (${value.name || 'anonymous'})`;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  }
  let shown: string | undefined;
  try {
    shown = JSON.stringify(value);
  } catch {
    shown = undefined; // cyclic, or holds a BigInt
  }
  const kind = Array.isArray(value) ? 'array' : 'object';
  return shown === undefined ? `an ${kind}` : `${clip(shown)} (${kind})`;
}

function clip(text: string): string {
  return text.length <= SHOWN_CHARS ? text : `${text.slice(0, SHOWN_CHARS - 1)}…`;
}

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
