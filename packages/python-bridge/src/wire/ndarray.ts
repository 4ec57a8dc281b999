/**
 * Typed arrays and n-dimensional arrays as they cross the wire (PROTOCOL.md, "Arrays (ext 1)").
 * A typed array travels as a 1-d numpy array of the dtype of the same name; an {@link NdArray}
 * adds a shape (C order) to a typed array.
 */

/** The typed arrays that map to a numpy dtype. */
export type TypedArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** The numpy dtypes of the protocol (always little-endian on the wire). */
export type DType =
  | 'float64'
  | 'float32'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64';

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const constructorOf: Record<DType, TypedArrayConstructor> = {
  float64: Float64Array,
  float32: Float32Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};

// Keyed by constructor so a lookup is one Map probe; Buffer (a Uint8Array subclass) is absent on purpose.
const dtypeByConstructor = new Map<unknown, DType>(
  (Object.keys(constructorOf) as DType[]).map((dtype) => [constructorOf[dtype], dtype]),
);

/** The dtype of a typed array, or `undefined` for any other value (including `Buffer`, `Uint8ClampedArray`). */
export function dtypeOf(value: unknown): DType | undefined {
  return value === null || typeof value !== 'object' ? undefined : dtypeByConstructor.get(value.constructor);
}

/** Whether `name` is one of the protocol's dtypes. */
export function isDType(name: unknown): name is DType {
  return typeof name === 'string' && Object.hasOwn(constructorOf, name);
}

/** Bytes per element of a dtype. */
export function itemSize(dtype: DType): number {
  return constructorOf[dtype].BYTES_PER_ELEMENT;
}

/**
 * A typed array of `dtype` holding `length` elements of `bytes` (little-endian). It views `bytes`
 * without copying when the offset is aligned to the element size, else it copies once.
 */
export function typedArrayFromBytes(dtype: DType, bytes: Uint8Array, length: number): TypedArray {
  const ctor = constructorOf[dtype];
  if (bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0) return new ctor(bytes.buffer, bytes.byteOffset, length);
  const copy = new ctor(length);
  new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength).set(bytes.subarray(0, copy.byteLength));
  return copy;
}

/** The number of elements a (checked) shape holds. */
function elementsOf(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

function checkShape(shape: readonly number[], length: number): void {
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new RangeError(`NdArray shape must hold non-negative integers, got [${shape.join(', ')}]`);
    }
  }
  const size = elementsOf(shape);
  if (size !== length) {
    throw new RangeError(
      `NdArray shape [${shape.join(', ')}] holds ${size} elements but data has ${length}`,
    );
  }
}

/** An n-dimensional array (C order): a typed array plus a shape; numpy's `ndarray` on the Python side. */
export class NdArray<T extends TypedArray = TypedArray> {
  readonly data: T;
  readonly shape: readonly number[];
  readonly dtype: DType;

  /** Throws a `TypeError` for data that is not a protocol typed array, a `RangeError` for a shape that does not fit. */
  constructor(data: T, shape: readonly number[]) {
    const dtype = dtypeOf(data);
    if (dtype === undefined) {
      const kind = data === null || typeof data !== 'object' ? typeof data : (data as object).constructor?.name;
      throw new TypeError(`NdArray data must be a typed array such as Float64Array, got ${kind}`);
    }
    checkShape(shape, data.length);
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }
}

/**
 * Whether `value` is an NdArray that encodes as it was made: its data still holds every element
 * its shape names (a typed array whose buffer was transferred away since holds none).
 */
export function isIntactNdArray(value: unknown): value is NdArray {
  return value instanceof NdArray && value.data.length === elementsOf(value.shape);
}

/** Shorthand for `new NdArray(data, shape)`; `shape` defaults to `[data.length]`. */
export function ndarray<T extends TypedArray>(data: T, shape: readonly number[] = [data.length]): NdArray<T> {
  return new NdArray(data, shape);
}
