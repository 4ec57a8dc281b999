/**
 * A Python type hint → the TypeScript type of the value as it crosses the wire (PROTOCOL.md,
 * "Values"). The direction matters where the two sides differ:
 *
 * - `in`, a parameter: what Node may send so that Python receives that type;
 * - `out`, a result: what Node receives when Python returns that type.
 *
 * | Python | TypeScript |
 * |---|---|
 * | `int`, `float`, numpy scalars | `number` (an int beyond 2^53 arrives as a `bigint`: see the README) |
 * | `bool`, `str`, `None` | `boolean`, `string`, `null` |
 * | `bytes`, `bytearray`, `memoryview` | `Uint8Array` (a `Buffer` when received) |
 * | `datetime` | `Date` |
 * | `list[T]`, `Sequence[T]`, `Iterable[T]` | `T[]` |
 * | `tuple[A, B]`, `tuple[T, ...]`, a NamedTuple | `[A, B]`, `T[]`, a labelled tuple |
 * | `dict[str, V]`, a TypedDict | `Record<string, V>`, an interface |
 * | `dict[K, V]`, other keys | `Map<K, V>` (received: or `{}` when empty: a map with no keys decodes as an object) |
 * | `Literal[...]`, an Enum | the literal values (a plain Enum member cannot be sent back: only str/int-based ones) |
 * | `NDArray[np.float64]` | `Float64Array` (1-d) or `NdArray<Float64Array>` (n-d): both when the shape is not in the hint; a 1-d uint8 array is sent as `NdArray<Uint8Array>`, since a bare `Uint8Array` is bytes |
 * | pandas/polars/pyarrow tables | apache-arrow's `Table` (`Vector` for a series) when the project has apache-arrow, else `unknown` |
 * | `Any`, `object`, no hint | `unknown` |
 *
 * Anything else (a dataclass, a set, `Decimal`, a class of the user's) is `unknown` with a comment
 * naming the Python type and why.
 */
import type { PyLiteral, PyType } from './ir.js';

export type Direction = 'in' | 'out';

/** The bridge's types a declaration file may import. */
export type BridgeType = 'NdArray' | 'TypedArray' | 'WithKwargs';

/** What rendering needs from the declaration file being written. */
export interface TypeContext {
  /** The TypeScript name of a named class (def) in a direction. */
  defName(id: string, direction: Direction): string;
  /** Whether apache-arrow's types can be named from where the file is written. */
  readonly arrow: boolean;
  /** Records that the file uses a type of the bridge (then it imports it). */
  useBridgeType(name: BridgeType): void;
}

/** A rendered type: the members of its union at the top (one when it is not a union). */
interface Rendered {
  parts: string[];
}

const TYPED_ARRAYS: Record<string, string> = {
  float64: 'Float64Array',
  float32: 'Float32Array',
  int8: 'Int8Array',
  int16: 'Int16Array',
  int32: 'Int32Array',
  int64: 'BigInt64Array',
  uint8: 'Uint8Array',
  uint16: 'Uint16Array',
  uint32: 'Uint32Array',
  uint64: 'BigUint64Array',
};

/** `unknown` with a comment that names what it stands for. */
export function unknownBecause(python: string, reason: string): string {
  const clean = (s: string) => s.replace(/\*\//g, '* /').replace(/\s+/g, ' ').trim();
  const what = clean(python).slice(0, 120);
  return `unknown /* ${what}: ${clean(reason).slice(0, 200)} */`;
}

export function renderType(type: PyType, direction: Direction, ctx: TypeContext): string {
  return text(render(type, direction, ctx));
}

function text(rendered: Rendered): string {
  return rendered.parts.join(' | ');
}

function plain(part: string): Rendered {
  return { parts: [part] };
}

function union(parts: string[]): Rendered {
  return { parts: [...new Set(parts)] };
}

function arrayOf(item: Rendered): string {
  return item.parts.length > 1 ? `(${text(item)})[]` : `${text(item)}[]`;
}

function render(type: PyType, dir: Direction, ctx: TypeContext): Rendered {
  switch (type.kind) {
    case 'unknown':
      return plain('unknown');
    case 'never':
      return plain('never');
    case 'none':
      return plain('null');
    case 'bool':
      return plain('boolean');
    case 'int':
    case 'float':
      return plain('number');
    case 'str':
      return plain('string');
    case 'bytes':
      return plain('Uint8Array');
    case 'datetime':
      return plain('Date');
    case 'list':
    case 'iterable':
      return plain(arrayOf(render(type.items, dir, ctx)));
    case 'tuple':
      return 'rest' in type
        ? plain(arrayOf(render(type.rest, dir, ctx)))
        : plain(`[${type.items.map((item) => renderType(item, dir, ctx)).join(', ')}]`);
    case 'dict':
      return renderDict(type.key, type.value, dir, ctx);
    case 'union':
      // A nested union's members join the outer one: `int | (str | None)`.
      return union(type.options.flatMap((option) => render(option, dir, ctx).parts));
    case 'literal':
      return union(type.values.map(renderLiteral));
    case 'ref':
      return plain(ctx.defName(type.id, dir));
    case 'ndarray':
      return renderArray(type.dtype, type.ndim, dir, ctx);
    case 'iterator':
      return plain(unknownBecause(`${type.async ? 'AsyncIterator' : 'Iterator'}`, 'a generator cannot be sent as a value: stream() the function that returns it'));
    case 'awaitable':
      return plain(unknownBecause('Awaitable', 'an awaitable cannot be sent as a value'));
    case 'table':
      return plain(
        ctx.arrow
          ? `import('apache-arrow').${type.vector ? 'Vector' : 'Table'}`
          : unknownBecause(type.python, `an Arrow ${type.vector ? 'Vector' : 'Table'}: install apache-arrow to have it typed`),
      );
    case 'unsupported':
      return plain(unknownBecause(type.python, type.reason));
  }
}

/** A string literal in single quotes, as the project writes them; escapes as JSON does. */
export function quoted(text: string): string {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

export function renderLiteral(value: PyLiteral): string {
  if ('str' in value) return quoted(value.str);
  if ('int' in value) {
    const n = BigInt(value.int);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? value.int : `${value.int}n`;
  }
  if ('bool' in value) return String(value.bool);
  if ('none' in value) return 'null';
  if ('bytes' in value) return 'Uint8Array';
  return String(value.float);
}

/** Whether every value of the key type is a string (then the dict is a plain object both ways). */
function stringKeyed(key: PyType): boolean {
  if (key.kind === 'str') return true;
  if (key.kind === 'literal') return key.values.every((v) => 'str' in v);
  if (key.kind === 'union') return key.options.every(stringKeyed);
  return false;
}

function mayBeString(key: PyType): boolean {
  if (key.kind === 'unknown' || stringKeyed(key)) return true;
  if (key.kind === 'union') return key.options.some(mayBeString);
  if (key.kind === 'literal') return key.values.some((v) => 'str' in v);
  return false;
}

function renderDict(key: PyType, value: PyType, dir: Direction, ctx: TypeContext): Rendered {
  const v = renderType(value, dir, ctx);
  if (stringKeyed(key)) return plain(`Record<string, ${v}>`);
  const map = `Map<${renderType(key, dir, ctx)}, ${v}>`;
  // Node decodes a map whose keys are all strings as an object: with some string keys, or none at all.
  if (mayBeString(key)) return union([`Record<string, ${v}>`, map]);
  return dir === 'in' ? plain(map) : union([map, 'Record<string, never>']);
}

function renderArray(dtype: string | null, ndim: number | null, dir: Direction, ctx: TypeContext): Rendered {
  ctx.useBridgeType('NdArray');
  if (dtype === null) {
    ctx.useBridgeType('TypedArray');
    // A bare Uint8Array is sent as bytes: sent, a 1-d array of bytes is an NdArray.
    const oneD = dir === 'in' ? 'Exclude<TypedArray, Uint8Array>' : 'TypedArray';
    if (ndim === 1) return plain(oneD);
    if (ndim === 0 && dir === 'out') return union(['number', 'bigint']);
    if (ndim !== null) return plain('NdArray');
    return union([oneD, 'NdArray']);
  }
  const typed = TYPED_ARRAYS[dtype];
  if (typed === undefined) return plain(unknownBecause(`numpy array of ${dtype}`, 'a dtype the wire refuses'));
  const nd = `NdArray<${typed}>`;
  const sentAsBytes = dir === 'in' && dtype === 'uint8';
  // A 0-d array arrives as its scalar; int64 and uint64 ones beyond 2^53 as a bigint.
  if (ndim === 0 && dir === 'out') return dtype.endsWith('int64') ? union(['number', 'bigint']) : plain('number');
  if (ndim === 1) return plain(sentAsBytes ? nd : typed);
  if (ndim !== null) return plain(nd);
  return sentAsBytes ? plain(nd) : union([typed, nd]);
}
