import { setLongTimeout, type LongTimeout } from '@piton/core';
import { CallTimeoutError, HostLostError, QueueFullError, InterpreterExitedError } from '../errors.js';
import { Capacity } from './capacity.js';
import { Fifo } from './fifo.js';
import { fitsInBatch, type EncodedCall } from '../wire/encoded-call.js';
import type { Outcome } from '../wire/protocol.js';
import { CallStats, type CallTiming } from '../ops/stats.js';

/**
 * What the dispatcher reads of a call's context; the rest (a callback scope, say) goes to the
 * executor untouched. A call that listens for progress runs alone.
 */
export interface DispatchedContext {
  readonly onProgress?: unknown;
}

/**
 * How the dispatcher gives up on a call it handed to an executor (a timeout, an abort): the
 * executor fills in `cancel` once the call is sent (the interpreter's side of it:
 * interpreter/run-control.ts, the same shape, so that neither layer imports the other).
 */
export interface RunControl {
  /**
   * Gives up on the call: the executor cancels it and keeps its slot until it has ended, or calls
   * `beforeKill` and kills itself when it cannot (the other calls in flight on it then reject).
   */
  cancel?: (beforeKill: () => void) => void;
}

/** One interpreter as the dispatcher sees it: something that runs up to `capacity` calls at a time. */
export interface Executor<C extends DispatchedContext = DispatchedContext> {
  readonly id: string;
  /** The process's id, when it has one (told to tracers). */
  readonly pid?: number;
  /** False once the interpreter has exited or is being stopped or killed: it takes no more work. */
  readonly serviceable: boolean;
  /** Runs (calls, batches, leases) it may have in flight at once: the pool's `concurrency`. */
  readonly capacity: number;
  /**
   * Runs one call encoded in advance; `context` carries its progress listener and callback scope.
   * With `control`, the call can be given up on once sent (`control.cancel`, see RunControl).
   */
  run(call: EncodedCall, context?: C, control?: RunControl): Promise<unknown>;
  /**
   * Several calls in one round trip, each with its own outcome; rejects only if the round trip
   * fails. May resolve with fewer outcomes than calls: the first ones ran, the others did not
   * (their results would have made the reply too large) and are queued again.
   */
  runBatch(calls: readonly EncodedCall[]): Promise<Outcome[]>;
  /** Abandons whatever runs: the interpreter is killed, every run in flight on it rejects. */
  kill(): void;
}

export interface CallRequest<C extends DispatchedContext = DispatchedContext> {
  /** The call, encoded when it was made (a lease has none). */
  call?: EncodedCall;
  /** ms from submission to settlement; past it the call rejects and its interpreter is killed. */
  timeout?: number;
  signal?: AbortSignal;
  /** How many times a call whose interpreter died may be run again. */
  retries: number;
  /** A traced call's context: given the outcome and timings before the call settles, and who ran it. */
  trace?: CallTiming & { worker?: string; pid?: number; retried?: number };
  /** Its progress listener and callback scope; a call with a progress listener runs alone. */
  context?: C;
}

/** The context type an executor's `run` takes. */
export type ContextOf<E> = E extends Executor<infer C extends DispatchedContext> ? C : DispatchedContext;

/** An interpreter held by one caller (for a stream) until it calls `release`. */
export interface Lease<E extends Executor<never>> {
  readonly executor: E;
  /** Gives the interpreter back (to serve again if it still can). */
  release(): void;
}

export interface DispatcherOptions<E extends Executor<never>> {
  maxQueue: number;
  /** A batch (its calls' bytes together) stays within this, as one message must. */
  maxMessageSize: number;
  /**
   * Queued calls to functions that have averaged under this many ms may share a round trip:
   * below it the socket round trip, not Python, is what a call costs. 0: never.
   */
  batchCallsUnderMs: number;
  /**
   * Calls an executor is given before it is handed to `onRetire` (once its runs in flight have
   * ended, `detach` resolves) instead of being given more.
   */
  maxTasksPerExecutor?: number;
  /** Asked after each run: true retires the executor too (e.g. it holds too much memory). */
  shouldRetire?: (executor: E) => boolean;
  /** The executor takes no more runs; it may still have some in flight (`detach` waits for them). */
  onRetire?: (executor: E) => void;
  /** A call that timed out or was aborted could not be cancelled: its executor is about to be killed because of `error`. */
  onCancel?: (executor: E, error: unknown) => void;
  /** A call or lease had to queue: every executor was full (an elastic pool grows on it). */
  onQueued?: () => void;
}

/** The most calls one round trip carries. */
const MAX_BATCH = 16;
/** Weight of the newest sample in a function's average duration. */
const EWMA_WEIGHT = 0.2;

/** A queued or running unit of work: a call, or a lease (a slot of an interpreter held for a stream). */
interface Job<E extends Executor<C>, C extends DispatchedContext> {
  readonly kind: 'call' | 'lease';
  readonly request: CallRequest<C>;
  readonly submittedAt: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  executor?: E;
  /** When an interpreter took the job (its wait ends, its run begins). */
  startedAt?: number;
  settled: boolean;
  timer?: LongTimeout;
  onAbort?: () => void;
  /** For a call that can be given up on (it has a timeout or a signal), once it runs. */
  control?: RunControl;
}

/** What one slot of an interpreter runs: one call, one lease, or a batch of calls. */
interface Run<E extends Executor<C>, C extends DispatchedContext> {
  readonly executor: E;
  readonly jobs: Job<E, C>[];
  readonly startedAt: number;
  /** Ended (settled, or a lease released): a second end does nothing. */
  ended: boolean;
}

/**
 * Hands calls to interpreters with free capacity, first come first served: the least loaded
 * interpreter takes the call at the head of the queue (capacity.ts keeps that count, one slot per
 * call in flight, up to each interpreter's `capacity`).
 *
 * When calls queue up and are short (their function has averaged under `batchCallsUnderMs`), the
 * last free slot takes the short calls at the head of the queue (at most MAX_BATCH: every other
 * slot is busy when there is a queue) in one round trip: the order is kept, each call keeps its own result or
 * error, and the round trip, which dominates a short call, is paid once. Calls with a timeout or
 * an AbortSignal always run alone, so that cancelling one never takes another down with it, and
 * so do calls with a progress listener, whose progress others would wait for (a pool that exposes
 * Node functions turns batching off, so that no call waits on another call's callback); if the
 * interpreter dies during a batch, every call of the batch rejects with InterpreterExitedError (and is
 * retried if it asked for retries), as a single call would.
 *
 * Invariants: an attached executor is open in `#capacity` until it leaves (detached, retired,
 * killed), and is counted there until its last run ends; the queue is non-empty only while no
 * open executor has a free slot, so a free slot never waits while a call is queued; each job
 * settles exactly once (`#settle` is the only place that resolves or rejects a job).
 */
export class Dispatcher<E extends Executor<C> = Executor, C extends DispatchedContext = ContextOf<E>> {
  readonly #options: DispatcherOptions<E>;
  readonly #queue = new Fifo<Job<E, C>>();
  /** Runs in flight per executor, and which executors take more: the one notion of free capacity. */
  readonly #capacity = new Capacity<E>();
  /**
   * Average duration (ms) of a call per module, then function, measured at the dispatcher. Keyed
   * by the caller's own strings, whose hashes V8 keeps: a joined `module.fn` key would be a new
   * string to hash on every call.
   */
  readonly #durations = new Map<string, Map<string, number>>();
  /** Waiters for an executor's runs to end (graceful drain). */
  readonly #drains = new Map<E, () => void>();
  /** Calls (and leases) given to each executor so far: what `maxTasksPerExecutor` counts. */
  readonly #tasksGiven = new WeakMap<E, number>();
  /** When each executor last had nothing in flight (`performance.now()`), for an elastic pool's shrink. */
  readonly #idleSince = new WeakMap<E, number>();
  readonly #stats = new CallStats();
  /** Set by `seal`: new calls are refused, queued ones still run. */
  #sealedWith: Error | undefined;
  /** `whenIdle` callers, resolved once nothing is queued or running. */
  #idleWaiters: (() => void)[] = [];
  /** Pending `whenServing` calls, checked whenever an executor joins; rejected on close. */
  #servingWaiters: { count: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  #closedWith: Error | undefined;

  /**
   * Told when a slot is free and nothing is queued, after a run ended or an interpreter joined:
   * work held back until one frees (a dynamic batch that fills while all are busy) may go.
   */
  onSlotFree: (() => void) | undefined;

  constructor(options: DispatcherOptions<E>) {
    this.#options = options;
  }

  /**
   * `ready`: serving interpreters with nothing in flight; `busy`: interpreters with at least one run
   * in flight; `free`: the slots the serving interpreters could still take; `inFlight`: runs in flight.
   */
  get counts() {
    return {
      ready: this.#capacity.idleCount,
      busy: this.#capacity.loadedCount,
      free: this.#capacity.free,
      inFlight: this.#capacity.inFlight,
      queued: this.#queue.size,
      completed: this.#stats.completed,
      failed: this.#stats.failed,
    };
  }

  /** Whether a call made now would run at once: a slot is free and nothing is queued. */
  get hasFreeSlot(): boolean {
    return this.#queue.size === 0 && this.#capacity.free > 0;
  }

  /**
   * A call held elsewhere until a slot frees (a dynamic batch's), refused as a queued one would be:
   * `waiting` calls are held so already. Undefined when it may wait: a slot is free, or the queue
   * and those calls stay within `maxQueue`.
   */
  refuseIfFull(waiting: number, trace?: CallTiming): Promise<never> | undefined {
    if (this.hasFreeSlot || this.#queue.size + waiting < this.#options.maxQueue) return undefined;
    return this.#refuse(trace);
  }

  /** The queue is full: the call is refused, and counted so. */
  #refuse(trace: CallTiming | undefined): Promise<never> {
    const error = new QueueFullError(this.#options.maxQueue);
    this.#stats.refused(error, trace);
    return Promise.reject(error);
  }

  /** The calls' counters and percentiles. */
  get stats(): CallStats {
    return this.#stats;
  }

  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  call(request: CallRequest<C>): Promise<unknown> {
    return this.#submit('call', request);
  }

  /** Holds a slot of an interpreter for the caller, in queue order like a call. */
  acquire(request: Pick<CallRequest<C>, 'signal' | 'timeout'>): Promise<Lease<E>> {
    return this.#submit('lease', { retries: 0, ...request }) as Promise<Lease<E>>;
  }

  /** Executors serving now, with the runs each has in flight, in no particular order. */
  serving(): { executor: E; inFlight: number }[] {
    return [...this.#capacity.openEntries()].map(([executor, inFlight]) => ({ executor, inFlight }));
  }

  /** Resolves once at least `count` executors are serving (at once if they already are). */
  whenServing(count: number): Promise<void> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (this.#capacity.openCount >= count) return Promise.resolve();
    return new Promise((resolve, reject) => this.#servingWaiters.push({ count, resolve, reject }));
  }

  /**
   * Whether `executor` has work in flight: a call (or a batch) running, a stream's lease held, or
   * a call waiting on a callback into Node (it is running until it settles). The one predicate
   * that decides whether an interpreter may be stopped because the pool shrinks: one with work in
   * flight never is.
   */
  hasWorkInFlight(executor: E): boolean {
    return this.#capacity.load(executor) > 0;
  }

  /** ms `executor` has been idle (serving, no work in flight) at `now`; undefined if it is not idle. */
  idleFor(executor: E, now = performance.now()): number | undefined {
    if (!this.#capacity.isOpen(executor) || this.hasWorkInFlight(executor)) return undefined;
    return now - (this.#idleSince.get(executor) ?? now);
  }

  /**
   * Takes `executor` out of service if it is idle, at once and atomically (no call can be handed
   * to it after this returns true); false if it has work in flight or is not serving.
   */
  retireIfIdle(executor: E): boolean {
    if (!this.#capacity.isOpen(executor) || this.hasWorkInFlight(executor)) return false;
    this.#capacity.close(executor);
    return true;
  }

  /** A started interpreter joins the pool. */
  attach(executor: E): void {
    this.#capacity.open(executor);
    this.#idleSince.set(executor, performance.now());
    const size = this.#capacity.openCount;
    this.#servingWaiters = this.#servingWaiters.filter((w) => (w.count <= size ? (w.resolve(), false) : true));
    this.#pump();
    if (this.#queue.size === 0) this.onSlotFree?.();
  }

  /**
   * The interpreter leaves the pool: it takes no new call. Resolves when the runs it has in
   * flight, if any, have ended (at once if it has none or is already gone).
   */
  detach(executor: E): Promise<void> {
    if (this.#capacity.close(executor) === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drains.set(executor, resolve));
  }

  /** Stops accepting calls; queued ones reject with `error`, running ones go on. */
  close(error: Error): void {
    if (this.#closedWith) return;
    this.#closedWith = error;
    for (const job of this.#queue.drain()) this.#settle(job, { ok: false, error });
    for (const waiter of this.#servingWaiters) waiter.reject(error);
    this.#servingWaiters = [];
    this.#checkIdle();
  }

  /** Refuses new calls with `error` while queued and running ones go on (a drain). */
  seal(error: Error): void {
    this.#sealedWith ??= error;
  }

  /** Resolves once no call is queued or running (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.#queue.size === 0 && !this.#capacity.anyInFlight) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || this.#queue.size > 0 || this.#capacity.anyInFlight) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #submit(kind: Job<E, C>['kind'], request: CallRequest<C>): Promise<unknown> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (this.#sealedWith) return Promise.reject(this.#sealedWith);
    const { signal, timeout } = request;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // A call runs at once on a free slot (there is none while calls are queued), else it queues.
    const executor = this.#queue.size === 0 ? this.#capacity.take() : undefined;
    if (executor === undefined && this.#queue.size >= this.#options.maxQueue) return this.#refuse(request.trace);
    return new Promise((resolve, reject) => {
      const job: Job<E, C> = { kind, request, submittedAt: performance.now(), resolve, reject, settled: false };
      if (timeout !== undefined) {
        job.timer = setLongTimeout(() => this.#cancel(job, new CallTimeoutError(timeout)), timeout);
      }
      if ((timeout !== undefined || signal) && kind === 'call') job.control = {};
      if (signal) {
        job.onAbort = () => this.#cancel(job, signal.reason);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (executor) {
        this.#run(executor, [job], job.submittedAt);
      } else {
        this.#queue.push(job);
        this.#options.onQueued?.();
      }
    });
  }

  /**
   * Starts `jobs` on one slot of `executor`, which `#capacity` has already counted. `startedAt`:
   * now, or the submission time of a job that runs as it is submitted (one clock read less).
   */
  #run(executor: E, jobs: Job<E, C>[], startedAt = performance.now()): void {
    const run: Run<E, C> = { executor, jobs, startedAt, ended: false };
    for (const job of jobs) {
      job.executor = executor;
      job.startedAt = startedAt;
      const trace = job.request.trace;
      if (trace !== undefined) {
        trace.worker = executor.id;
        trace.pid = executor.pid;
      }
    }
    const first = jobs[0]!;
    // Counted as it is given: with several slots, an interpreter must not be given more calls
    // than maxTasksPerExecutor while the ones it has are still running.
    const given = (this.#tasksGiven.get(executor) ?? 0) + (first.kind === 'call' ? jobs.length : 1);
    this.#tasksGiven.set(executor, given);
    const maxTasks = this.#options.maxTasksPerExecutor;
    if (maxTasks !== undefined && given >= maxTasks) this.#retire(executor);
    if (first.kind === 'lease') {
      const lease: Lease<E> = {
        executor,
        release: () => this.#finish(run, [{ ok: true, value: undefined }]),
      };
      this.#settle(first, { ok: true, value: lease });
      return;
    }
    const done = (outcomes: Outcome[]) => {
      const endedAt = performance.now();
      this.#timed(jobs, Math.min(jobs.length, outcomes.length), endedAt - startedAt);
      this.#finish(run, outcomes, endedAt);
    };
    const failed = (error: unknown) => done(jobs.map(() => ({ ok: false, error })));
    if (jobs.length === 1) {
      executor.run(first.request.call!, first.request.context, first.control).then((value) => done([{ ok: true, value }]), failed);
    } else {
      executor.runBatch(jobs.map((job) => job.request.call!)).then(done, failed);
    }
  }

  /**
   * A run ended: settle its jobs (or queue them again, for retries), free its slot, and put the
   * interpreter back to work, unless it died or is going away (it exited, was killed, or killed
   * itself over a broken reply). One whose last run ended while it was leaving is drained.
   */
  #finish(run: Run<E, C>, outcomes: Outcome[], endedAt = performance.now()): void {
    if (run.ended) return; // a lease released twice
    run.ended = true;
    const { executor, jobs } = run;
    this.#stats.ran(endedAt - run.startedAt);
    const again: Job<E, C>[] = [];
    jobs.forEach((job, i) => {
      job.executor = undefined;
      if (job.settled) return;
      const outcome = outcomes[i];
      if (outcome === undefined) {
        // Not run: the batch ended before it. It goes again, its retries untouched.
        if (this.#closedWith) this.#settle(job, { ok: false, error: this.#closedWith }, endedAt);
        else again.push(job);
        return;
      }
      // A lost host's call may still be running there: running it again could run it twice.
      const retryable =
        !outcome.ok && outcome.error instanceof InterpreterExitedError && !(outcome.error instanceof HostLostError) && job.request.retries > 0;
      if (retryable && !this.#closedWith) {
        job.request.retries--;
        if (job.request.trace !== undefined) job.request.trace.retried = (job.request.trace.retried ?? 0) + 1;
        again.push(job);
      } else if (job.kind === 'call') {
        this.#settle(job, outcome, endedAt);
      }
    });
    // Back at the head, in their original order: a retried call keeps its place in line.
    for (let i = again.length - 1; i >= 0; i--) this.#queue.unshift(again[i]!);
    const left = this.#capacity.end(executor);
    if (left === 0) this.#idleSince.set(executor, endedAt);
    if (!executor.serviceable) this.#capacity.close(executor);
    else if (this.#options.shouldRetire?.(executor)) this.#retire(executor);
    if (left === 0 && !this.#capacity.isOpen(executor)) {
      const drained = this.#drains.get(executor);
      if (drained) {
        this.#drains.delete(executor);
        drained();
      }
    }
    this.#pump();
    if (this.#queue.size === 0 && this.onSlotFree !== undefined && this.#capacity.isOpen(executor)) this.onSlotFree();
    this.#checkIdle();
  }

  /** Records how long each function took, a batch's time shared equally among the calls it ran. */
  #timed(jobs: Job<E, C>[], ran: number, ms: number): void {
    const each = ms / ran;
    for (let i = 0; i < ran; i++) {
      const { module, fn } = jobs[i]!.request.call!;
      let functions = this.#durations.get(module);
      if (functions === undefined) this.#durations.set(module, (functions = new Map()));
      const average = functions.get(fn);
      functions.set(fn, average === undefined ? each : average + EWMA_WEIGHT * (each - average));
    }
  }

  /**
   * Takes `executor` out of service: it takes no more runs, and its recycling (`onRetire`) waits
   * for the runs it still has in flight (`detach`).
   */
  #retire(executor: E): void {
    if (!this.#options.onRetire || !this.#capacity.isOpen(executor)) return;
    this.#capacity.close(executor);
    this.#options.onRetire(executor);
  }

  #pump(): void {
    while (this.#queue.size > 0) {
      const executor = this.#capacity.take();
      if (executor === undefined) return;
      this.#run(executor, this.#takeFor(executor));
    }
  }

  /** The head of the queue, and with it, if the calls are short, the short calls that follow it. */
  #takeFor(executor: E): Job<E, C>[] {
    const jobs = [this.#queue.shift()!];
    // Batch only on the last free slot: while others are free, each call gets its own.
    if (!this.#batchable(jobs[0]!) || this.#capacity.free > 0) return jobs;
    const maxTasks = this.#options.maxTasksPerExecutor;
    const tasksLeft = maxTasks === undefined ? MAX_BATCH : maxTasks - (this.#tasksGiven.get(executor) ?? 0);
    // Every other slot is busy, so nothing is gained by leaving calls behind for them: the short
    // calls at the head all go, up to MAX_BATCH.
    const share = Math.min(MAX_BATCH, tasksLeft);
    // The batch must fit in one message, as each of its calls does alone: one that would not
    // fit waits for the next round trip.
    const { maxMessageSize } = this.#options;
    let bytes = jobs[0]!.request.call!.size;
    let frames = jobs[0]!.request.call!.frames.length;
    for (let next = this.#queue.peek(); jobs.length < share && next && this.#batchable(next); next = this.#queue.peek()) {
      const call = next.request.call!;
      if (!fitsInBatch(bytes, frames, call, maxMessageSize)) break;
      bytes += call.size;
      frames += call.frames.length;
      jobs.push(this.#queue.shift()!);
    }
    return jobs;
  }

  #batchable(job: Job<E, C>): boolean {
    const { kind, request } = job;
    if (kind !== 'call' || request.timeout !== undefined || request.signal !== undefined) return false;
    // Progress would be delivered while other calls of the batch wait for it.
    if (request.context?.onProgress !== undefined) return false;
    const { module, fn } = request.call!;
    const average = this.#durations.get(module)?.get(fn);
    return average !== undefined && average < this.#options.batchCallsUnderMs;
  }

  /**
   * Timeout or abort: a queued job leaves the queue; a running one rejects at once and is given up
   * on. Its interpreter cancels it (its slot stays taken until its reply comes) or, if it cannot
   * (sync code, no reply within the pool's cancelGrace), is killed and replaced.
   */
  #cancel(job: Job<E, C>, error: unknown): void {
    if (job.settled) return;
    const executor = job.executor;
    if (executor === undefined) {
      this.#queue.remove(job);
      this.#settle(job, { ok: false, error });
      this.#checkIdle();
      return;
    }
    this.#settle(job, { ok: false, error });
    // The interpreter may be stuck in C code, its REQ socket waiting for a reply nobody wants:
    // it cannot serve again. Its worker sees the exit and the supervisor replaces it.
    const beforeKill = () => {
      this.#options.onCancel?.(executor, error);
      this.#capacity.close(executor);
    };
    const cancel = job.control?.cancel;
    if (cancel !== undefined) {
      cancel(beforeKill);
    } else {
      beforeKill();
      executor.kill();
    }
  }

  /** `at`: when the outcome was known, if the caller has read the clock already. */
  #settle(job: Job<E, C>, outcome: Outcome, at = performance.now()): void {
    if (job.settled) return;
    job.settled = true;
    job.timer?.clear();
    if (job.onAbort) job.request.signal?.removeEventListener('abort', job.onAbort);
    if (job.kind === 'call') {
      const { request } = job;
      const error = outcome.ok ? undefined : outcome.error;
      this.#stats.settled(outcome.ok, error, request.signal?.aborted === true, job.submittedAt, job.startedAt, at, request.trace);
    }
    if (outcome.ok) job.resolve(outcome.value);
    else job.reject(outcome.error);
  }
}
