// A killer for chaos tests: SIGKILLs a random serving interpreter of a pool at random intervals.
import { readFileSync } from 'node:fs';
import type { PoolRef } from '@piton/python-bridge';

export interface KillerOptions {
  /** Shortest and longest wait between two kills, in ms. */
  minDelay: number;
  maxDelay: number;
}

/** Whether `pid` is still a Python worker of this Node process (guards against a reused pid). */
function isOurWorker(pid: number): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const parent = args.indexOf('--parent-pid');
    // A forked interpreter keeps its fork server's command line.
    return args.some((arg) => arg.includes('piton.worker') || arg.includes('piton.forkserver')) && args[parent + 1] === String(process.pid);
  } catch {
    return false;
  }
}

/**
 * Kills until `stop()`. Each kill picks one of the pool's serving interpreters at random, never one
 * it killed before; when none is serving (all being replaced), that turn is skipped.
 */
export class Killer {
  readonly #pool: PoolRef;
  readonly #options: KillerOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Pids sent SIGKILL, in order. */
  readonly killed: number[] = [];

  constructor(pool: PoolRef, options: KillerOptions) {
    this.#pool = pool;
    this.#options = options;
  }

  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const { minDelay, maxDelay } = this.#options;
    this.#timer = setTimeout(() => {
      this.#killOne();
      this.#schedule();
    }, minDelay + Math.random() * (maxDelay - minDelay));
  }

  #killOne(): void {
    // Not one already sent SIGKILL: on a loaded machine it may not have died yet, and killing it
    // again is no new kill (nor a new restart).
    const candidates = this.#pool.interpreters().filter((i) => !this.killed.includes(i.pid) && isOurWorker(i.pid));
    const victim = candidates[Math.floor(Math.random() * candidates.length)];
    if (victim === undefined) return;
    try {
      process.kill(victim.pid, 'SIGKILL');
      this.killed.push(victim.pid);
    } catch {
      // it exited between the look and the kill: nothing to do
    }
  }
}
