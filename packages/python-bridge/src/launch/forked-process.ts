/**
 * An interpreter forked by the fork server, as a {@link LaunchedProcess}: its exit and output
 * arrive as the server's messages (forkserver.ts feeds them in), and its signals go through the
 * server, which alone knows whether the pid is still its child's. Should the server not report a
 * kill, the kill is confirmed from here through /proc (see `#confirmKill`).
 */
import type { LaunchedProcess, LaunchSpec } from './launcher.js';
import { DRAIN_TIMEOUT_MS, guardedOutputHook, LineSplitter, Tail, type OutputStream, type ProcessExit } from './child-process.js';
import { gone, killGroup, processStartTime, stillRuns } from './proc.js';
import { within } from '@piton/core';

/** After the server died, or failed to report a kill, how long to wait for an interpreter it forked to be gone. */
export const ORPHAN_WAIT_MS = 2_000;
/** How long the server may take to report the exit of an interpreter sent SIGKILL… */
const KILL_REPORT_MS = 2_000;
/** …and, once the process is seen gone, how much longer before its exit is reported without it. */
const GONE_REPORT_MS = 250;

/** Whether `promise` settles within `ms`. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return within(promise.then(() => true), ms, () => false);
}

/** An interpreter forked by the server: its exit and output arrive as the server's messages. */
export class ForkedProcess implements LaunchedProcess {
  readonly pid: number;
  readonly exit: Promise<ProcessExit>;
  readonly drained: Promise<void>;
  readonly #tail = new Tail();
  readonly #lines: Record<OutputStream, LineSplitter>;
  readonly #signal: (sig: NodeJS.Signals) => boolean;
  /** Tells this process from a later one with its pid. */
  readonly #startTime: string | undefined;
  #confirming = false;
  #exitInfo: ProcessExit | undefined;
  #resolveExit!: (exit: ProcessExit) => void;
  #resolveClosed!: () => void;
  #closed = false;

  constructor(pid: number, onOutput: LaunchSpec['onOutput'], signal: (sig: NodeJS.Signals) => boolean) {
    this.pid = pid;
    this.#signal = signal;
    this.#startTime = processStartTime(pid);
    const deliver = guardedOutputHook(onOutput);
    this.#lines = {
      stdout: new LineSplitter((line) => deliver(line, 'stdout')),
      stderr: new LineSplitter((line) => {
        this.#tail.add(line);
        deliver(line, 'stderr');
      }),
    };
    this.exit = new Promise((resolve) => (this.#resolveExit = resolve));
    const closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
    // As with a spawned process: output written before the exit is delivered first, and a
    // grandchild holding the pipes open delays the drain by at most DRAIN_TIMEOUT_MS.
    this.drained = this.exit.then(async () => {
      await within(closed, DRAIN_TIMEOUT_MS, () => undefined);
      this.#endLines();
    });
  }

  get running(): boolean {
    return this.#exitInfo === undefined;
  }

  get startTime(): string | undefined {
    return this.#startTime;
  }

  stderrTail(): string {
    return this.#tail.toString();
  }

  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    const sent = this.#signal(sig);
    if (sig === 'SIGKILL') void this.#confirmKill();
    return sent;
  }

  /**
   * Kill and confirm: the server reports the exit of what it killed within milliseconds. Should
   * that report not come (the server wedged, or its bookkeeping lost the pid), a stop or a kill
   * must still end: after KILL_REPORT_MS the process group is killed from here, and once the
   * process is gone (and GONE_REPORT_MS more without a report) its exit is reported as SIGKILL,
   * with a line in its stderr tail saying so.
   */
  async #confirmKill(): Promise<void> {
    if (this.#confirming) return;
    this.#confirming = true;
    if (await settlesWithin(this.exit, KILL_REPORT_MS)) return;
    if (stillRuns(this.pid, this.#startTime)) killGroup(this.pid, 'SIGKILL');
    await gone(this.pid, ORPHAN_WAIT_MS, this.#startTime);
    if (await settlesWithin(this.exit, GONE_REPORT_MS)) return;
    this.#tail.add(`piton: the fork server did not report the exit of pid ${this.pid}; it was killed and found gone`);
    this.exited({ code: null, signal: 'SIGKILL' });
    this.closed();
  }

  output(stream: OutputStream, data: Buffer): void {
    this.#lines[stream].push(data);
  }

  exited(exit: ProcessExit): void {
    if (this.#exitInfo !== undefined) return;
    this.#exitInfo = exit;
    this.#resolveExit(exit);
  }

  closed(): void {
    this.#endLines();
    this.#resolveClosed();
  }

  #endLines(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lines.stdout.end();
    this.#lines.stderr.end();
  }
}
