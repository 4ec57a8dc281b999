/**
 * Apache Arrow tables on the wire (PROTOCOL.md, "Tables (ext 3)"): an `apache-arrow` `Table`,
 * `RecordBatch` or `Vector` goes out as an Arrow IPC stream, and a received stream comes back as a
 * `Table` (kind `table`) or `Vector` (kind `vector`) that views the received frame.
 *
 * Which apache-arrow does the work, and when it is loaded, is arrow-module.ts's business. Telling
 * an Arrow value from any other object costs nothing until one is met: apache-arrow marks its
 * classes' instances with registered symbols (`Symbol.for('apache-arrow/Table')`), which are looked
 * up only for an object the encoder cannot otherwise send.
 */
import type * as Arrow from 'apache-arrow';
import { ProtocolError } from '../errors.js';
import { arrowFor, arrowForDecoding, type ArrowClassName, type ArrowModule } from './arrow-module.js';

/** What an ext 3 value is: a table, or one column of one. */
export type TableKind = 'table' | 'vector';

/** The name of a vector's one column on the wire (not part of the value: a Vector has no name). */
const VECTOR_COLUMN = 'values';

/** The 8 bytes that end an Arrow IPC stream: a continuation marker and a zero metadata length. */
const END_OF_STREAM = Buffer.from('ffffffff00000000', 'hex');

const MARKS: readonly (readonly [symbol, ArrowClassName])[] = [
  [Symbol.for('apache-arrow/Table'), 'Table'],
  [Symbol.for('apache-arrow/RecordBatch'), 'RecordBatch'],
  [Symbol.for('apache-arrow/Vector'), 'Vector'],
];

/** `Table`, `RecordBatch` or `Vector` when `value` is one (of any copy of apache-arrow >= 21), else undefined. */
export function arrowClassOf(value: object): ArrowClassName | undefined {
  for (const [mark, name] of MARKS) {
    if ((value as Record<symbol, unknown>)[mark] === true) return name;
  }
  return undefined;
}

/** Where an IPC stream is written: memory of `size` bytes that the caller owns (fresh by default). */
export type Allocate = (size: number) => Buffer;

const freshMemory: Allocate = (size) => Buffer.allocUnsafeSlow(size);

/**
 * The IPC stream of an apache-arrow `Table`, `RecordBatch` (both kind `table`) or `Vector` (kind
 * `vector`, a table of one column named `values`), written now into memory from `allocate`: the
 * writer's pieces (metadata, and views of the columns' buffers) are gathered first, so the columns
 * are copied once, straight into memory of the stream's size. `name` is what {@link arrowClassOf} said.
 */
export function arrowToIPC(value: object, name: ArrowClassName, allocate: Allocate = freshMemory): { kind: TableKind; stream: Buffer } {
  const arrow = arrowFor(value, name) as typeof Arrow;
  let table: Arrow.Table;
  if (name === 'Table') table = value as Arrow.Table;
  else if (name === 'RecordBatch') table = new arrow.Table(value as Arrow.RecordBatch);
  else table = new arrow.Table({ [VECTOR_COLUMN]: value as Arrow.Vector });
  const pieces: Uint8Array[] = [];
  const writer = new arrow.RecordBatchStreamWriter();
  // What RecordBatchStreamWriter.writeAll does, into a sink that keeps the pieces.
  writer.reset(collector(arrow, pieces), table.schema);
  for (const batch of table.batches) writer.write(batch);
  writer.finish();
  let size = 0;
  for (const piece of pieces) size += piece.byteLength;
  const stream = allocate(size);
  let at = 0;
  for (const piece of pieces) {
    stream.set(piece, at);
    at += piece.byteLength;
  }
  return { kind: name === 'Vector' ? 'vector' : 'table', stream };
}

/** A writer's sink that only keeps what it is given, per instance of apache-arrow (its writer checks the sink's class). */
type PieceSink = Arrow.AsyncByteQueue;
const collectors = new WeakMap<ArrowModule, new (pieces: Uint8Array[]) => PieceSink>();

function collector(arrow: typeof Arrow, pieces: Uint8Array[]): PieceSink {
  let Collector = collectors.get(arrow);
  if (Collector === undefined) {
    Collector = class extends arrow.AsyncByteQueue {
      readonly #pieces: Uint8Array[];
      constructor(into: Uint8Array[]) {
        super();
        this.#pieces = into;
      }
      override write(value: Uint8Array): void {
        if (value.byteLength > 0) this.#pieces.push(value);
      }
    };
    collectors.set(arrow, Collector);
  }
  return new Collector(pieces);
}

/** Whether a received frame may hold an IPC stream: it starts with a continuation marker and ends with the end-of-stream marker. */
export function looksLikeIPC(frame: Buffer): boolean {
  return frame.length >= 16 && frame.readUInt32LE(0) === 0xffffffff && frame.subarray(frame.length - END_OF_STREAM.length).equals(END_OF_STREAM);
}

/**
 * A received IPC stream as a `Table` (kind `table`) or a `Vector` (kind `vector`). Its columns view
 * `frame` (copied first only if `frame` is not 8-byte aligned in its `ArrayBuffer`, which typed
 * arrays need). Throws {@link ProtocolError} for bytes that are not one stream of that kind,
 * {@link MissingDependencyError} when apache-arrow cannot be loaded.
 */
export function arrowFromIPC(kind: TableKind, frame: Buffer): unknown {
  if (frame.length < END_OF_STREAM.length || !frame.subarray(frame.length - END_OF_STREAM.length).equals(END_OF_STREAM)) {
    throw new ProtocolError('ext 3 (table) frame is not an Arrow IPC stream: it does not end with the end-of-stream marker');
  }
  const arrow = arrowForDecoding() as typeof Arrow;
  const bytes = frame.byteOffset % 8 === 0 ? frame : alignedCopy(frame);
  let table: Arrow.Table;
  try {
    // Not tableFromIPC: it gives a stream without batches an empty schema, and takes bytes with
    // no schema at all for an empty table.
    checkBatchBounds(arrow, bytes);
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

/**
 * What apache-arrow's reader takes on trust and a damaged stream may get wrong: a batch's row
 * count that its columns do not have (the table would claim billions of rows its buffers do not
 * hold), and buffers that reach past the message's body. Throws on either.
 */
function checkBatchBounds(arrow: typeof Arrow, bytes: Uint8Array): void {
  const reader = new arrow.MessageReader(bytes);
  for (let message = reader.readMessage(); message !== null; message = reader.readMessage()) {
    const header: unknown = message.header();
    // A record batch's metadata, or a dictionary batch's (its `data`).
    const data = isBatchMetadata(header) ? header : isRecord(header) && isBatchMetadata(header.data) ? header.data : undefined;
    if (data !== undefined) {
      const first = data.nodes[0];
      if (first !== undefined && Number(data.length) !== Number(first.length)) {
        throw new Error(`a record batch of ${data.length} rows whose first column has ${first.length}`);
      }
      for (const region of data.buffers) {
        if (region.offset < 0 || region.length < 0 || Number(region.offset) + Number(region.length) > message.bodyLength) {
          throw new Error(`a buffer at ${region.offset} of ${region.length} bytes outside a body of ${message.bodyLength}`);
        }
      }
    }
    if (message.bodyLength > 0) reader.readMessageBody(message.bodyLength);
  }
}

/** The metadata of a record batch, as apache-arrow reads it (not exported by name). */
interface BatchMetadata {
  length: number | bigint;
  nodes: { length: number | bigint }[];
  buffers: { offset: number | bigint; length: number | bigint }[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isBatchMetadata(value: unknown): value is BatchMetadata {
  return isRecord(value) && Array.isArray(value.nodes) && Array.isArray(value.buffers) && (typeof value.length === 'number' || typeof value.length === 'bigint');
}

function alignedCopy(frame: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(frame.length);
  frame.copy(copy);
  return copy;
}
