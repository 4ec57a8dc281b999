/**
 * What every benchmark family gets: the run's settings, the Python to use, private ipc endpoints,
 * and a register of what it started, so the run cleans up every process and pool it made even
 * when a benchmark throws or the user presses Ctrl-C.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(BENCH_DIR);
/** Python helpers of the benchmarks, and the module the pools call (`functions`). */
export const PY_DIR = join(BENCH_DIR, 'python');

export interface Settings {
  quick: boolean;
  /** Trials per benchmark; each figure is the median over them. */
  trials: number;
  /** Attach the Prometheus exporter to every pool (`--metrics`), to check the targets with it. */
  metrics: boolean;
}

/** Something that must be stopped at the end of the run (a pool, a socket). */
export interface Stoppable {
  stop(): Promise<void>;
}

export function pythonExecutable(): string {
  if (process.env.PITON_PYTHON) return process.env.PITON_PYTHON;
  const venv = join(ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export class BenchContext {
  readonly settings: Settings;
  readonly python = pythonExecutable();
  readonly #children = new Set<ChildProcess>();
  readonly #stoppables = new Set<Stoppable>();
  readonly #lastResorts = new Set<() => void>();
  readonly #tmp = mkdtempSync(join(tmpdir(), 'piton-bench-'));
  #endpoints = 0;

  constructor(settings: Settings) {
    this.settings = settings;
  }

  /** A fresh `ipc://` endpoint in the run's private directory. */
  endpoint(): string {
    return `ipc://${join(this.#tmp, `ep-${++this.#endpoints}`)}`;
  }

  /** Spawns a process that is killed at the end of the run if it is still alive then. */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return this.adopt(spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], ...options }));
  }

  /** Puts a process that something else spawned under the same end-of-run kill. */
  adopt(child: ChildProcess): ChildProcess {
    if (child.exitCode !== null || child.signalCode !== null) return child;
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Spawns `bench/python/<script>` with the run's Python. */
  spawnPython(script: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    return this.spawn(this.python, ['-u', join(PY_DIR, script), ...args], options);
  }

  /** Registers a pool or socket to stop at the end of the run; returns it. */
  own<T extends Stoppable>(thing: T): T {
    this.#stoppables.add(thing);
    return thing;
  }

  /** Stops `thing` now and forgets it. */
  async release(thing: Stoppable): Promise<void> {
    this.#stoppables.delete(thing);
    await thing.stop();
  }

  log(message: string): void {
    process.stderr.write(`bench: ${message}\n`);
  }

  /**
   * Registers a synchronous undo for something that is not a process (network namespaces, say),
   * run by {@link killAll} if the run ends before the family undid it; returns the deregistration.
   */
  atKill(undo: () => void): () => void {
    this.#lastResorts.add(undo);
    return () => this.#lastResorts.delete(undo);
  }

  /** Stops everything still registered, then kills any process still alive. */
  async cleanup(): Promise<void> {
    await this.stopOwned();
    this.killAll();
  }

  /** Stops every pool or socket still registered (a family's, before what they run on goes). */
  async stopOwned(): Promise<void> {
    const pending = [...this.#stoppables];
    this.#stoppables.clear();
    await Promise.allSettled(pending.map((s) => s.stop()));
  }

  /** Synchronous last resort (process 'exit', signals): kills what is alive, removes the endpoints. */
  killAll(): void {
    for (const child of this.#children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const undo of this.#lastResorts) {
      try {
        undo();
      } catch (error) {
        this.log(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.#lastResorts.clear();
    rmSync(this.#tmp, { recursive: true, force: true });
  }
}

/** Resolves with the first stdout line of `child` (a helper's "ready" line); rejects if it exits first. */
export function firstLine(child: ChildProcess, what: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error(`${what}: no ready line within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl >= 0) done(buffered.slice(0, nl));
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`${what} exited (code ${code}, signal ${signal}) before it was ready`));
    const off = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    const done = (line: string) => { off(); resolvePromise(line); };
    const fail = (err: Error) => { off(); reject(err); };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}
