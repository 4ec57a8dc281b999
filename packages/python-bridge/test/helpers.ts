/**
 * Test support for the unit tests of the bridge's pure parts: a fake clock and a fake executor,
 * so that the dispatcher can be driven step by step without Python and without waiting.
 */
import { createCodec } from '../src/wire/codec.js';
import type { Executor, Outcome } from '../src/dispatch/dispatcher.js';
import { WorkerExitedError } from '../src/errors.js';
import { encodeCallBody, type EncodedCall } from '../src/wire/encoded-call.js';

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
    const until = this.now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
    }
    this.now = until;
  }
}

/** Lets queued promise reactions run (the dispatcher settles jobs in `.then` callbacks). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const codec = createCodec();

/** An encoded call of `module.fn(...args)`, as `pool.call()` makes it. */
export function encoded(fn: string, args: unknown[] = [], module = 'm'): EncodedCall {
  return encodeCallBody(codec, module, fn, args, undefined);
}

/** A run the fake executor was given: its calls, and the means to end it. */
export interface FakeRun {
  calls: readonly EncodedCall[];
  batch: boolean;
  resolve(outcomes: Outcome[]): void;
  reject(error: unknown): void;
}

/** An executor whose runs the test ends by hand. */
export class FakeExecutor implements Executor {
  readonly runs: FakeRun[] = [];
  serviceable = true;
  killed = false;

  constructor(
    readonly id: string,
    readonly capacity = 1,
  ) {}

  /** The run in progress (the last one given). */
  get current(): FakeRun {
    const run = this.runs[this.runs.length - 1];
    if (run === undefined) throw new Error(`executor ${this.id} has not been given a run`);
    return run;
  }

  run(call: EncodedCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.runs.push({
        calls: [call],
        batch: false,
        resolve: (outcomes) => (outcomes[0]!.ok ? resolve(outcomes[0]!.value) : reject(outcomes[0]!.error)),
        reject,
      });
    });
  }

  runBatch(calls: readonly EncodedCall[]): Promise<Outcome[]> {
    return new Promise((resolve, reject) => this.runs.push({ calls, batch: true, resolve, reject }));
  }

  /** Ends the current run with each call's function name as its value. */
  answer(): void {
    this.current.resolve(this.current.calls.map((call) => ({ ok: true, value: call.fn })));
  }

  /** Dies during the current run, as an interpreter whose process exits. */
  die(): void {
    this.serviceable = false;
    this.current.reject(new WorkerExitedError(null, 'SIGKILL'));
  }

  kill(): void {
    this.killed = true;
    this.serviceable = false;
    // Every run in flight rejects; rejecting one that has already ended does nothing, as with a real interpreter.
    for (const run of this.runs) run.reject(new WorkerExitedError(null, 'SIGKILL'));
  }
}
