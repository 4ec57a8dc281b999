/**
 * Apache Arrow tables on the wire (PROTOCOL.md, "Tables (ext 3)"): an `apache-arrow` `Table`,
 * `RecordBatch` or `Vector` goes out as an Arrow IPC stream, and a received stream comes back as a
 * `Table` (kind `table`) or `Vector` (kind `vector`) that views the received frame.
 *
 * `apache-arrow` is an optional peer dependency: it is loaded the first time a table crosses,
 * never before (it takes most of a second to load), and a program that never sends a table never
 * loads it. It is loaded synchronously, since the codec is synchronous: the ES module build (the one
 * `import 'apache-arrow'` gives, resolved from here with `import.meta.resolve`) through `require`,
 * which Node >= 20.19 allows for ES modules and which shares the one instance `import` gets.
 *
 * Telling an Arrow value from any other object costs nothing until one is met: apache-arrow marks
 * its classes' instances with registered symbols (`Symbol.for('apache-arrow/Table')`), which are
 * looked up only for an object the encoder cannot otherwise send. A value made by another copy of
 * the library (its CommonJS build, loaded with `require('apache-arrow')`) is written with that
 * copy's own writer: a writer of one copy silently writes a table of the other without its data.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as Arrow from 'apache-arrow';
import { MissingDependencyError, ProtocolError } from '../errors.js';

type ArrowModule = typeof Arrow;

/** What an ext 3 value is: a table, or one column of one. */
export type TableKind = 'table' | 'vector';

/** The command that installs apache-arrow where the bridge finds it. */
export const ARROW_INSTALL_COMMAND = 'npm install apache-arrow';

/** The name of a vector's one column on the wire (not part of the value: a Vector has no name). */
const VECTOR_COLUMN = 'values';

/** The 8 bytes that end an Arrow IPC stream: a continuation marker and a zero metadata length. */
const END_OF_STREAM = Buffer.from('ffffffff00000000', 'hex');

const MARKS = [
  [Symbol.for('apache-arrow/Table'), 'Table'],
  [Symbol.for('apache-arrow/RecordBatch'), 'RecordBatch'],
  [Symbol.for('apache-arrow/Vector'), 'Vector'],
] as const;

type ArrowClassName = (typeof MARKS)[number][1];

const requireHere = createRequire(import.meta.url);

/** The copies of apache-arrow loaded so far: the ES module build first, then the CommonJS one if needed. */
let esm: ArrowModule | undefined;
let cjs: ArrowModule | undefined;

/** The ES module build of apache-arrow (the one `import` gives); throws {@link MissingDependencyError} if it cannot be found. */
function arrowModule(why: string): ArrowModule {
  if (esm !== undefined) return esm;
  let path: string;
  try {
    path = arrowPath();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new MissingDependencyError(
      'apache-arrow',
      ARROW_INSTALL_COMMAND,
      `apache-arrow is not installed in Node: ${why}; install it with: ${ARROW_INSTALL_COMMAND}`,
    );
  }
  esm = requireHere(path) as ArrowModule;
  return esm;
}

/**
 * Where apache-arrow's entry is, as `import` resolves it from here. Compiled to CommonJS (as a
 * test runner's transform does) the bridge has no `import.meta.resolve`, and `require`'s
 * resolution is what its `import` statements get there.
 */
function arrowPath(): string {
  return typeof import.meta.resolve === 'function' ? fileURLToPath(import.meta.resolve('apache-arrow')) : requireHere.resolve('apache-arrow');
}

/** `Table`, `RecordBatch` or `Vector` when `value` is one (of any copy of apache-arrow >= 21), else undefined. */
export function arrowClassOf(value: object): ArrowClassName | undefined {
  for (const [mark, name] of MARKS) {
    if ((value as Record<symbol, unknown>)[mark] === true) return name;
  }
  return undefined;
}

/** Whether `value`'s prototype chain holds `ctor.prototype` (apache-arrow's `instanceof` also answers true for other copies). */
function madeBy(ctor: unknown, value: object): boolean {
  return typeof ctor === 'function' && (Function.prototype[Symbol.hasInstance] as (this: unknown, v: unknown) => boolean).call(ctor, value);
}

/** The loaded copy of apache-arrow whose class made `value`. */
function moduleOf(value: object, name: ArrowClassName): ArrowModule {
  const first = arrowModule(`cannot send an apache-arrow ${name}`);
  if (madeBy(first[name], value)) return first;
  if (cjs === undefined) {
    try {
      cjs = requireHere('apache-arrow') as ArrowModule;
    } catch {
      cjs = first;
    }
  }
  if (madeBy(cjs[name], value)) return cjs;
  throw new TypeError(
    `an apache-arrow ${name} made by a copy of apache-arrow other than the one the bridge loads ` +
      `(${arrowPath()}): install one apache-arrow for the whole program`,
  );
}

/**
 * The IPC stream of an apache-arrow `Table`, `RecordBatch` (both kind `table`) or `Vector` (kind
 * `vector`, a table of one column named `values`): memory of its own, written now. `name` is what {@link arrowClassOf} said.
 */
export function arrowToIPC(value: object, name: ArrowClassName): { kind: TableKind; stream: Buffer } {
  const arrow = moduleOf(value, name);
  let table: Arrow.Table;
  if (name === 'Table') table = value as Arrow.Table;
  else if (name === 'RecordBatch') table = new arrow.Table(value as Arrow.RecordBatch);
  else table = new arrow.Table({ [VECTOR_COLUMN]: value as Arrow.Vector });
  const bytes = arrow.tableToIPC(table, 'stream');
  return { kind: name === 'Vector' ? 'vector' : 'table', stream: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/**
 * A received IPC stream as a `Table` (kind `table`) or a `Vector` (kind `vector`). Its columns view
 * `frame` (copied first only if `frame` is not 8-byte aligned in its `ArrayBuffer`, which typed
 * arrays need). Throws {@link ProtocolError} for bytes that are not one stream of that kind,
 * {@link MissingDependencyError} when apache-arrow cannot be loaded.
 */
export function arrowFromIPC(kind: TableKind, frame: Buffer): Arrow.Table | Arrow.Vector {
  if (frame.length < END_OF_STREAM.length || !frame.subarray(frame.length - END_OF_STREAM.length).equals(END_OF_STREAM)) {
    throw new ProtocolError('ext 3 (table) frame is not an Arrow IPC stream: it does not end with the end-of-stream marker');
  }
  const arrow = arrowModule('cannot receive an Arrow table from Python');
  const bytes = frame.byteOffset % 8 === 0 ? frame : alignedCopy(frame);
  let table: Arrow.Table;
  try {
    // Not tableFromIPC: it gives a stream without batches an empty schema, and takes bytes with
    // no schema at all for an empty table.
    const reader = arrow.RecordBatchReader.from(bytes);
    reader.open();
    const batches = reader.readAll();
    table = new arrow.Table(reader.schema, batches);
  } catch (error) {
    throw new ProtocolError(`ext 3 (table) frame is not a readable Arrow IPC stream: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  if (kind === 'table') return table;
  if (table.numCols !== 1) throw new ProtocolError(`ext 3 (table) of kind 'vector' must hold one column, got ${table.numCols}`);
  return table.getChildAt(0)!;
}

function alignedCopy(frame: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(frame.length);
  frame.copy(copy);
  return copy;
}
