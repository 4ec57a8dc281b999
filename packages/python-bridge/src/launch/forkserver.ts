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
import { setLongTimeout, type LongTimeout } from '@piton/core';
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { describeExit, InterpreterStartError } from '../errors.js';
import { serveArgs, type LaunchedProcess, type Launcher, type LaunchSpec } from './launcher.js';
import { ChildProcessHandle, DRAIN_TIMEOUT_MS, LineSplitter, Tail, type OutputStream, type ProcessExit } from './child-process.js';
import { workerEnv } from './spawn.js';

/** What the server is started with: everything of a launch but what differs per interpreter. */
export interface ForkServerSpec extends Omit<LaunchSpec, 'id' | 'endpoint' | 'onOutput'> {
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
/** After the server died, how long to wait for an interpreter it forked to be gone. */
const ORPHAN_WAIT_MS = 2_000;
/** How long the server may take to report the exit of an interpreter sent SIGKILL… */
const KILL_REPORT_MS = 2_000;
/** …and, once the process is seen gone, how much longer before its exit is reported without it. */
const GONE_REPORT_MS = 250;

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([promise.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

/** The server's start, `python -c FORKSERVER_LAUNCHER ARGS…`: as `-m piton.forkserver`, cwd left out (see WORKER_LAUNCHER). */
export const FORKSERVER_LAUNCHER =
  "import sys; sys.path[:1] == [''] and not getattr(sys.flags, 'safe_path', False) and sys.path.pop(0); " +
  'from piton.forkserver import main; main()';

/** The server's arguments after `-m piton.forkserver` (PROTOCOL.md). */
export function forkServerArgs(spec: ForkServerSpec, parentPid: number = process.pid): string[] {
  return serveArgs(spec, parentPid);
}

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
      // As a spawned worker is started (spawn-launcher.ts): the cwd never importable.
      args: ['-c', FORKSERVER_LAUNCHER, ...forkServerArgs(spec)],
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
    let timer: LongTimeout | undefined;
    const outcome = await Promise.race([
      readied,
      server.exit.then((exit) => ({ exit })),
      // Chained timers: a startTimeout past Node's 2^31 − 1 ms limit waits as long as it says.
      new Promise<'timeout'>((resolve) => (timer = setLongTimeout(() => resolve('timeout'), spec.startTimeout))),
    ]);
    timer?.clear();
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
    this.#closing ??= (async () => {
      this.#control.end();
      if (await this.#exitWithin(CLOSE_GRACE_MS)) return;
      this.#server.signal('SIGTERM');
      if (await this.#exitWithin(CLOSE_GRACE_MS)) return;
      this.#server.signal('SIGKILL');
      await this.exit;
    })();
    // Resolves once the interpreters it forked are gone too.
    this.#closing = this.#closing.then(() => this.#orphansGone);
    return this.#closing;
  }

  /** SIGKILL to the server now; its interpreters die with it. */
  kill(): void {
    this.#server.signal('SIGKILL');
  }

  async #exitWithin(ms: number): Promise<boolean> {
    let timer: LongTimeout | undefined;
    const done = await Promise.race([this.exit.then(() => true), new Promise<false>((r) => (timer = setLongTimeout(() => r(false), ms)))]);
    timer?.clear();
    return done;
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

/** An interpreter forked by the server: its exit and output arrive as the server's messages. */
class ForkedProcess implements LaunchedProcess {
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
    this.#startTime = startTimeOf(pid);
    const deliver = (line: string, stream: OutputStream) => {
      try {
        onOutput?.(line, stream);
      } catch {
        // ignored on purpose: the hook is the user's logging, not part of the protocol
      }
    };
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
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, DRAIN_TIMEOUT_MS)))]);
      clearTimeout(timer);
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

/** SIGKILL (or `sig`) to the process group `pid` leads, else to the process; whether it was sent. */
function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
      return true;
    } catch {
      // no such group (it had not called setpgid yet): try the process
    }
  }
  return false;
}

/** The start time of `pid` (clock ticks since boot, /proc/PID/stat field 22), to tell it from a later process with its pid. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether `pid` still runs (not a zombie) and, if `startTime` is given, is the process that had it. */
function stillRuns(pid: number, startTime?: string): boolean {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = fields.slice(fields.lastIndexOf(')') + 2);
    return !rest.startsWith('Z') && (startTime === undefined || rest.split(' ')[19] === startTime);
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone or a zombie (Linux /proc), for at most `ms`. */
async function gone(pid: number, ms: number, startTime?: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && stillRuns(pid, startTime)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
