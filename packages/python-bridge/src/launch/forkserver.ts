/**
 * The fork-server launcher: one `python -m piton.forkserver` per pool imports the runtime and the
 * preloads once; each launch asks it to fork an interpreter, which then binds its endpoint and
 * serves exactly as a spawned one does (PROTOCOL.md, "The fork server").
 *
 * Every guarantee of the spawn launcher holds for a forked interpreter:
 * - its exit is known promptly, with its code or signal: the server reaps it and says so;
 * - its stdout and stderr come back line by line, tagged with its worker (the server relays them);
 * - it leads its own process group, and `signal()` reaches the whole group (the server sends it,
 *   as only the server knows whether the pid is still its child's);
 * - it dies with the server (PR_SET_PDEATHSIG), and the server dies with this process
 *   (PR_SET_PDEATHSIG, the parent-pid check, the control channel's end).
 * If the server dies, each interpreter it forked is killed here too (by process group, in case it
 * has not died yet) and reported as exited with SIGKILL once its process is gone; launches fail.
 */
import type { Readable, Writable } from 'node:stream';
import { describeExit, InterpreterStartError } from '../errors.js';
import type { LaunchedProcess, Launcher, LaunchSpec } from './launcher.js';
import { ChildProcessHandle, type OutputStream, type ProcessExit } from './child-process.js';
import { ForkedProcess, ORPHAN_WAIT_MS } from './forked-process.js';
import { gone, killGroup, stillRuns } from './proc.js';
import { stopLadder, within } from '@piton/core';
import { launcherCode, serveArgs, workerEnv, type ServeSpec } from './command-line.js';

/** What the server is started with: the pool's serve spec (what differs per interpreter comes with each fork). */
export interface ForkServerSpec extends ServeSpec {
  /** ms from spawn to the server's `ready`. */
  startTimeout: number;
  /** Every line the server itself prints (a preload's output, its traceback). */
  onOutput?: (line: string, stream: OutputStream) => void;
}

type ServerMessage =
  | { op: 'ready'; pid: number; threads: string[]; python: string }
  | { op: 'forked'; id: string; pid: number }
  | { op: 'fork_failed'; id: string; error: string }
  | { op: 'exit'; pid: number; code: number | null; signal: NodeJS.Signals | null }
  | { op: 'output'; pid: number; stream: OutputStream; data: string }
  | { op: 'closed'; pid: number };

/** How long `close()` waits for the server at each step (channel closed, SIGTERM) before the next. */
const CLOSE_GRACE_MS = 2_000;

interface PendingFork {
  resolve(process: ForkedProcess): void;
  reject(error: Error): void;
  onOutput: LaunchSpec['onOutput'];
}

export class ForkServerLauncher implements Launcher {
  readonly kind = 'forkserver';
  /** Threads the preloads left running in the server (forking is unsafe if there are any). */
  readonly threads: readonly string[];
  /** Resolves when the server has exited. */
  readonly exit: Promise<ProcessExit>;
  readonly #server: ChildProcessHandle;
  readonly #control: Writable;
  readonly #children = new Map<number, ForkedProcess>();
  readonly #forks = new Map<string, PendingFork>();
  #nextFork = 0;
  #closing: Promise<void> | undefined;
  #orphansGone: Promise<void> = Promise.resolve();

  private constructor(server: ChildProcessHandle, control: Writable, threads: string[], exit: Promise<ProcessExit>) {
    this.#server = server;
    this.#control = control;
    this.threads = threads;
    this.exit = exit;
  }

  /**
   * Spawns the server and waits for its `ready`. Rejects with {@link InterpreterStartError} (the
   * server gone, with its stderr: a preload's traceback) if it exits or stays silent first.
   */
  static async start(spec: ForkServerSpec): Promise<ForkServerLauncher> {
    const server = new ChildProcessHandle({
      command: spec.python,
      // As a spawned worker is started: the cwd never importable (command-line.ts).
      args: ['-c', launcherCode('piton.forkserver'), ...serveArgs(spec)],
      env: workerEnv(spec),
      cwd: spec.cwd,
      onLine: spec.onOutput,
      control: true,
      // A session of its own: signals a terminal or a process manager sends to Node's process
      // group (SIGHUP, SIGINT, SIGTERM) must not reach the server, which would take every
      // interpreter with it; Node decides when it stops.
      group: true,
    });
    const control = server.child.stdio[3] as (Readable & Writable) | undefined | null;
    let launcher: ForkServerLauncher | undefined;
    let ready: (message: Extract<ServerMessage, { op: 'ready' }>) => void = () => undefined;
    const readied = new Promise<Extract<ServerMessage, { op: 'ready' }>>((resolve) => (ready = resolve));
    if (control) {
      control.on('error', () => undefined); // EPIPE after the server died: its exit says the rest
      // One JSON message per line, unbounded (an output message carries up to 64 KiB of base64).
      let inbox = '';
      control.setEncoding('utf8');
      control.on('data', (chunk: string) => {
        inbox += chunk;
        let newline = inbox.indexOf('\n');
        while (newline !== -1) {
          const line = inbox.slice(0, newline);
          inbox = inbox.slice(newline + 1);
          newline = inbox.indexOf('\n');
          if (line === '') continue;
          const message = JSON.parse(line) as ServerMessage;
          if (message.op === 'ready') ready(message);
          else if (launcher) launcher.#receive(message);
        }
      });
    }
    const outcome = await within(Promise.race([readied, server.exit.then((exit) => ({ exit }))]), spec.startTimeout, () => 'timeout' as const);
    if (outcome === 'timeout' || 'exit' in outcome || !control) {
      server.signal('SIGKILL');
      const exit = await server.exit;
      await server.drained;
      const tail = server.stderrTail();
      const why = exit.spawnError
        ? `could not be spawned from "${spec.python}": ${exit.spawnError.message}`
        : outcome === 'timeout'
          ? `did not report ready within ${spec.startTimeout} ms`
          : `${describeExit(exit.code, exit.signal)} before reporting ready`;
      throw new InterpreterStartError(tail === '' ? `the fork server ${why}` : `the fork server ${why}; stderr:\n${tail}`, {
        exitCode: exit.code,
        signal: exit.signal,
        stderrTail: tail,
        cause: exit.spawnError,
      });
    }
    // The server's exit is told at once (its supervisor restarts it and the interpreters); the
    // interpreters it forked are accounted for meanwhile.
    const exit = server.exit.then((info) => {
      void launcher!.#serverGone(info);
      return info;
    });
    launcher = new ForkServerLauncher(server, control, outcome.threads, exit);
    return launcher;
  }

  /** The server's pid. */
  get pid(): number | undefined {
    return this.#server.pid;
  }

  get running(): boolean {
    return this.#server.running;
  }

  /** The server's last stderr lines. */
  stderrTail(): string {
    return this.#server.stderrTail();
  }

  launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    if (!this.#server.running || this.#closing) {
      return Promise.reject(new InterpreterStartError(`Python interpreter ${spec.id} could not be forked: the fork server is not running`));
    }
    const id = `${spec.id}#${++this.#nextFork}`;
    return new Promise<LaunchedProcess>((resolve, reject) => {
      this.#forks.set(id, { resolve, reject, onOutput: spec.onOutput });
      // The interpreter's own environment (the pool's `env`, or its slot's), set in the child
      // before it serves: the server's environment is the pool's, from its start.
      const env = Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, v ?? null]));
      this.#send({ op: 'fork', id, endpoint: spec.endpoint, env });
    });
  }

  /** Closes the control channel (the server then kills what is left and exits), then SIGTERM, then SIGKILL. */
  close(): Promise<void> {
    this.#closing ??= stopLadder(this.exit, [
      { run: () => this.#control.end(), wait: CLOSE_GRACE_MS },
      { run: () => this.#server.signal('SIGTERM'), wait: CLOSE_GRACE_MS },
      { run: () => this.#server.signal('SIGKILL'), wait: 'infinity' },
    ]).then(() => this.#orphansGone); // resolves once the interpreters it forked are gone too
    return this.#closing;
  }

  /** SIGKILL to the server now; its interpreters die with it. */
  kill(): void {
    this.#server.signal('SIGKILL');
  }

  #send(message: object): boolean {
    if (!this.#server.running || this.#control.writableEnded) return false;
    this.#control.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  #receive(message: ServerMessage): void {
    switch (message.op) {
      case 'forked': {
        const pending = this.#forks.get(message.id);
        if (!pending) return;
        this.#forks.delete(message.id);
        const child = new ForkedProcess(message.pid, pending.onOutput, (sig) => this.#signal(message.pid, sig));
        this.#children.set(message.pid, child);
        pending.resolve(child);
        return;
      }
      case 'fork_failed': {
        const pending = this.#forks.get(message.id);
        this.#forks.delete(message.id);
        pending?.reject(new InterpreterStartError(`Python interpreter ${message.id.split('#')[0]} could not be forked: ${message.error}`));
        return;
      }
      case 'output':
        this.#children.get(message.pid)?.output(message.stream, Buffer.from(message.data, 'base64'));
        return;
      case 'exit':
        this.#children.get(message.pid)?.exited({ code: message.code, signal: message.signal });
        return;
      case 'closed': {
        // Only for the child whose exit was reported: a newer child may have the pid by now.
        const child = this.#children.get(message.pid);
        if (child === undefined || child.running) return;
        child.closed();
        this.#children.delete(message.pid);
        return;
      }
      case 'ready':
        return;
    }
  }

  #signal(pid: number, sig: NodeJS.Signals): boolean {
    if (this.#send({ op: 'signal', pid, signal: sig })) return true;
    return killGroup(pid, sig);
  }

  /** The server is gone: fail the launches under way, and make sure every interpreter it forked is too. */
  #serverGone(exit: ProcessExit): Promise<void> {
    this.#orphansGone = this.#accountForOrphans(exit);
    return this.#orphansGone;
  }

  async #accountForOrphans(exit: ProcessExit): Promise<void> {
    const why = new InterpreterStartError(`the fork server ${describeExit(exit.code, exit.signal)}`, {
      exitCode: exit.code,
      signal: exit.signal,
      stderrTail: this.#server.stderrTail(),
    });
    for (const pending of this.#forks.values()) pending.reject(why);
    this.#forks.clear();
    const orphans = [...this.#children.values()];
    this.#children.clear();
    await Promise.all(
      orphans.map(async (child) => {
        if (child.running) {
          if (stillRuns(child.pid, child.startTime)) killGroup(child.pid, 'SIGKILL');
          await gone(child.pid, ORPHAN_WAIT_MS, child.startTime);
          child.exited({ code: null, signal: 'SIGKILL' });
        }
        child.closed();
      }),
    );
  }
}
