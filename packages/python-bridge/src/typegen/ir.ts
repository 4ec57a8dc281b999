/**
 * What `piton.typegen` (python/src/piton/typegen.py, each hint described by piton/hints.py) reports
 * about a pool's modules: the JSON that crosses from the Python side of `npx piton types` to this
 * one. It says what a hint means in Python; wire-types.ts says what that becomes in JavaScript.
 */

/** A literal value (`Literal[...]`, an Enum member's value): an int as its decimal digits, bytes as hex. */
export type PyLiteral = { str: string } | { int: string } | { bool: boolean } | { none: true } | { bytes: string } | { float: number };

/** A Python type hint, as described by piton.typegen. */
export type PyType =
  /** `Any`, `object`, a missing hint. */
  | { kind: 'unknown' }
  | { kind: 'never' }
  | { kind: 'none' }
  | { kind: 'bool' }
  | { kind: 'int' }
  | { kind: 'float' }
  | { kind: 'str' }
  /** `bytes`, `bytearray`, `memoryview`. */
  | { kind: 'bytes' }
  | { kind: 'datetime' }
  /** `list[T]`, `Sequence[T]`. */
  | { kind: 'list'; items: PyType }
  /** `Iterable[T]`: a list when sent, a stream when returned. */
  | { kind: 'iterable'; items: PyType }
  /** `tuple[A, B]` (items), `tuple[T, ...]` (rest). */
  | { kind: 'tuple'; items: PyType[] }
  | { kind: 'tuple'; rest: PyType }
  /** `dict[K, V]`, `Mapping[K, V]`. */
  | { kind: 'dict'; key: PyType; value: PyType }
  | { kind: 'union'; options: PyType[] }
  | { kind: 'literal'; values: PyLiteral[] }
  /** A TypedDict, NamedTuple or Enum, described once among the defs. */
  | { kind: 'ref'; id: string }
  /** A numpy array: `dtype` null for any dtype, `ndim` null for any number of dimensions. */
  | { kind: 'ndarray'; dtype: string | null; ndim: number | null }
  /** A generator's or iterator's items (`async` for an async generator). */
  | { kind: 'iterator'; async: boolean; items: PyType }
  /** What `async def` (or a function returning a coroutine) produces, once awaited. */
  | { kind: 'awaitable'; result: PyType }
  /** A pandas, polars or pyarrow table (or, `vector`, a series or array). */
  | { kind: 'table'; python: string; vector: boolean }
  /** What the generator cannot say in TypeScript: `python` names it, `reason` says why. */
  | { kind: 'unsupported'; python: string; reason: string };

export interface PyField {
  name: string;
  type: PyType;
}

/** A class that gets a name in the declarations. */
export type PyDef = { id: string; name: string; module: string; doc: string | null } & (
  | { kind: 'typeddict'; fields: Array<PyField & { required: boolean }> }
  | { kind: 'namedtuple'; fields: PyField[] }
  | { kind: 'enum'; members: Array<{ name: string; value: PyLiteral | null }>; base: 'int' | 'str' | null; flag: boolean }
);

/** `positional` may also be passed by keyword; `keyword` is keyword-only. */
export type PyParamKind = 'positional_only' | 'positional' | 'var_positional' | 'keyword' | 'var_keyword';

export interface PyParam {
  name: string;
  kind: PyParamKind;
  type: PyType;
  /** Whether it has a default (then it may be left out). */
  default: boolean;
}

export interface PyFunction {
  name: string;
  kind: 'function' | 'class' | 'generator' | 'asyncgenerator' | 'async';
  doc: string | null;
  /** `null` when the signature cannot be read (`note` says why): any arguments. */
  params: PyParam[] | null;
  returns: PyType;
  note?: string;
  /** A `@piton.batched` function: `params` and `returns` are already one call's (not the batch's). */
  batched?: boolean;
}

export interface PyModule {
  module: string;
  doc: string | null;
  functions: PyFunction[];
  defs: PyDef[];
}

/** A module that could not be read: its import raised, killed the interpreter or hung. */
export interface PyModuleFailure {
  module: string;
  error: string;
}

/** One line of piton.typegen's report. */
export type TypegenMessage =
  | { modules: string[] }
  | { importing: string }
  | PyModule
  | PyModuleFailure
  | { done: true };
