/**
 * The launcher seam: how an interpreter process comes to be.
 *
 * An {@link Interpreter} asks a {@link Launcher} for a worker process that will bind the `ipc://`
 * endpoint it is given, and from then on sees only a {@link LaunchedProcess}: a pid, an exit, its
 * output and a way to signal it. The REQ channel and the dispatcher never learn which launcher made
 * an interpreter: spawning a fresh Python running `piton.worker` (the spawn launcher), forking from a
 * server that has already imported the preloads, or asking an agent on another host are all the
 * same to them.
 */
import type { OutputStream, ProcessExit } from './child-process.js';

/** Everything a launcher needs to make one worker (PROTOCOL.md, "The worker's command line"). */
export interface LaunchSpec {
  /** The worker's id, used in errors and output tagging. */
  id: string;
  /** The already-resolved Python executable (see `resolvePython`). */
  python: string;
  /** The `ipc://` endpoint the worker binds. */
  endpoint: string;
  /** Absolute directories put first on `sys.path`. */
  path: string[];
  /** Modules imported before the worker reports ready. */
  preload?: string[];
  /** Added to the environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Largest message in either direction, all frames together, in bytes. */
  maxMessageSize: number;
  /** Modules callable although they are not under `path`. */
  allowModules?: string[];
  /** Allow module and function names starting with `_`. */
  allowPrivate?: boolean;
  /** Modules (`'*'`: all) whose callable names may be defined in modules that are not callable. */
  allowReexports?: string[];
  /** Every line the worker prints. */
  onOutput?: (line: string, stream: OutputStream) => void;
}

/**
 * Where the channel reaches a worker that does not bind the spec's `ipc://` endpoint: one on
 * another host, bound on tcp as a CURVE server.
 */
export interface ConnectTarget {
  endpoint: string;
  /** The REQ socket's options (zeromq.js names): CURVE keys and ZMTP heartbeats. */
  socketOptions: {
    curveServerKey: string;
    curvePublicKey: string;
    curveSecretKey: string;
    heartbeatInterval: number;
    heartbeatTimeout: number;
  };
}

/** A running (or failed-to-start) worker process, whoever made it. */
export interface LaunchedProcess {
  /** Set when the worker is reached elsewhere than the spec's `ipc://` endpoint (a remote host). */
  readonly connect?: ConnectTarget;
  /**
   * The channel's connection to the worker dropped. A launcher that offers this counts the worker
   * as exited now (`exit` resolves soon, with the confirmed code or signal if it learns them at once,
   * else with `lost`). Local workers never need it: their exit is seen directly.
   */
  lose?(reason: string): void;
  /** The worker's pid; `undefined` if it never ran. */
  readonly pid: number | undefined;
  /** Resolves once, never rejects, when the worker has exited (or could not be made at all). */
  readonly exit: Promise<ProcessExit>;
  /** Resolves once the worker's output has been delivered after its exit (bounded wait). */
  readonly drained: Promise<void>;
  /** Whether the worker still runs. */
  readonly running: boolean;
  /** The last lines the worker wrote to stderr. */
  stderrTail(): string;
  /**
   * Sends a signal to the worker if it still runs; returns whether it was sent. The contract
   * every launcher keeps: the worker leads a process group of its own (signals sent to Node's
   * group never reach it), signal() reaches the worker's whole process group (whatever a call
   * started: subprocesses, forks), and once the worker has exited whatever is left of its group
   * is SIGKILLed. Only a process that leaves the group (`setsid`) escapes.
   */
  signal(sig: NodeJS.Signals): boolean;
}

/** Makes worker processes. One per pool; `close()` when the pool is done with it. */
export interface Launcher {
  /** Short name for stats and errors: `'spawn'`, `'forkserver'`, … */
  readonly kind: string;
  launch(spec: LaunchSpec): Promise<LaunchedProcess>;
  /** Releases what the launcher holds (a server process, a connection). Idempotent. */
  close(): Promise<void>;
}

/** The worker's command-line arguments, after `-m piton.worker` or the spawn launcher's `-c` (PROTOCOL.md). */
export function workerArgs(spec: LaunchSpec, parentPid: number = process.pid): string[] {
  return ['--endpoint', spec.endpoint, ...serveArgs(spec, parentPid)];
}

/**
 * What every process that serves calls is told, a worker and a fork server alike: its parent, the
 * size limit, and what it imports and may call.
 */
export function serveArgs(
  spec: Pick<LaunchSpec, 'maxMessageSize' | 'path' | 'preload' | 'allowModules' | 'allowPrivate' | 'allowReexports'>,
  parentPid: number = process.pid,
): string[] {
  const args = ['--parent-pid', String(parentPid), '--max-message-size', String(spec.maxMessageSize)];
  for (const dir of spec.path) args.push('--path', dir);
  for (const module of spec.preload ?? []) args.push('--preload', module);
  for (const module of spec.allowModules ?? []) args.push('--allow-module', module);
  if (spec.allowPrivate) args.push('--allow-private');
  for (const module of spec.allowReexports ?? []) args.push('--allow-reexports', module);
  return args;
}
