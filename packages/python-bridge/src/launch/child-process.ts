/**
 * One child process with its output split into lines: every line goes to a callback, and a bounded
 * tail of stderr is kept for error messages (a start failure's traceback, "No module named zmq").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { within } from '@piton/core';

/** A line longer than this is cut (the rest up to the next newline is dropped). */
export const MAX_LINE_LENGTH = 64 * 1024;
/** The stderr tail keeps at most this many lines… */
export const STDERR_TAIL_LINES = 50;
/** …and at most this many characters. */
export const STDERR_TAIL_CHARS = 8 * 1024;
/** After exit, how long to wait for the output pipes to drain (a grandchild may hold them open). */
export const DRAIN_TIMEOUT_MS = 1_000;

export type OutputStream = 'stdout' | 'stderr';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (ENOENT, EACCES, …). */
  spawnError?: Error;
  /** Set when a remote worker was lost without a confirmed exit: what its requests fail with. */
  lost?: Error;
}

export interface SpawnOptions {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  onLine?: (line: string, stream: OutputStream) => void;
  /**
   * Run the process as the leader of a new session and process group (POSIX), so that signals
   * reach whatever it starts too, and signals meant for Node's own group never reach it.
   * `signal()` then signals the whole group, and what is left of the group when the process has
   * exited is SIGKILLed. @default false
   */
  group?: boolean;
  /** Also open fd 3 as a stream socket to the child (`child.stdio[3]`): the fork server's control channel. */
  control?: boolean;
}

/**
 * The output hook as a launcher calls it: a hook that throws must not break the pipes (and with
 * them the exit bookkeeping); what it throws is dropped, since the hook is the user's logging, not
 * part of the protocol.
 */
export function guardedOutputHook(hook: ((line: string, stream: OutputStream) => void) | undefined): (line: string, stream: OutputStream) => void {
  return (line, stream) => {
    try {
      hook?.(line, stream);
    } catch {
      // ignored on purpose: see above
    }
  };
}

/** Splits a byte stream into lines, bounded in length. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private cutting = false;

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    let text = this.decoder.write(chunk);
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      this.append(text.slice(0, newline));
      this.flushLine();
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    this.append(text);
  }

  end(): void {
    this.append(this.decoder.end());
    if (this.partial !== '' || this.cutting) this.flushLine();
  }

  private append(text: string): void {
    if (this.cutting || text === '') return;
    const room = MAX_LINE_LENGTH - this.partial.length;
    if (text.length <= room) {
      this.partial += text;
    } else {
      this.partial += text.slice(0, room);
      this.cutting = true;
    }
  }

  private flushLine(): void {
    let line = this.partial;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (this.cutting) line += ' [line cut at 64 KiB]';
    this.partial = '';
    this.cutting = false;
    this.emit(line);
  }
}

/** The last lines of a stream, bounded by count and by characters. */
/**
 * What starts the marker lines a worker writes to name the call whose output follows (PROTOCOL.md,
 * "Call context"); they are not output, and the stderr tail leaves them out.
 */
export const OUTPUT_MARKER = '\x1epiton-call';

export class Tail {
  private readonly lines: string[] = [];
  private chars = 0;

  add(line: string): void {
    if (line.startsWith(OUTPUT_MARKER)) return;
    const kept = line.length > STDERR_TAIL_CHARS ? line.slice(-STDERR_TAIL_CHARS) : line;
    this.lines.push(kept);
    this.chars += kept.length + 1;
    while (this.lines.length > STDERR_TAIL_LINES || this.chars > STDERR_TAIL_CHARS) {
      this.chars -= this.lines.shift()!.length + 1;
    }
  }

  toString(): string {
    return this.lines.join('\n');
  }
}

/** A spawned process (`stdio: ['ignore', 'pipe', 'pipe']`) whose exit is a promise. */
export class ChildProcessHandle {
  readonly child: ChildProcess;
  /** Resolves on the process's 'exit' (or on a spawn failure); never rejects. */
  readonly exit: Promise<ProcessExit>;
  /** Resolves once the output pipes are drained after exit, or after a bounded wait. */
  readonly drained: Promise<void>;
  private readonly tail = new Tail();
  private exitInfo: ProcessExit | undefined;
  /** Signals go to the process group whose id is the child's pid. */
  private readonly group: boolean;

  constructor(opts: SpawnOptions) {
    this.group = opts.group === true && process.platform !== 'win32';
    this.child = spawn(opts.command, [...opts.args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: opts.control ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
      // setsid() in the child before exec: a new session and group, with no controlling terminal
      // (stdin is ignored and stdout/stderr are pipes, so nothing needs one).
      detached: this.group,
    });
    const deliver = guardedOutputHook(opts.onLine);
    this.pipe(this.child.stdout, (line) => deliver(line, 'stdout'));
    this.pipe(this.child.stderr, (line) => {
      this.tail.add(line);
      deliver(line, 'stderr');
    });

    this.exit = new Promise<ProcessExit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo ??= { code, signal };
        // Whatever the process started and left behind goes with it. Done at once, while the
        // group id cannot yet have been handed to another process.
        this.signalGroup('SIGKILL');
        resolve(this.exitInfo);
      });
      this.child.once('error', (error) => {
        // 'error' without a pid is a failed spawn: no 'exit' will follow.
        if (this.child.pid === undefined) {
          this.exitInfo ??= { code: null, signal: null, spawnError: error };
          resolve(this.exitInfo);
        }
      });
    });

    this.drained = this.exit.then(async (info) => {
      if (info.spawnError) return;
      if (this.child.stdout?.readableEnded !== false && this.child.stderr?.readableEnded !== false) return;
      // 'close' comes once both pipes are drained; a grandchild holding them open delays it, so bounded.
      await within(new Promise<void>((resolve) => this.child.once('close', () => resolve())), DRAIN_TIMEOUT_MS, () => undefined);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is still running (no 'exit' seen yet). */
  get running(): boolean {
    return this.exitInfo === undefined && this.child.pid !== undefined;
  }

  /** The last lines written to stderr (at most 50 lines / 8 KiB). */
  stderrTail(): string {
    return this.tail.toString();
  }

  /**
   * Sends a signal if the process still runs (to its whole group with `group: true`); returns
   * whether it was sent.
   */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    if (this.group && this.signalGroup(sig)) return true;
    try {
      return this.child.kill(sig);
    } catch {
      return false;
    }
  }

  private signalGroup(sig: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (!this.group || pid === undefined) return false;
    try {
      process.kill(-pid, sig);
      return true;
    } catch {
      return false; // ESRCH: the group is empty
    }
  }

  private pipe(stream: Readable | null, emit: (line: string) => void): void {
    if (!stream) return;
    const splitter = new LineSplitter(emit);
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    stream.once('end', () => splitter.end());
    // A pipe error (EPIPE after a crash) must not become an uncaught exception.
    stream.on('error', () => undefined);
  }
}
