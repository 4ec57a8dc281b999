/**
 * Test support for the unit tests of the bridge's pure parts: a fake executor, so that the
 * dispatcher can be driven step by step without Python (and, with test/support.ts's FakeClock,
 * without waiting).
 */
import { createCodec } from '../src/wire/codec.js';
import type { Executor } from '../src/dispatch/dispatcher.js';
import type { Outcome } from '../src/wire/protocol.js';
import { InterpreterExitedError } from '../src/errors.js';
import { encodeCallBody, type EncodedCall } from '../src/wire/encoded-call.js';

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
    this.current.reject(new InterpreterExitedError(null, 'SIGKILL'));
  }

  kill(): void {
    this.killed = true;
    this.serviceable = false;
    // Every run in flight rejects; rejecting one that has already ended does nothing, as with a real interpreter.
    for (const run of this.runs) run.reject(new InterpreterExitedError(null, 'SIGKILL'));
  }
}
