import type { Interpreter } from '../interpreter/interpreter.js';

/**
 * Every interpreter a PythonWorker has started and not yet seen exit: the one serving, one being
 * recycled (still stopping), one still starting. A kill reaches all of them, and the worker has
 * exited only once all of them have: a pool's `stop()` must not resolve while any runs.
 */
export class LiveInterpreters {
  readonly #starting = new Set<Promise<unknown>>();
  readonly #running = new Set<Interpreter>();

  /** Starts an interpreter with `begin` (however the pool makes it), tracked from the first moment. */
  start(begin: () => Promise<Interpreter>): Promise<Interpreter> {
    const started = begin().then((interpreter) => {
      this.#running.add(interpreter);
      void interpreter.exited.then(() => this.#running.delete(interpreter));
      return interpreter;
    });
    const settled = started.then(
      () => undefined,
      () => undefined,
    );
    this.#starting.add(settled);
    void settled.then(() => this.#starting.delete(settled));
    return started;
  }

  /** SIGKILLs every running interpreter (one still starting is the caller's to kill once started). */
  killAll(): void {
    for (const interpreter of this.#running) interpreter.kill();
  }

  /** Resolves once no interpreter is starting or running. */
  async allExited(): Promise<void> {
    while (this.#starting.size > 0 || this.#running.size > 0) {
      await Promise.all([...this.#starting, ...[...this.#running].map((interpreter) => interpreter.exited)]);
    }
  }
}
