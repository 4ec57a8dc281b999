/**
 * Memory for the snapshots of typed arrays taken at `call()` (payload.ts), and for the IPC streams
 * of the Arrow tables a call sends (written at `call()` too), reused from call to call.
 *
 * Copying 64 MiB into memory that is already mapped took 3.6 ms on the benchmark machine; into a
 * fresh allocation 35 ms, nearly all of it the kernel faulting in and zeroing new pages. A
 * program that sends arrays in a loop sends arrays of the same few sizes, so a snapshot's memory
 * is handed back once its call has settled and reused for the next snapshot of the same size.
 *
 * A snapshot is given back only when its call has settled: by then the worker has received the
 * whole request (REQ/REP: it replied), or the interpreter is gone and its socket with it, so
 * nothing reads the memory any more. What is kept is bounded by `maxBytes`, and all of it is let
 * go once no snapshot has been taken for `idleMs`, so an idle pool holds none.
 */

/** Frames smaller than this are copied into fresh memory: Node's allocation pool serves them cheaply. */
export const MIN_REUSED_BYTES = 64 * 1024;

export interface SnapshotOptions {
  /** Bytes of free snapshot memory kept at most. */
  maxBytes: number;
  /** ms without a snapshot after which the free memory is let go. */
  idleMs: number;
}

export class SnapshotBuffers {
  readonly #free = new Map<number, Buffer[]>();
  readonly #options: SnapshotOptions;
  /** Buffers handed out by take() and not yet given back: only those may come back. */
  readonly #lent = new WeakSet<Buffer>();
  #freeBytes = 0;
  #lastTake = 0;
  #trimTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SnapshotOptions) {
    this.#options = options;
  }

  /** Bytes of free memory kept now. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** A copy of `view` (reused memory when a free buffer of its length is kept). */
  take(view: Uint8Array): Buffer {
    if (view.byteLength < MIN_REUSED_BYTES) return Buffer.from(view);
    const copy = this.lend(view.byteLength);
    copy.set(view);
    return copy;
  }

  /** `size` bytes to write into (reused memory when a free buffer of that length is kept; not zeroed). */
  lend(size: number): Buffer {
    if (size < MIN_REUSED_BYTES) return Buffer.allocUnsafe(size);
    this.#lastTake = Date.now();
    const spare = this.#free.get(size)?.pop();
    let memory: Buffer;
    if (spare === undefined) {
      memory = Buffer.allocUnsafeSlow(size);
    } else {
      memory = spare;
      this.#freeBytes -= spare.byteLength;
    }
    this.#lent.add(memory);
    return memory;
  }

  /** Gives back the snapshots of a call that has settled; other buffers are ignored. */
  give(buffers: readonly Buffer[]): void {
    for (const buffer of buffers) {
      if (!this.#lent.has(buffer)) continue;
      this.#lent.delete(buffer);
      if (this.#freeBytes + buffer.byteLength > this.#options.maxBytes) continue;
      let list = this.#free.get(buffer.byteLength);
      if (list === undefined) this.#free.set(buffer.byteLength, (list = []));
      list.push(buffer);
      this.#freeBytes += buffer.byteLength;
    }
    if (this.#freeBytes > 0) this.#armTrim();
  }

  /** Lets go of all free memory. */
  clear(): void {
    this.#free.clear();
    this.#freeBytes = 0;
    if (this.#trimTimer !== undefined) clearTimeout(this.#trimTimer);
    this.#trimTimer = undefined;
  }

  #armTrim(): void {
    if (this.#trimTimer !== undefined) return;
    const check = () => {
      this.#trimTimer = undefined;
      const idle = Date.now() - this.#lastTake;
      if (idle >= this.#options.idleMs) this.clear();
      else if (this.#freeBytes > 0) {
        this.#trimTimer = setTimeout(check, this.#options.idleMs - idle);
        this.#trimTimer.unref();
      }
    };
    this.#trimTimer = setTimeout(check, this.#options.idleMs);
    this.#trimTimer.unref();
  }
}
