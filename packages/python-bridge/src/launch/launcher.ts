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
import type { ServeSpec } from './command-line.js';

/** Everything a launcher needs to make one worker: the pool's serve spec, and what differs per worker. */
export interface LaunchSpec extends ServeSpec {
  /** The worker's id, used in errors and output tagging. */
  id: string;
  /** The `ipc://` endpoint the worker binds. */
  endpoint: string;
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
