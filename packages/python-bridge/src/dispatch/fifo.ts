/**
 * A FIFO queue with O(1) push, shift, unshift and removal of any item. Removal is lazy (the slot
 * is skipped when it reaches the head), so a timed-out or aborted call leaves the queue in O(1)
 * whatever its length.
 */
export class Fifo<T extends object> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #removed = new WeakSet<T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#size++;
  }

  /** Puts an item back at the head (a call retried keeps its place in line). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
    this.#removed.delete(item);
    this.#size++;
  }

  shift(): T | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (item !== undefined && !this.#removed.has(item)) {
        this.#size--;
        this.#compact();
        return item;
      }
      if (item !== undefined) this.#removed.delete(item);
    }
    this.#compact();
    return undefined;
  }

  /** The item `shift()` would return, left in place. */
  peek(): T | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      if (item !== undefined && !this.#removed.has(item)) return item;
      this.#items[this.#head++] = undefined;
      if (item !== undefined) this.#removed.delete(item);
    }
    return undefined;
  }

  /** Removes an item known to be queued. */
  remove(item: T): void {
    this.#removed.add(item);
    this.#size--;
  }

  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
