/**
 * `describeValue(value)`: a value as an error message shows it, one form for every package ("got -1
 * (number)", "got \"x\" (string)", "got a function (init)"). Its own module so that the error
 * classes and the validation kit can both use it.
 */

/** Longest rendering of a value's contents in a message; longer ones end with `…`. */
const SHOWN_CHARS = 80;

/**
 * A value as a message shows it: what it is and, where short, what it holds. `"x" (string)`,
 * `-1 (number)`, `[1,2] (array)`, `{"a":1} (object)`, `a function (init)`, `a Map`, `null`,
 * `undefined`.
 */
export function describeValue(value: unknown): string {
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
