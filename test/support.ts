/**
 * What tests of every TypeScript package share, in one place: waiting for a state no event
 * announces (`until`), the error of a promise expected to reject (`rejection`) or of a function
 * expected to throw (`thrown`), and a fake clock for
 * the unit tests of pure logic (`FakeClock`, `flush`). It imports no package, so each package's
 * tests (and bench/) may use it.
 */

/**
 * Waits until `condition` holds, checking every few ms, for at most `withinMs`: for states that
 * no event announces (another process's exit, a file another process writes). Rejects naming
 * `what` when time runs out.
 */
export async function until(condition: () => boolean | Promise<boolean>, what = 'a condition', withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Awaits a promise expected to reject and returns the error; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** Calls a function expected to throw and returns the error; fails if it returns. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw, the function returned');
}

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * Replaces `setTimeout`, `clearTimeout`, `performance.now()` and `Date.now()` while installed:
 * time moves only by `tick(ms)`, which runs the timers that fall due, in order.
 */
export class FakeClock {
  now = 1_000_000;
  #timers: FakeTimer[] = [];
  #nextId = 1;
  #restore: (() => void) | undefined;

  install(): this {
    const saved = {
      setTimeout: globalThis.setTimeout,
      clearTimeout: globalThis.clearTimeout,
      performanceNow: performance.now,
      dateNow: Date.now,
    };
    const fakeSetTimeout = (fn: () => void, ms = 0) => {
      // Node's own limit, kept so that overflowing it is noticed as Node would (fires after 1 ms).
      const delay = ms > 2 ** 31 - 1 || ms < 1 ? 1 : ms;
      const timer = { id: this.#nextId++, at: this.now + delay, fn };
      this.#timers.push(timer);
      return { id: timer.id, unref() {}, ref() {}, hasRef: () => true, [Symbol.toPrimitive]: () => timer.id };
    };
    const fakeClearTimeout = (handle: { id: number } | undefined) => {
      if (handle !== undefined) this.#timers = this.#timers.filter((t) => t.id !== handle.id);
    };
    globalThis.setTimeout = fakeSetTimeout as unknown as typeof setTimeout;
    globalThis.clearTimeout = fakeClearTimeout as unknown as typeof clearTimeout;
    performance.now = () => this.now;
    Date.now = () => this.now;
    this.#restore = () => {
      globalThis.setTimeout = saved.setTimeout;
      globalThis.clearTimeout = saved.clearTimeout;
      performance.now = saved.performanceNow;
      Date.now = saved.dateNow;
    };
    return this;
  }

  uninstall(): void {
    this.#restore?.();
    this.#restore = undefined;
    this.#timers = [];
  }

  /** Timers pending. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time on by `ms`, running each timer at its time (timers armed meanwhile included). */
  tick(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
}

/** Lets queued promise reactions run (code that settles in `.then` callbacks, under a fake clock). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
