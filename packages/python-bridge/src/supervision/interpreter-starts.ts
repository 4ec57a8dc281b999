/**
 * How a pool starts its interpreters: each start is announced (`launching`), and its outcome too
 * (`ready`, or `exited` with cause `start_failure`), on the system's `'interpreter'` events.
 *
 * Starting in parallel: the pool's supervisor starts its children one at a time (OTP), and each
 * child's start waits for its interpreter's handshake. So that a pool of N is ready in about the
 * time of one start, the pool launches all N interpreters at once, ahead of the supervisor
 * (`launchAhead`); each worker's start then takes its own pre-launched interpreter and awaits its
 * handshake, which is already under way. A failure still fails that worker's start, in order, as
 * the supervisor expects; interpreters launched ahead and never taken are killed (`discard`).
 */
import { InterpreterStartError } from '../errors.js';
import { Interpreter, type InterpreterOptions } from '../interpreter/interpreter.js';
import type { InterpreterEvent } from '../ops/events.js';

export interface InterpreterStartsOptions {
  /** The pool's path, for the events. */
  pool: string;
  /** The launcher's kind, for the events. */
  startMethod(): string;
  options(workerId: string): InterpreterOptions;
  emit(event: InterpreterEvent): void;
  /** A start failed (it is also an `exited` event with cause `start_failure`). */
  onStartFailure(workerId: string, error: unknown): void;
}

export class InterpreterStarts {
  readonly #opts: InterpreterStartsOptions;
  readonly #ahead = new Map<string, Promise<Interpreter>>();

  constructor(opts: InterpreterStartsOptions) {
    this.#opts = opts;
  }

  /** Launches one interpreter for each worker that has none launched ahead yet, all at once. */
  launchAhead(workerIds: readonly string[]): void {
    for (const workerId of workerIds) {
      if (this.#ahead.has(workerId)) continue;
      const started = this.#launch(workerId);
      // Read when the worker takes it, or by discard(); never an unhandled rejection meanwhile.
      started.catch(() => undefined);
      this.#ahead.set(workerId, started);
    }
  }

  /** The interpreter launched ahead for `workerId`, else a fresh start. */
  start(workerId: string): Promise<Interpreter> {
    const ahead = this.#ahead.get(workerId);
    if (ahead !== undefined) {
      this.#ahead.delete(workerId);
      return ahead;
    }
    return this.#launch(workerId);
  }

  /** Kills the interpreters launched ahead and not taken, and waits until they are gone. */
  async discard(): Promise<void> {
    const left = [...this.#ahead.values()];
    this.#ahead.clear();
    await Promise.all(
      left.map(async (started) => {
        const interpreter = await started.catch(() => undefined);
        if (!interpreter) return;
        interpreter.kill();
        await interpreter.exited;
      }),
    );
  }

  async #launch(workerId: string): Promise<Interpreter> {
    const { pool, emit } = this.#opts;
    emit({ type: 'launching', pool, worker: workerId, at: Date.now(), startMethod: this.#opts.startMethod() });
    try {
      const interpreter = await Interpreter.start(this.#opts.options(workerId));
      emit({ type: 'ready', pool, worker: workerId, at: Date.now(), pid: interpreter.pid });
      return interpreter;
    } catch (error) {
      const failed = error instanceof InterpreterStartError ? error : undefined;
      emit({
        type: 'exited',
        pool,
        worker: workerId,
        at: Date.now(),
        cause: 'start_failure',
        pid: undefined,
        code: failed?.exitCode ?? null,
        signal: failed?.signal ?? null,
        error: error instanceof Error ? error.message : String(error),
      });
      this.#opts.onStartFailure(workerId, error);
      throw error;
    }
  }
}
