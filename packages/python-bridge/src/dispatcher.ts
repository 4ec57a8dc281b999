import { CallTimeoutError, QueueFullError, WorkerExitedError } from './errors.js';
import { Fifo } from './fifo.js';
import { LatencyWindow } from './stats.js';

/** One interpreter as the dispatcher sees it: something that runs one call at a time. */
export interface Executor {
  readonly id: string;
  /** False once the interpreter has exited or is being stopped or killed: it takes no more work. */
  readonly serviceable: boolean;
  call(module: string, fn: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<unknown>;
  /** Abandons whatever runs: the interpreter is killed, its pending call rejects. */
  kill(): void;
}

export interface CallRequest {
  module: string;
  fn: string;
  args: unknown[];
  kwargs?: Record<string, unknown>;
  /** ms from submission to settlement; past it the call rejects and its interpreter is killed. */
  timeout?: number;
  signal?: AbortSignal;
  /** How many times a call whose interpreter died may be run again. */
  retries: number;
}

/** An interpreter held by one caller (for a stream) until it calls `release`. */
export interface Lease<E extends Executor> {
  readonly executor: E;
  /** Gives the interpreter back (to serve again if it still can). */
  release(): void;
}

export interface DispatcherOptions<E extends Executor> {
  maxQueue: number;
  /**
   * Asked after each job an executor served (`served` counts them): true hands the executor to
   * `onRetire` instead of back to the queue.
   */
  shouldRetire?: (executor: E, served: number) => boolean;
  onRetire?: (executor: E) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A queued or running unit of work: a call, or a lease (an interpreter held for a stream). */
interface Job<E extends Executor> {
  readonly kind: 'call' | 'lease';
  readonly request: CallRequest;
  readonly submittedAt: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  executor?: E;
  settled: boolean;
  timer?: ReturnType<typeof setTimeout>;
  onAbort?: () => void;
}

/**
 * Hands calls to idle interpreters, first come first served.
 *
 * Invariants: an executor is in exactly one of `#idle` or `#running` while attached, and in
 * neither once detached or killed; the queue is non-empty only while `#idle` is empty, so an idle
 * interpreter never waits while a call is queued; each job settles exactly once (`#settle` is
 * the only place that resolves or rejects a job).
 */
export class Dispatcher<E extends Executor = Executor> {
  readonly #options: DispatcherOptions<E>;
  readonly #queue = new Fifo<Job<E>>();
  readonly #idle: E[] = [];
  readonly #running = new Map<E, Job<E>>();
  /** Executors still attached: detached and killed ones never serve again. */
  readonly #attached = new Set<E>();
  /** Waiters for an executor's running job to finish (graceful drain). */
  readonly #drains = new Map<E, () => void>();
  readonly #tasksServed = new WeakMap<E, number>();
  readonly #latency = new LatencyWindow();
  /** Resolvers of `whenServing` calls, checked whenever an executor joins. */
  #servingWaiters: { count: number; resolve: () => void }[] = [];
  #closedWith: Error | undefined;
  #completed = 0;
  #failed = 0;

  constructor(options: DispatcherOptions<E>) {
    this.#options = options;
  }

  get counts() {
    return {
      ready: this.#idle.length,
      busy: this.#running.size,
      queued: this.#queue.size,
      completed: this.#completed,
      failed: this.#failed,
      latency: this.#latency.percentiles(),
    };
  }

  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  call(request: CallRequest): Promise<unknown> {
    return this.#submit('call', request);
  }

  /** Holds an idle interpreter for the caller, in queue order like a call. */
  acquire(request: Pick<CallRequest, 'signal' | 'timeout'>): Promise<Lease<E>> {
    const full: CallRequest = { module: '', fn: '', args: [], retries: 0, ...request };
    return this.#submit('lease', full) as Promise<Lease<E>>;
  }

  /** Executors serving now (idle or running a call), in no particular order. */
  serving(): { executor: E; busy: boolean }[] {
    return [...this.#attached].map((executor) => ({ executor, busy: this.#running.has(executor) }));
  }

  /** Resolves once at least `count` executors are serving (at once if they already are). */
  whenServing(count: number): Promise<void> {
    if (this.#attached.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.#servingWaiters.push({ count, resolve }));
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
  }

  #submit(kind: Job<E>['kind'], request: CallRequest): Promise<unknown> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const { signal, timeout } = request;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.size >= this.#options.maxQueue && this.#idle.length === 0) {
      this.#failed++;
      return Promise.reject(new QueueFullError(this.#options.maxQueue));
    }
    return new Promise((resolve, reject) => {
      const job: Job<E> = { kind, request, submittedAt: performance.now(), resolve, reject, settled: false };
      if (timeout !== undefined) {
        job.timer = setTimeout(() => this.#cancel(job, new CallTimeoutError(timeout)), timeout);
      }
      if (signal) {
        job.onAbort = () => this.#cancel(job, signal.reason);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      const executor = this.#idle.pop();
      if (executor) this.#run(executor, job);
      else this.#queue.push(job);
    });
  }

  #run(executor: E, job: Job<E>): void {
    job.executor = executor;
    this.#running.set(executor, job);
    if (job.kind === 'lease') {
      const lease: Lease<E> = {
        executor,
        release: () => this.#finish(executor, job, { ok: true, value: undefined }),
      };
      this.#settle(job, { ok: true, value: lease });
      return;
    }
    const { module, fn, args, kwargs } = job.request;
    executor.call(module, fn, args, kwargs).then(
      (value) => this.#finish(executor, job, { ok: true, value }),
      (error: unknown) => this.#finish(executor, job, { ok: false, error }),
    );
  }

  /**
   * A job's run ended: settle it (or run it again) and put its interpreter back to work, unless
   * it died or is going away (it exited, was killed, or killed itself over a broken reply).
   */
  #finish(executor: E, job: Job<E>, outcome: Outcome): void {
    if (this.#running.get(executor) !== job) return; // a lease released twice
    this.#running.delete(executor);
    job.executor = undefined;
    if (!job.settled) {
      const retryable = !outcome.ok && outcome.error instanceof WorkerExitedError && job.request.retries > 0;
      if (retryable && !this.#closedWith) {
        job.request.retries--;
        this.#queue.unshift(job);
      } else if (job.kind === 'call') {
        this.#settle(job, outcome);
      }
    }
    const drained = this.#drains.get(executor);
    if (drained) {
      this.#drains.delete(executor);
      drained();
    }
    if (executor.serviceable) this.#served(executor);
    else this.#attached.delete(executor);
    this.#pump();
  }

  /** Counts a served job and decides whether the interpreter serves again or retires. */
  #served(executor: E): void {
    if (!this.#attached.has(executor)) return;
    const served = (this.#tasksServed.get(executor) ?? 0) + 1;
    this.#tasksServed.set(executor, served);
    if (this.#options.shouldRetire?.(executor, served) && this.#options.onRetire) {
      this.#attached.delete(executor);
      this.#options.onRetire(executor);
      return;
    }
    this.#idle.push(executor);
  }

  #makeIdle(executor: E): void {
    this.#idle.push(executor);
    this.#pump();
  }

  #pump(): void {
    while (this.#idle.length > 0 && this.#queue.size > 0) {
      const job = this.#queue.shift()!;
      this.#run(this.#idle.pop()!, job);
    }
  }

  /** Timeout or abort: a queued job leaves the queue; a running one takes its interpreter down. */
  #cancel(job: Job<E>, error: unknown): void {
    if (job.settled) return;
    const executor = job.executor;
    if (executor === undefined) {
      this.#queue.remove(job);
      this.#settle(job, { ok: false, error });
      return;
    }
    this.#settle(job, { ok: false, error });
    // The interpreter may be stuck in C code and its REQ socket now waits for a reply nobody
    // wants: it cannot serve again. Its worker sees the exit and the supervisor replaces it.
    this.#attached.delete(executor);
    executor.kill();
  }

  #settle(job: Job<E>, outcome: Outcome): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    if (job.onAbort) job.request.signal?.removeEventListener('abort', job.onAbort);
    if (job.kind === 'call') {
      if (outcome.ok) this.#completed++;
      else this.#failed++;
      this.#latency.record(performance.now() - job.submittedAt);
    }
    if (outcome.ok) job.resolve(outcome.value);
    else job.reject(outcome.error);
  }
}
