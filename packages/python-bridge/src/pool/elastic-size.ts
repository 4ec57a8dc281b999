/**
 * Elastic size: how many local interpreters a pool keeps, between `size.min` and `size.max`.
 *
 * Slots are the pool's local workers, `python-1` … `python-N`; a new slot takes the lowest free
 * number, so that a slot's index (and the `env` a function gives it) is reused as the pool
 * breathes.
 *
 * **Growth** (the rule is {@link interpretersToStart}): when a call has to queue (every interpreter
 * is busy), the pool starts one interpreter for each queued call that no interpreter already
 * starting will take, up to `max`, and never more starting at once than are serving (at least
 * one): so a pool at most doubles per start time, and a burst is met in a few forks rather than by
 * one start per call. A grown slot is a worker like the others (`permanent`): its start runs
 * after the supervisor has added it (`background`), so that a growth never holds the supervisor
 * for a handshake, and a start that fails is a failed start as any other (counted toward
 * `intensity`, retried with `restartBackoff`).
 *
 * **Shrink**: an interpreter idle for `idleTimeout` while the pool has more than `min` is taken out
 * of service (at once, and only if the dispatcher says it has no work in flight:
 * `Dispatcher#hasWorkInFlight`, the one predicate) and its worker is stopped and removed from the
 * supervisor: a clean stop (exit cause `shrink`), never a crash and never a restart, so it counts
 * toward nothing. The highest slots go first.
 *
 * **Resize** (`pool.resize`): new bounds apply at once: slots below `min` are started; above
 * `max`, starting and idle slots are stopped now and busy ones as soon as their work is done
 * (the dispatcher retires them after their run, as it does a recycled one).
 */
import type { ChildSpec, SupervisorRef } from '@piton/core';
import { PoolStoppedError } from '../errors.js';
import type { Interpreter } from '../interpreter/interpreter.js';
import type { SizeLimits } from './options.js';

/** What the growth rule looks at. */
export interface GrowthInputs {
  /** Local interpreters serving (idle or busy). */
  serving: number;
  /** Local slots whose interpreter is starting (or restarting). */
  starting: number;
  /** Calls waiting for an interpreter. */
  queued: number;
  /** Local slots now (serving + starting). */
  slots: number;
  max: number;
}

/**
 * How many interpreters to start now: one per queued call not already covered by one starting,
 * within `max`, and no more starting at once than are serving (at least one), which bounds the
 * growth rate to a doubling per start time.
 */
export function interpretersToStart({ serving, starting, queued, slots, max }: GrowthInputs): number {
  const uncovered = queued - starting;
  const room = max - slots;
  const rate = Math.max(1, serving) - starting;
  return Math.max(0, Math.min(uncovered, room, rate));
}

/** What the pool lends the elastic size: its dispatcher's view, and its supervisor of local workers. */
export interface ElasticDeps {
  limits: SizeLimits;
  idleTimeout: number;
  /** Calls waiting now. */
  queued(): number;
  /** ms the interpreter has been idle, undefined if it has work in flight or is not serving. */
  idleFor(interpreter: Interpreter, now: number): number | undefined;
  /** Takes an idle interpreter out of service; false if it has work in flight. */
  retireIfIdle(interpreter: Interpreter): boolean;
  /** The supervisor of the local workers now (it changes when a fork server's death restarts it). */
  supervisor(): SupervisorRef | undefined;
  /** The child spec of slot `id`; `background`: its start does not wait for the interpreter. */
  slotSpec(id: string, background: boolean): ChildSpec;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class ElasticSize {
  #limits: SizeLimits;
  readonly #deps: ElasticDeps;
  /** Slot numbers the pool keeps now (`python-N`). */
  readonly #slots = new Set<number>();
  /** The serving interpreter of each slot. */
  readonly #serving = new Map<string, Interpreter>();
  /** Slots being stopped. */
  readonly #stopping = new Set<string>();
  /** Slots above `max` with work in flight: retired when it is done. */
  readonly #surplus = new Set<string>();
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed: Error | undefined;
  #grown = 0;
  #shrunk = 0;

  constructor(deps: ElasticDeps) {
    this.#deps = deps;
    this.#limits = { ...deps.limits };
    for (let i = 1; i <= deps.limits.min; i++) this.#slots.add(i);
  }

  get limits(): SizeLimits {
    return { ...this.#limits };
  }

  /** The slots the pool keeps now, as worker ids, in order. */
  slotIds(): string[] {
    return [...this.#slots].sort((a, b) => a - b).map(slotId);
  }

  get counts(): { size: number; serving: number; starting: number; stopping: number; grown: number; shrunk: number } {
    const serving = this.#serving.size;
    return { size: this.#slots.size, serving, starting: this.#slots.size - serving, stopping: this.#stopping.size, grown: this.#grown, shrunk: this.#shrunk };
  }

  /** A local interpreter is serving. */
  ready(interpreter: Interpreter): void {
    if (!this.#slots.has(slotNumber(interpreter.id))) return; // its slot was stopped while it started
    this.#serving.set(interpreter.id, interpreter);
    this.#grow();
    this.#schedule();
    this.#settleWaiters();
  }

  /** A local interpreter left service (it exited, is being recycled, replaced or stopped). */
  left(interpreter: Interpreter): void {
    if (this.#serving.get(interpreter.id) === interpreter) this.#serving.delete(interpreter.id);
  }

  /** A call had to queue: every interpreter is busy. */
  queued(): void {
    if (this.#slots.size < this.#limits.max) this.#grow(); // a fixed pool, or one at its max, has nothing to decide
  }

  /** Whether the worker is being stopped because the pool shrank (its exit is a `shrink`). */
  isStopping(workerId: string): boolean {
    return this.#stopping.has(workerId);
  }

  /** Asked after each run: an interpreter of a slot above `max` leaves when its work is done. */
  isSurplus(interpreter: Interpreter): boolean {
    return this.#surplus.size > 0 && this.#surplus.has(interpreter.id);
  }

  /** The dispatcher retired a surplus interpreter (after its run): its slot is stopped. */
  retired(interpreter: Interpreter): boolean {
    if (!this.#surplus.delete(interpreter.id)) return false;
    this.#stop(interpreter.id);
    return true;
  }

  /** New bounds; resolves once the pool is within them, with `min` serving. */
  resize(limits: SizeLimits): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    this.#limits = { ...limits };
    this.#surplus.clear();
    // Up to min, at once and all together (no growth rate: the user asked for them).
    for (let n = this.#slots.size; n < limits.min; n++) this.#add();
    // Down to max: starting slots first, then idle ones, then busy ones once their work is done.
    let excess = this.#slots.size - limits.max;
    for (const id of this.#highestFirst()) {
      if (excess <= 0) break;
      if (!this.#serving.has(id)) {
        this.#stop(id);
        excess--;
      }
    }
    for (const id of this.#highestFirst()) {
      if (excess <= 0) break;
      const interpreter = this.#serving.get(id);
      if (interpreter && this.#deps.retireIfIdle(interpreter)) {
        this.#stop(id);
        excess--;
      }
    }
    for (const id of this.#highestFirst()) {
      if (excess <= 0) break;
      this.#surplus.add(id);
      excess--;
    }
    this.#schedule();
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#settleWaiters();
    return done;
  }

  /** The pool stops: no more growth or shrink; pending resizes reject. */
  close(error: Error = new PoolStoppedError('the pool is stopping')): void {
    this.#closed ??= error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters = [];
  }

  #within(): boolean {
    const { min, max } = this.#limits;
    return this.#slots.size >= min && this.#slots.size <= max && this.#serving.size >= min && this.#stopping.size === 0 && this.#surplus.size === 0;
  }

  #settleWaiters(): void {
    if (this.#waiters.length === 0 || !this.#within()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #highestFirst(): string[] {
    return [...this.#slots].sort((a, b) => b - a).map(slotId);
  }

  #grow(): void {
    if (this.#closed) return;
    const { size, serving, starting } = this.counts;
    const n = interpretersToStart({ serving, starting, queued: this.#deps.queued(), slots: size, max: this.#limits.max });
    for (let i = 0; i < n; i++) this.#add();
  }

  /** Starts one more slot, the lowest free number. */
  #add(): void {
    let n = 1;
    while (this.#slots.has(n) || this.#stopping.has(slotId(n))) n++;
    this.#slots.add(n);
    const id = slotId(n);
    const supervisor = this.#deps.supervisor();
    if (supervisor === undefined) return; // the supervisor is being restarted: it starts from slotIds()
    this.#grown++;
    supervisor.startChild(this.#deps.slotSpec(id, true)).catch((error: unknown) => {
      // Already there: a restarted supervisor took it from slotIds(). Else (the supervisor is
      // gone or going) the slot was not made: forget it, and let the next queued call decide.
      if ((error as { code?: string }).code === 'already_started' || (error as { code?: string }).code === 'already_present') return;
      this.#grown--;
      this.#slots.delete(n);
      this.#settleWaiters();
    });
  }

  /** Stops slot `id` and removes it from the supervisor; its interpreter is out of service already, or starting. */
  #stop(id: string): void {
    this.#slots.delete(slotNumber(id));
    this.#serving.delete(id);
    this.#stopping.add(id);
    this.#shrunk++;
    const supervisor = this.#deps.supervisor();
    const removed = supervisor ? supervisor.terminateChild(id).then(() => supervisor.deleteChild(id)) : Promise.resolve();
    void removed
      .catch(() => undefined) // the supervisor is gone (the pool stops): its children stop with it
      .finally(() => {
        this.#stopping.delete(id);
        this.#settleWaiters();
      });
  }

  /** Checks for idle interpreters when the first of them may have been idle for `idleTimeout`. */
  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#slots.size <= this.#limits.min) return;
    const now = performance.now();
    let next = this.#deps.idleTimeout;
    for (const interpreter of this.#serving.values()) {
      const idle = this.#deps.idleFor(interpreter, now);
      if (idle !== undefined) next = Math.min(next, this.#deps.idleTimeout - idle);
    }
    this.#timer = setTimeout(() => this.#shrink(), Math.max(1, Math.ceil(next)));
    this.#timer.unref();
  }

  #shrink(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = performance.now();
    for (const id of this.#highestFirst()) {
      if (this.#slots.size <= this.#limits.min) break;
      const interpreter = this.#serving.get(id);
      if (interpreter === undefined) continue;
      const idle = this.#deps.idleFor(interpreter, now);
      if (idle === undefined || idle < this.#deps.idleTimeout) continue;
      if (this.#deps.retireIfIdle(interpreter)) this.#stop(id);
    }
    this.#schedule();
  }
}

function slotId(n: number): string {
  return `python-${n}`;
}

/** `python-3` → 3 (0 for anything else). */
function slotNumber(id: string): number {
  const match = /^python-(\d+)$/.exec(id);
  return match ? Number(match[1]) : 0;
}
