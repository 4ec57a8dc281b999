/**
 * Arrow tables as plain values that `deep.equal` can compare: what a table holds, not how a writer
 * laid it out. pyarrow and apache-arrow write the same table in different bytes (padding, buffers
 * under nulls, an empty field name), so tests compare these instead (PROTOCOL.md, "Tables (ext 3)").
 *
 * A table is its schema (names, types, nullability, metadata) and, per column, its cells across
 * chunks: null, or the slot's raw bytes for a fixed-width type (floats bit for bit: NaN, −0;
 * int64 and timestamps whole, whatever apache-arrow's accessors would round), the value for
 * strings and booleans, the cells of a list or struct, and a dictionary column's index with its
 * dictionary.
 */
import { DataType, makeVector, Table, Vector, type Data, type Field } from 'apache-arrow';

export interface TableContent {
  fields: { name: string; type: string; nullable: boolean; metadata: [string, string][] }[];
  metadata: [string, string][];
  columns: unknown[][];
}

/** What a Table holds. */
export function tableContent(table: Table): TableContent {
  return {
    fields: table.schema.fields.map((field: Field) => ({
      name: field.name,
      type: String(field.type),
      nullable: field.nullable,
      metadata: [...field.metadata].sort(),
    })),
    metadata: [...table.schema.metadata].sort(),
    columns: table.schema.fields.map((_, i) => vectorContent(table.getChildAt(i)!)),
  };
}

/** What a Vector holds: its cells across all its chunks, and its type. */
export function vectorContent(vector: Vector): unknown[] {
  return [String(vector.type), ...vector.data.flatMap((data) => Array.from({ length: data.length }, (_, i) => cell(data, i)))];
}

function cell(data: Data, i: number): unknown {
  if (!data.getValid(i)) return null;
  const type = data.type;
  if (DataType.isStruct(type)) return data.children.map((child) => cell(child, i));
  if (DataType.isList(type) || DataType.isLargeList(type) || DataType.isMap(type)) {
    const offsets = data.valueOffsets;
    const [begin, end] = [Number(offsets[i]), Number(offsets[i + 1])];
    return Array.from({ length: end - begin }, (_, k) => cell(data.children[0]!, begin + k));
  }
  if (DataType.isFixedSizeList(type)) {
    return Array.from({ length: type.listSize }, (_, k) => cell(data.children[0]!, i * type.listSize + k));
  }
  if (DataType.isDictionary(type)) {
    return { index: raw(data, i), dictionary: vectorContent(data.dictionary!) };
  }
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isUtf8View(type) || DataType.isBool(type)) {
    return makeVector(data).get(i);
  }
  if (DataType.isBinary(type) || DataType.isLargeBinary(type) || DataType.isBinaryView(type)) {
    return Buffer.from(makeVector(data).get(i) as Uint8Array).toString('hex');
  }
  return raw(data, i);
}

/** A fixed-width slot's bytes, as hex. */
function raw(data: Data, i: number): string {
  const values = data.values as unknown as ArrayBufferView & { BYTES_PER_ELEMENT: number };
  const size = data.stride * values.BYTES_PER_ELEMENT;
  return Buffer.from(values.buffer, values.byteOffset + i * size, size).toString('hex');
}

/** `value` with every Table and Vector in it replaced by what it holds (see the top). */
export function comparable(value: unknown): unknown {
  if (value instanceof Table) return { table: tableContent(value) };
  if (value instanceof Vector) return { vector: vectorContent(value) };
  if (Array.isArray(value)) return value.map(comparable);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, comparable(v)]));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
  }
  return value;
}
