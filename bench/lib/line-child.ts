/**
 * A child process that answers one line on stdout for each line on stdin, after a first `ready`
 * line: the shape of the benchmark's helper processes that time something themselves (the asyncio
 * floor, one build's pools in a Node process of their own).
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { exited, type Stoppable } from './context.js';

export class LineChild implements Stoppable {
  readonly #child: ChildProcess;
  readonly #what: string;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: ChildProcess, what: string) {
    this.#child = child;
    this.#what = what;
    this.#lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  /** Resolves once `child` (named `what` in errors) has said `ready`. */
  static async start(child: ChildProcess, what: string): Promise<LineChild> {
    const lines = new LineChild(child, what);
    if ((await lines.#next()) !== 'ready') throw new Error(`${what} did not start`);
    return lines;
  }

  async #next(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`${this.#what} exited`);
    return value;
  }

  /** Sends `line` and resolves with the line that answers it. */
  async ask(line: string): Promise<string> {
    this.#child.stdin!.write(`${line}\n`);
    return this.#next();
  }

  /** Closes its stdin (its cue to exit) and waits for it to exit. */
  async stop(): Promise<void> {
    this.#child.stdin!.end();
    await exited(this.#child);
  }
}
