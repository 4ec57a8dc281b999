/**
 * The pool's supervision tree, by start method.
 *
 * `spawn`: one `one_for_one` supervisor of the N Python workers (the pool's own supervisor),
 * and of `hosts` when the pool has remote hosts.
 *
 * `forkserver`: the fork server is a child too, so that OTP decides what its death means:
 *
 *     pool            rest_for_one, autoShutdown any_significant, intensity/period of the pool
 *     ├── hosts       (with remote hosts) their supervisors: first, so a fork server's death spares them
 *     ├── forkserver  permanent: the server process; its death restarts everything after it
 *     └── interpreters  one_for_one, intensity/period of the pool, transient + significant
 *         ├── python-1 … python-N
 *
 * The local workers' specs are asked for each time their supervisor starts (`interpreters()`), so
 * that one restarted after a fork server's death comes back with the slots an elastic pool has
 * now, not those it started with; `onInterpreters` is told each new supervisor.
 *
 * Interpreters die with their server (PR_SET_PDEATHSIG), so a server's death restarts the server
 * and then all interpreters (one restart of the pool's budget; a server that keeps dying makes the
 * pool give up). When the interpreters' supervisor gives up, it exits normally and, being
 * significant, takes the pool down with it, as a flat pool would.
 *
 * Fork safety: a server whose preloads left threads running is not forked from. With `startMethod:
 * 'auto'` (the default) the pool falls back to `spawn` (a warning says why, `stats().startMethod`
 * shows it); with `startMethod: 'forkserver'`, the start fails with the reason.
 */
import { supervisor, type ChildSpec, type StartContext, type StartedChild, type SupervisorRef } from '@piton/core';
import { describeExit, InterpreterStartError, InterpreterExitedError } from '../errors.js';
import { ForkServerLauncher, type ForkServerSpec } from '../launch/forkserver.js';
import type { Launcher } from '../launch/launcher.js';
import type { ServeSpec } from '../launch/command-line.js';
import type { InterpreterOutput } from '../ops/output.js';
import { SpawnLauncher } from '../launch/spawn.js';

/** What the tree needs of the pool's options. */
export interface TreeOptions {
  /**
   * `'auto'`: the fork server on Linux, spawn when a preload left threads running (with a
   * warning) and elsewhere; `'forkserver'`: the fork server or a failed start.
   */
  startMethod: 'auto' | 'forkserver' | 'spawn';
  /** The supervisors' restart intensity: more than `intensity` restarts (failed interpreter starts, server deaths) within `period` ms stop the pool. */
  intensity: number;
  period: number;
  /** ms the fork server may take to report ready. */
  startTimeout: number;
}

/** The worker id the server's own output is tagged with. */
export const FORKSERVER_ID = 'forkserver';

/** What the tree holds besides the fork server. */
export interface TreeChildren {
  /** The local workers' specs now (asked at each start of their supervisor). */
  interpreters(): ChildSpec[];
  /** The supervisor of the remote hosts, if the pool has any. */
  hosts?: ChildSpec;
  /** Each start of the local workers' supervisor. */
  onInterpreters(ref: SupervisorRef): void;
}

export class PoolLaunchers {
  /** The launcher new interpreters come from. */
  current: Launcher = new SpawnLauncher();
  readonly #ctx: StartContext;
  readonly #options: TreeOptions;
  readonly #serverSpec: ForkServerSpec;

  constructor(ctx: StartContext, options: TreeOptions, serve: ServeSpec, emitOutput: (output: InterpreterOutput) => void) {
    this.#ctx = ctx;
    this.#options = options;
    this.#serverSpec = {
      ...serve,
      startTimeout: options.startTimeout,
      onOutput: (line, stream) => emitOutput({ worker: FORKSERVER_ID, stream, line }),
    };
  }

  /** Whether a dead interpreter can be replaced now (not while its fork server is down: the tree restarts them all). */
  get canLaunch(): boolean {
    return !(this.current instanceof ForkServerLauncher) || this.current.running;
  }

  /**
   * Starts the tree. `launchAhead` launches every interpreter at once; it is called as soon as
   * the launcher can serve, so that the workers' starts (one at a time) only await handshakes.
   */
  async startTree(children: TreeChildren, launchAhead: () => void): Promise<StartedChild<unknown>> {
    const { intensity, period } = this.#options;
    const first = this.#forking() ? await this.#firstServer() : undefined;
    if (first === undefined) {
      this.current = new SpawnLauncher();
      launchAhead();
      const flat = children.interpreters();
      if (children.hosts) flat.push(children.hosts);
      const started = await supervisor({ strategy: 'one_for_one', intensity, period, children: flat })(this.#ctx);
      children.onInterpreters(started.ref);
      return started;
    }
    const interpretersSupervisor = async (ctx: StartContext) => {
      const started = await supervisor({ strategy: 'one_for_one', intensity, period, children: children.interpreters() })(ctx);
      children.onInterpreters(started.ref);
      return started;
    };
    let adopt: ForkServerLauncher | undefined = first;
    const server: ChildSpec = {
      id: FORKSERVER_ID,
      restart: 'permanent',
      shutdown: 'infinity', // close() is bounded: channel end, then SIGTERM, then SIGKILL
      startTimeout: 2 * this.#options.startTimeout, // the server's start is bounded by startTimeout; this is a backstop
      start: async () => {
        const launcher = adopt ?? (await this.#startServer());
        adopt = undefined;
        this.current = launcher;
        launchAhead();
        return serverChild(launcher);
      },
    };
    const tree = supervisor({
      strategy: 'rest_for_one',
      intensity,
      period,
      autoShutdown: 'any_significant',
      children: [
        ...(children.hosts ? [children.hosts] : []),
        server,
        { id: 'interpreters', type: 'supervisor', restart: 'transient', significant: true, start: interpretersSupervisor },
      ],
    });
    try {
      return await tree(this.#ctx);
    } finally {
      if (adopt) await adopt.close(); // the tree failed before it took the first server
    }
  }

  /** Whether the pool starts with a fork server: asked for, or `'auto'` where there is fork and PR_SET_PDEATHSIG (Linux). */
  #forking(): boolean {
    const { startMethod } = this.#options;
    return startMethod === 'forkserver' || (startMethod === 'auto' && process.platform === 'linux');
  }

  /** The first server: if its preloads left threads, fall back to spawn (`'auto'`) or refuse (`'forkserver'`). */
  async #firstServer(): Promise<ForkServerLauncher | undefined> {
    const launcher = await ForkServerLauncher.start(this.#serverSpec);
    if (launcher.threads.length === 0) return launcher;
    await launcher.close();
    const why = forkUnsafe(launcher.threads);
    if (this.#options.startMethod === 'forkserver') throw new InterpreterStartError(`startMethod 'forkserver' refused: ${why}`);
    process.emitWarning(`${why}; this pool uses startMethod 'spawn' instead`, { code: 'PITON_FORKSERVER_FALLBACK' });
    return undefined;
  }

  async #startServer(): Promise<ForkServerLauncher> {
    const launcher = await ForkServerLauncher.start(this.#serverSpec);
    if (launcher.threads.length > 0) {
      await launcher.close();
      throw new InterpreterStartError(`the fork server cannot fork: ${forkUnsafe(launcher.threads)}`);
    }
    return launcher;
  }
}

function forkUnsafe(threads: readonly string[]): string {
  return (
    `the preload left ${threads.length} thread(s) running in the fork server (${threads.join(', ')}), and a fork ` +
    'copies only the forking thread (locks the others hold stay locked in every interpreter); start threads ' +
    "lazily, in the first call, or use startMethod: 'spawn'"
  );
}

/** The fork server as a supervised child: its exit is the child's exit. */
function serverChild(launcher: ForkServerLauncher): StartedChild<ForkServerLauncher> {
  let asked: 'shutdown' | 'killed' | undefined;
  return {
    ref: launcher,
    exited: launcher.exit.then((exit) =>
      asked ??
      new InterpreterExitedError(exit.code, exit.signal, {
        message: `the fork server (pid ${launcher.pid}) ${describeExit(exit.code, exit.signal)}`,
        stderrTail: launcher.stderrTail(),
      }),
    ),
    shutdown: () => {
      asked ??= 'shutdown';
      void launcher.close();
    },
    kill: () => {
      asked ??= 'killed';
      launcher.kill();
    },
  };
}
