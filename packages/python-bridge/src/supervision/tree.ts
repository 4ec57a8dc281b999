/**
 * The pool's supervision tree, by start method.
 *
 * `spawn`: one `one_for_one` supervisor of the N Python workers (the pool's own supervisor).
 *
 * `forkserver`: the fork server is a child too, first, so that OTP decides what its death means:
 *
 *     pool            rest_for_one, autoShutdown any_significant, intensity/period of the pool
 *     ├── forkserver  permanent: the server process; its death restarts everything after it
 *     └── interpreters  one_for_one, intensity/period of the pool, transient + significant
 *         ├── python-1 … python-N
 *
 * Interpreters die with their server (PR_SET_PDEATHSIG), so a server's death restarts the server
 * and then all interpreters (one restart of the pool's budget; a server that keeps dying makes the
 * pool give up). When the interpreters' supervisor gives up, it exits normally and, being
 * significant, takes the pool down with it, as a flat pool would.
 *
 * Fork safety: a server whose preloads left threads running is not forked from. With the default
 * start method the pool falls back to `spawn` (a warning says why, `stats().startMethod` shows it);
 * with `startMethod: 'forkserver'` asked for explicitly, the start fails with the reason.
 */
import { supervisor, type ChildSpec, type StartContext, type StartedChild } from '@piton/core';
import { describeExit, InterpreterStartError, WorkerExitedError } from '../errors.js';
import { ForkServerLauncher, type ForkServerSpec } from '../launch/forkserver.js';
import type { Launcher } from '../launch/launcher.js';
import type { InterpreterOutput, ResolvedPoolOptions } from '../pool/options.js';
import { SpawnLauncher } from '../launch/spawn.js';

/** The worker id the server's own output is tagged with. */
export const FORKSERVER_ID = 'forkserver';

export class PoolLaunchers {
  /** The launcher new interpreters come from. */
  current: Launcher = new SpawnLauncher();
  readonly #ctx: StartContext;
  readonly #options: ResolvedPoolOptions;
  readonly #serverSpec: ForkServerSpec;

  constructor(ctx: StartContext, options: ResolvedPoolOptions, python: string, emitOutput: (output: InterpreterOutput) => void) {
    this.#ctx = ctx;
    this.#options = options;
    this.#serverSpec = {
      python,
      path: options.path,
      // Interpreters with lanes run their calls on asyncio from the start: imported once, here.
      preload: options.concurrency > 1 ? ['asyncio', ...options.preload] : options.preload,
      env: options.env,
      cwd: options.cwd,
      maxMessageSize: options.maxMessageSize,
      allowModules: options.allowModules,
      allowPrivate: options.allowPrivate,
      allowReexports: options.allowReexports,
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
  async startTree(interpreters: ChildSpec[], launchAhead: () => void): Promise<StartedChild<unknown>> {
    const { intensity, period } = this.#options;
    const interpretersSupervisor = supervisor({ strategy: 'one_for_one', intensity, period, children: interpreters });
    const first = this.#options.startMethod === 'forkserver' ? await this.#firstServer() : undefined;
    if (first === undefined) {
      this.current = new SpawnLauncher();
      launchAhead();
      return interpretersSupervisor(this.#ctx);
    }
    let adopt: ForkServerLauncher | undefined = first;
    const server: ChildSpec = {
      id: FORKSERVER_ID,
      restart: 'permanent',
      shutdown: 'infinity', // close() is bounded: channel end, then SIGTERM, then SIGKILL
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

  /** The first server: if its preloads left threads, fall back to spawn (default) or refuse (explicit). */
  async #firstServer(): Promise<ForkServerLauncher | undefined> {
    const launcher = await ForkServerLauncher.start(this.#serverSpec);
    if (launcher.threads.length === 0) return launcher;
    await launcher.close();
    const why = forkUnsafe(launcher.threads);
    if (this.#options.startMethodExplicit) throw new InterpreterStartError(`startMethod 'forkserver' refused: ${why}`);
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
      new WorkerExitedError(exit.code, exit.signal, {
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
