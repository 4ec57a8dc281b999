import { setLongTimeout, type LongTimeout } from '@piton/core';
import { CallTimeoutError, HostLostError, QueueFullError, InterpreterExitedError } from '../errors.js';
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

/** One interpreter as the dispatcher sees it: something that runs one call at a time. */
export interface Executor<C extends DispatchedContext = DispatchedContext> {
  readonly id: string;
  /** The process's id, when it has one (told to tracers). */
  readonly pid?: number;
  /** False once the interpreter has exited or is being stopped or killed: it takes no more work. */
  readonly serviceable: boolean;
  /** Runs one call encoded in advance; `context` carries its progress listener and callback scope. */
  run(call: EncodedCall, context?: C): Promise<unknown>;
  /**
   * Several calls in one round trip, each with its own outcome; rejects only if the round trip
   * fails. May resolve with fewer outcomes than calls: the first ones ran, the others did not
   * (their results would have made the reply too large) and are queued again.
   */
  runBatch(calls: readonly EncodedCall[]): Promise<Outcome[]>;
  /** Abandons whatever runs: the interpreter is killed, its pending call rejects. */
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
  /** Calls an executor serves before it is handed to `onRetire` instead of back to the queue. */
  maxTasksPerExecutor?: number;
  /** Asked after each run: true retires the executor too (e.g. it holds too much memory). */
  shouldRetire?: (executor: E) => boolean;
  onRetire?: (executor: E) => void;
  /** A running call timed out or was aborted: its executor is about to be killed because of `error`. */
  onCancel?: (executor: E, error: unknown) => void;
  /** A call or lease had to queue: every executor was busy (an elastic pool grows on it). */
  onQueued?: () => void;
}

/** The most calls one round trip carries. */
const MAX_BATCH = 16;
/** Weight of the newest sample in a function's average duration. */
const EWMA_WEIGHT = 0.2;

/** A queued or running unit of work: a call, or a lease (an interpreter held for a stream). */
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
}

/**
 * Hands calls to idle interpreters, first come first served.
 *
 * When calls queue up and are short (their function has averaged under `batchCallsUnderMs`), an
 * interpreter that frees up takes the short calls at the head of the queue (at most MAX_BATCH:
 * the others are busy when there is a queue) in one round trip: the order is kept, each call keeps its own result or
 * error, and the round trip, which dominates a short call, is paid once. Calls with a timeout or
 * an AbortSignal always run alone, so that cancelling one never takes another down with it, and
 * so do calls with a progress listener, whose progress others would wait for (a pool that exposes
 * Node functions turns batching off, so that no call waits on another call's callback); if the
 * interpreter dies during a batch, every call of the batch rejects with InterpreterExitedError (and is
 * retried if it asked for retries), as a single call would.
 *
 * Invariants: an executor is in exactly one of `#idle` or `#running` while attached, and in
 * neither once detached or killed; the queue is non-empty only while `#idle` is empty, so an idle
 * interpreter never waits while a call is queued; each job settles exactly once (`#settle` is
 * the only place that resolves or rejects a job).
 */
export class Dispatcher<E extends Executor<C> = Executor, C extends DispatchedContext = ContextOf<E>> {
  readonly #options: DispatcherOptions<E>;
  readonly #queue = new Fifo<Job<E, C>>();
  readonly #idle: E[] = [];
  /** What each busy executor runs: one call, one lease, or a batch of calls. */
  readonly #running = new Map<E, Job<E, C>[]>();
  /**
   * Average duration (ms) of a call per module, then function, measured at the dispatcher. Keyed
   * by the caller's own strings, whose hashes V8 keeps: a joined `module.fn` key would be a new
   * string to hash on every call.
   */
  readonly #durations = new Map<string, Map<string, number>>();
  /** Executors still attached: detached and killed ones never serve again. */
  readonly #attached = new Set<E>();
  /** Waiters for an executor's running job to finish (graceful drain). */
  readonly #drains = new Map<E, () => void>();
  readonly #tasksServed = new WeakMap<E, number>();
  /** When each idle executor last became idle (`performance.now()`), for an elastic pool's shrink. */
  readonly #idleSince = new WeakMap<E, number>();
  readonly #stats = new CallStats();
  /** Set by `seal`: new calls are refused, queued ones still run. */
  #sealedWith: Error | undefined;
  /** `whenIdle` callers, resolved once nothing is queued or running. */
  #idleWaiters: (() => void)[] = [];
  /** Pending `whenServing` calls, checked whenever an executor joins; rejected on close. */
  #servingWaiters: { count: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  #closedWith: Error | undefined;

  constructor(options: DispatcherOptions<E>) {
    this.#options = options;
  }

  get counts() {
    return {
      ready: this.#idle.length,
      busy: this.#running.size,
      queued: this.#queue.size,
      completed: this.#stats.completed,
      failed: this.#stats.failed,
    };
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

  /** Holds an idle interpreter for the caller, in queue order like a call. */
  acquire(request: Pick<CallRequest, 'signal' | 'timeout'>): Promise<Lease<E>> {
    return this.#submit('lease', { retries: 0, ...request }) as Promise<Lease<E>>;
  }

  /** Executors serving now (idle or running a call), in no particular order. */
  serving(): { executor: E; busy: boolean }[] {
    return [...this.#attached].map((executor) => ({ executor, busy: this.#running.has(executor) }));
  }

  /** Resolves once at least `count` executors are serving (at once if they already are). */
  whenServing(count: number): Promise<void> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (this.#attached.size >= count) return Promise.resolve();
    return new Promise((resolve, reject) => this.#servingWaiters.push({ count, resolve, reject }));
  }


  /**
   * Whether `executor` has work in flight: a call (or a batch) running, a stream's lease held, or
   * a call waiting on a callback into Node (it is running until it settles). The one predicate
   * that decides whether an interpreter may be stopped because the pool shrinks: one with work in
   * flight never is.
   */
  hasWorkInFlight(executor: E): boolean {
    return this.#running.has(executor);
  }

  /** ms `executor` has been idle (attached, no work in flight) at `now`; undefined if it is not idle. */
  idleFor(executor: E, now = performance.now()): number | undefined {
    if (!this.#attached.has(executor) || this.hasWorkInFlight(executor) || !this.#idle.includes(executor)) return undefined;
    return now - (this.#idleSince.get(executor) ?? now);
  }

  /**
   * Takes `executor` out of service if it is idle, at once and atomically (no call can be handed
   * to it after this returns true); false if it has work in flight or is not attached.
   */
  retireIfIdle(executor: E): boolean {
    if (!this.#attached.has(executor) || this.hasWorkInFlight(executor)) return false;
    const at = this.#idle.indexOf(executor);
    if (at < 0) return false;
    this.#idle.splice(at, 1);
    this.#attached.delete(executor);
    return true;
  }

  /** A started interpreter joins the pool. */
  attach(executor: E): void {
    this.#attached.add(executor);
    this.#makeIdle(executor);
    const size = this.#attached.size;
    this.#servingWaiters = this.#servingWaiters.filter((w) => (w.count <= size ? (w.resolve(), false) : true));
  }

  /**
   * The interpreter leaves the pool: it takes no new call. Resolves when the call it runs, if
   * any, has settled (at once if it is idle or already gone).
   */
  detach(executor: E): Promise<void> {
    this.#attached.delete(executor);
    const idleAt = this.#idle.indexOf(executor);
    if (idleAt >= 0) this.#idle.splice(idleAt, 1);
    if (!this.#running.has(executor)) return Promise.resolve();
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
    if (this.#queue.size === 0 && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || this.#queue.size > 0 || this.#running.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #submit(kind: Job<E, C>['kind'], request: CallRequest<C>): Promise<unknown> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (this.#sealedWith) return Promise.reject(this.#sealedWith);
    const { signal, timeout } = request;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.size >= this.#options.maxQueue && this.#idle.length === 0) {
      const error = new QueueFullError(this.#options.maxQueue);
      this.#stats.refused(error, request.trace);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const job: Job<E, C> = { kind, request, submittedAt: performance.now(), resolve, reject, settled: false };
      if (timeout !== undefined) {
        job.timer = setLongTimeout(() => this.#cancel(job, new CallTimeoutError(timeout)), timeout);
      }
      if (signal) {
        job.onAbort = () => this.#cancel(job, signal.reason);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      const executor = this.#idle.pop();
      if (executor) {
        this.#run(executor, [job], job.submittedAt);
      } else {
        this.#queue.push(job);
        this.#options.onQueued?.();
      }
    });
  }

  /** `startedAt`: now, or the submission time of a job that runs as it is submitted (one clock read less). */
  #run(executor: E, jobs: Job<E, C>[], startedAt = performance.now()): void {
    this.#running.set(executor, jobs);
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
    if (first.kind === 'lease') {
      const lease: Lease<E> = {
        executor,
        release: () => this.#finish(executor, jobs, [{ ok: true, value: undefined }]),
      };
      this.#settle(first, { ok: true, value: lease });
      return;
    }
    const done = (outcomes: Outcome[]) => {
      const endedAt = performance.now();
      this.#timed(jobs, Math.min(jobs.length, outcomes.length), endedAt - startedAt);
      this.#finish(executor, jobs, outcomes, endedAt);
    };
    const failed = (error: unknown) => done(jobs.map(() => ({ ok: false, error })));
    if (jobs.length === 1) {
      executor.run(first.request.call!, first.request.context).then((value) => done([{ ok: true, value }]), failed);
    } else {
      executor.runBatch(jobs.map((job) => job.request.call!)).then(done, failed);
    }
  }

  /**
   * A run ended: settle its jobs (or queue them again, for retries) and put the interpreter back
   * to work, unless it died or is going away (it exited, was killed, or killed itself over a
   * broken reply).
   */
  #finish(executor: E, jobs: Job<E, C>[], outcomes: Outcome[], endedAt = performance.now()): void {
    if (this.#running.get(executor) !== jobs) return; // a lease released twice
    this.#running.delete(executor);
    this.#stats.ran(endedAt - jobs[0]!.startedAt!);
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
    const drained = this.#drains.get(executor);
    if (drained) {
      this.#drains.delete(executor);
      drained();
    }
    if (executor.serviceable) this.#served(executor, jobs[0]!.kind === 'call' ? Math.min(jobs.length, outcomes.length) : 1, endedAt);
    else this.#attached.delete(executor);
    this.#pump();
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

  /** Counts the calls a run served and decides whether the interpreter serves again or retires. */
  #served(executor: E, calls: number, at: number): void {
    if (!this.#attached.has(executor)) return;
    const served = (this.#tasksServed.get(executor) ?? 0) + calls;
    this.#tasksServed.set(executor, served);
    const { maxTasksPerExecutor: maxTasks, shouldRetire } = this.#options;
    const retire = (maxTasks !== undefined && served >= maxTasks) || shouldRetire?.(executor);
    if (retire && this.#options.onRetire) {
      this.#attached.delete(executor);
      this.#options.onRetire(executor);
      return;
    }
    this.#idle.push(executor);
    this.#idleSince.set(executor, at);
  }

  #makeIdle(executor: E): void {
    this.#idle.push(executor);
    this.#idleSince.set(executor, performance.now());
    this.#pump();
  }

  #pump(): void {
    while (this.#idle.length > 0 && this.#queue.size > 0) {
      const executor = this.#idle.pop()!;
      this.#run(executor, this.#takeFor(executor));
    }
  }

  /** The head of the queue, and with it, if the calls are short, the short calls that follow it. */
  #takeFor(executor: E): Job<E, C>[] {
    const jobs = [this.#queue.shift()!];
    if (!this.#batchable(jobs[0]!)) return jobs;
    const maxTasks = this.#options.maxTasksPerExecutor;
    const tasksLeft = maxTasks === undefined ? MAX_BATCH : maxTasks - (this.#tasksServed.get(executor) ?? 0);
    // Every other interpreter is busy (the queue is empty otherwise), so nothing is gained by
    // leaving calls behind for them: the short calls at the head all go, up to MAX_BATCH.
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

  /** Timeout or abort: a queued job leaves the queue; a running one takes its interpreter down. */
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
    this.#options.onCancel?.(executor, error);
    // The interpreter may be stuck in C code and its REQ socket now waits for a reply nobody
    // wants: it cannot serve again. Its worker sees the exit and the supervisor replaces it.
    this.#attached.delete(executor);
    executor.kill();
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
