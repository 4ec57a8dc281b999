/**
 * Free capacity per interpreter: the one place that knows how many runs (calls, batches, streams)
 * each interpreter has in flight, how many more it may take, and which one takes the next.
 *
 * An interpreter is *open* from the moment it joins until it leaves (detached, retired, killed
 * after a timeout): only open ones take runs, the least loaded first, so that with `concurrency >
 * 1` calls spread over the pool before they pile up on one interpreter. One that left is still
 * counted until its last run ends, so that a drain or a recycle can wait for it. Each interpreter
 * says how many runs it may have at once (`capacity`: its lanes).
 */
export interface Loaded {
  /** Runs it may have in flight at once. */
  readonly capacity: number;
}

export class Capacity<E extends Loaded> {
  /** Interpreters taking runs, with their runs in flight. */
  readonly #open = new Map<E, number>();
  /** Interpreters that left with runs still in flight. */
  readonly #leaving = new Map<E, number>();

  /** `executor` joins with nothing in flight. */
  open(executor: E): void {
    this.#open.set(executor, 0);
  }

  /** `executor` takes no more runs; returns how many it still has in flight (counted until they end). */
  close(executor: E): number {
    const load = this.#open.get(executor);
    if (load === undefined) return this.#leaving.get(executor) ?? 0;
    this.#open.delete(executor);
    if (load > 0) this.#leaving.set(executor, load);
    return load;
  }

  /** Whether `executor` takes runs. */
  isOpen(executor: E): boolean {
    return this.#open.has(executor);
  }

  /** Open interpreters. */
  get openCount(): number {
    return this.#open.size;
  }

  /**
   * The open interpreter with the most room (fewest runs in flight) that has any, now one run
   * busier; undefined when every one is full. Ties go to the one that joined first.
   */
  take(): E | undefined {
    let best: E | undefined;
    let bestLoad = Infinity;
    for (const [executor, load] of this.#open) {
      if (load >= executor.capacity || load >= bestLoad) continue;
      best = executor;
      bestLoad = load;
      if (load === 0) break;
    }
    if (best !== undefined) this.#open.set(best, bestLoad + 1);
    return best;
  }

  /** One of `executor`'s runs ended; returns how many it still has in flight. */
  end(executor: E): number {
    const open = this.#open.get(executor);
    if (open !== undefined) {
      const load = Math.max(0, open - 1);
      this.#open.set(executor, load);
      return load;
    }
    const leaving = this.#leaving.get(executor);
    if (leaving === undefined) return 0;
    if (leaving <= 1) {
      this.#leaving.delete(executor);
      return 0;
    }
    this.#leaving.set(executor, leaving - 1);
    return leaving - 1;
  }

  /** Runs `executor` has in flight (open or leaving). */
  load(executor: E): number {
    return this.#open.get(executor) ?? this.#leaving.get(executor) ?? 0;
  }

  /** Runs the open interpreters could still take now. */
  get free(): number {
    let free = 0;
    for (const [executor, load] of this.#open) free += Math.max(0, executor.capacity - load);
    return free;
  }

  /** Runs in flight, on open and leaving interpreters alike. */
  get inFlight(): number {
    let total = 0;
    for (const load of this.#open.values()) total += load;
    for (const load of this.#leaving.values()) total += load;
    return total;
  }

  /** Open interpreters with nothing in flight. */
  get idleCount(): number {
    let idle = 0;
    for (const load of this.#open.values()) if (load === 0) idle++;
    return idle;
  }

  /** Interpreters (open or leaving) with at least one run in flight. */
  get loadedCount(): number {
    let loaded = this.#leaving.size;
    for (const load of this.#open.values()) if (load > 0) loaded++;
    return loaded;
  }

  /** Whether any run is in flight anywhere. */
  get anyInFlight(): boolean {
    for (const load of this.#open.values()) if (load > 0) return true;
    return this.#leaving.size > 0;
  }

  /** The open interpreters with their runs in flight. */
  openEntries(): IterableIterator<[E, number]> {
    return this.#open.entries();
  }
}
