/**
 * A bound on what apache-arrow believes of a received stream's metadata. apache-arrow reads an IPC
 * stream's flatbuffers without verifying them, so a damaged (or hostile) schema whose vector
 * declares millions of items makes it build millions of objects: the decode hangs and exhausts
 * the heap instead of failing. Every vector a flatbuffer holds has items of at least one byte, so
 * one that claims more items than bytes remain in its buffer cannot be; this guard makes reading
 * its length throw, which the decoder reports as a ProtocolError (arrow.ts).
 *
 * The guard is installed once on the `flatbuffers` module apache-arrow itself loads (Node resolves
 * it to one CommonJS instance for both of apache-arrow's builds), the first time apache-arrow is.
 */
import { createRequire } from 'node:module';

interface ByteBufferLike {
  readInt32(offset: number): number;
  capacity(): number;
}

interface FlatbuffersModule {
  ByteBuffer: { prototype: ByteBufferLike & { __vector_len(offset: number): number } };
}

const GUARDED = Symbol.for('piton.flatbufferGuard');

/** Installs the guard on the `flatbuffers` that the apache-arrow at `arrowPath` loads; quietly does nothing if there is none. */
export function guardFlatbuffers(arrowPath: string): void {
  let flatbuffers: FlatbuffersModule;
  try {
    flatbuffers = createRequire(arrowPath)('flatbuffers') as FlatbuffersModule;
  } catch {
    return;
  }
  const prototype = flatbuffers.ByteBuffer?.prototype as (FlatbuffersModule['ByteBuffer']['prototype'] & { [GUARDED]?: true }) | undefined;
  if (prototype === undefined || prototype[GUARDED] || typeof prototype.__vector_len !== 'function') return;
  const length = prototype.__vector_len;
  prototype.__vector_len = function (this: ByteBufferLike, offset: number): number {
    const items = length.call(this, offset);
    const start = offset + this.readInt32(offset) + 4;
    if (items < 0 || start + items > this.capacity()) {
      throw new RangeError(`a flatbuffer vector of ${items} items does not fit in the ${this.capacity()} bytes of its message`);
    }
    return items;
  };
  prototype[GUARDED] = true;
}
