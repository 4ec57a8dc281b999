/**
 * A map keyed by a pair of strings (a module and a function), as nested maps. The pool asks it
 * on every one-argument call (is this function batched?): a joined string key would be a new
 * string each time, hashed anew; the two names a caller passes are usually literals, whose
 * hashes V8 keeps.
 */
export class PairMap<V> {
  readonly #outer = new Map<string, Map<string, V>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(first: string, second: string): V | undefined {
    return this.#outer.get(first)?.get(second);
  }

  set(first: string, second: string, value: V): void {
    let inner = this.#outer.get(first);
    if (inner === undefined) this.#outer.set(first, (inner = new Map()));
    if (!inner.has(second)) this.#size++;
    inner.set(second, value);
  }

  /** Removes the entry if it is `value` (a later one under the same pair stays). */
  deleteIf(first: string, second: string, value: V): void {
    const inner = this.#outer.get(first);
    if (inner === undefined || inner.get(second) !== value) return;
    inner.delete(second);
    this.#size--;
    if (inner.size === 0) this.#outer.delete(first);
  }

  *values(): IterableIterator<V> {
    for (const inner of this.#outer.values()) yield* inner.values();
  }

  clear(): void {
    this.#outer.clear();
    this.#size = 0;
  }
}
