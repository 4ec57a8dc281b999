/**
 * What a pool knows about its calls and interpreters, kept cheaply on the call path (a few
 * counters and three ring buffers) and summarized only when `stats()` is read.
 */
import { CallTimeoutError, PoolStoppedError, PythonError, QueueFullError, InterpreterExitedError } from '../errors.js';
import type { HostStatus } from './events.js';

/** Percentiles of a duration, in ms (nearest rank over the most recent calls); 0 before any call. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Durations over a sliding window of the most recent calls: percentiles that follow the pool's
 * current behaviour, in constant memory whatever the pool's uptime.
 */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 2048) {
    this.#samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
  }

  percentiles(): Percentiles {
    if (this.#count === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#samples.slice(0, this.#count).sort();
    const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
    return { p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: sorted[sorted.length - 1]! };
  }
}

/** Why an interpreter was replaced. */
export type RestartCause = 'crash' | 'recycle' | 'timeout' | 'abort';
export const RESTART_CAUSES: readonly RestartCause[] = ['crash', 'recycle', 'timeout', 'abort'];

/** Where a pool is in its life. */
export type PoolState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** How a call ended, as metrics label it. */
export type CallOutcome = 'ok' | 'python_error' | 'exited' | 'timeout' | 'aborted' | 'queue_full' | 'stopped' | 'error';
export const CALL_OUTCOMES: readonly CallOutcome[] = ['ok', 'python_error', 'exited', 'timeout', 'aborted', 'queue_full', 'stopped', 'error'];

/** The outcome label of a failed call; `aborted`: the caller's signal had fired. */
export function outcomeOf(error: unknown, aborted: boolean): CallOutcome {
  if (error instanceof PythonError) return 'python_error';
  if (error instanceof InterpreterExitedError) return 'exited';
  if (error instanceof CallTimeoutError) return 'timeout';
  if (error instanceof QueueFullError) return 'queue_full';
  if (error instanceof PoolStoppedError) return 'stopped';
  if (aborted) return 'aborted';
  return 'error';
}

/** The key of `stats().errors`: the error's class name (`PythonError`, `AbortError`, …). */
function errorType(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor.name;
  return typeof error;
}

/** Where a call's timings go besides the pool's own stats (the tracing context, when traced). */
export interface CallTiming {
  outcome?: CallOutcome;
  /** ms from `call()` until an interpreter took the call (or until it settled, if none did). */
  waitMs?: number;
  /** ms from an interpreter taking the call until it settled; absent if none took it. */
  runMs?: number;
}

/** Counters and windows of one pool's calls: the dispatcher feeds it, `stats()` reads it. */
export class CallStats {
  readonly #latency = new LatencyWindow();
  readonly #wait = new LatencyWindow();
  readonly #run = new LatencyWindow();
  readonly #errors = new Map<string, number>();
  readonly #outcomes = new Map<CallOutcome, number>();
  readonly #since = performance.now();
  #completed = 0;
  #failed = 0;
  /** Total ms interpreters spent running calls or holding a stream. */
  #busyMs = 0;

  /**
   * A call settled at `at`. `startedAt`: when an interpreter took it, undefined if none did.
   * `timing`, if given (a traced call), receives the outcome and durations.
   */
  settled(ok: boolean, error: unknown, aborted: boolean, submittedAt: number, startedAt: number | undefined, at: number, timing?: CallTiming): void {
    this.#latency.record(at - submittedAt);
    const waitMs = (startedAt ?? at) - submittedAt;
    this.#wait.record(waitMs);
    const runMs = startedAt === undefined ? undefined : at - startedAt;
    if (runMs !== undefined) this.#run.record(runMs);
    let outcome: CallOutcome = 'ok';
    if (ok) {
      this.#completed++;
    } else {
      this.#failed++;
      outcome = outcomeOf(error, aborted);
      const type = errorType(error);
      this.#errors.set(type, (this.#errors.get(type) ?? 0) + 1);
    }
    this.#outcomes.set(outcome, (this.#outcomes.get(outcome) ?? 0) + 1);
    if (timing) {
      timing.outcome = outcome;
      timing.waitMs = waitMs;
      if (runMs !== undefined) timing.runMs = runMs;
    }
  }

  /** A call refused before it was queued (the queue was full). */
  refused(error: unknown, timing?: CallTiming): void {
    this.#failed++;
    const type = errorType(error);
    this.#errors.set(type, (this.#errors.get(type) ?? 0) + 1);
    const outcome = outcomeOf(error, false);
    this.#outcomes.set(outcome, (this.#outcomes.get(outcome) ?? 0) + 1);
    if (timing) timing.outcome = outcome;
  }

  /** An interpreter was busy for `ms` (one run: a call, a batch, or a stream's lease). */
  ran(ms: number): void {
    this.#busyMs += ms;
  }

  get completed(): number {
    return this.#completed;
  }

  get failed(): number {
    return this.#failed;
  }

  /** Calls by outcome since the pool started, every outcome present (0 if none). */
  outcomes(): Record<CallOutcome, number> {
    return Object.fromEntries(CALL_OUTCOMES.map((o) => [o, this.#outcomes.get(o) ?? 0])) as Record<CallOutcome, number>;
  }

  summary(size: number) {
    const elapsed = performance.now() - this.#since;
    return {
      completed: this.#completed,
      failed: this.#failed,
      latency: this.#latency.percentiles(),
      wait: this.#wait.percentiles(),
      run: this.#run.percentiles(),
      errors: Object.fromEntries(this.#errors),
      utilization: elapsed > 0 && size > 0 ? Math.min(1, this.#busyMs / (elapsed * size)) : 0,
    };
  }
}

/** What `pool.stats()` reports. */
export interface PoolStats {
  /** Where the pool is in its life; `failed` once it gave up on its interpreters. */
  state: PoolState;
  /**
   * Interpreters the pool keeps now: its local ones (a fixed `size`, or what an elastic pool has
   * grown or shrunk to: its target) and each host's.
   */
  size: number;
  /** The bounds on the local interpreters: `{ min: n, max: n }` for a fixed size `n`. */
  limits: { min: number; max: number };
  /**
   * Interpreters readiness counts (`whenReady()` waits for this many): `limits.min`, plus each
   * host's size (a host found by DNS counts while it is connected). Ready: `ready + busy >= minimum`.
   */
  minimum: number;
  /** Interpreters started with nothing in flight, ready for a call. */
  ready: number;
  /** Interpreters running at least one call or holding an open stream. */
  busy: number;
  /** Calls (and streams) each interpreter may run at once: the pool's `concurrency` option. */
  concurrency: number;
  /** Calls the pool may run at once: `size × concurrency`. */
  capacity: number;
  /** Calls, batches and open streams in flight now, over every interpreter. */
  inFlight: number;
  /** More calls the serving interpreters could take now without queueing (their free slots). */
  free: number;
  /** Calls in flight on each serving interpreter, by worker id (`{ 'python-1': 3 }`). */
  inFlightByInterpreter: Record<string, number>;
  /**
   * The event loop the serving interpreters run `async def` functions on: `'uvloop'` when they
   * can import it, else `'asyncio'`; `'mixed'` when they differ (hosts with other environments);
   * undefined while none serves.
   */
  loop: 'uvloop' | 'asyncio' | 'mixed' | undefined;
  /** Interpreters being started or replaced (`size - ready - busy` while the pool runs). */
  starting: number;
  /** Local interpreters being stopped because the pool shrank (idle for `idleTimeout`, or `resize`). */
  stopping: number;
  /** Local interpreters started because calls waited (an elastic pool's growth), since the pool started. */
  grown: number;
  /** Local interpreters stopped because the pool shrank, since it started. */
  shrunk: number;
  /** Each remote host: its agent, state (`connected`, `refused`…, with `error`), size and interpreters serving. */
  hosts: HostStatus[];
  /** Calls waiting for an interpreter. */
  queued: number;
  /** Interpreters started to replace one that exited or was recycled. */
  restarts: number;
  /** The same restarts by cause: crashed, recycled (`recycle.afterCalls`, `recycle.aboveMemory`), killed after a timeout or an abort. */
  restartsByCause: Record<RestartCause, number>;
  /** Interpreters that died after serving (replaced at once; never stop the pool). */
  crashes: number;
  /** Starts that failed, and interpreters that died before serving (these count toward `supervision.intensity`). */
  startFailures: number;
  /** How interpreters are made: `'forkserver'` or `'spawn'`. */
  startMethod: 'forkserver' | 'spawn';
  /** Calls that returned a result. */
  completed: number;
  /** Calls that rejected, for any reason. */
  failed: number;
  /** Failed calls by error class name: `{ PythonError: 3, InterpreterExitedError: 1 }`. */
  errors: Record<string, number>;
  /** Calls by outcome, as the metrics label them (`ok`, `python_error`, `exited`, `timeout`, …). */
  outcomes: Record<CallOutcome, number>;
  /** ms from `call()` to its settlement, over the most recent calls. */
  latency: Percentiles;
  /** ms a call waited for an interpreter, over the most recent calls. */
  wait: Percentiles;
  /** ms a call ran on its interpreter (a round trip, or a batch's), over the most recent calls. */
  run: Percentiles;
  /**
   * Share (0–1) of the pool's capacity used since it started: the time its calls and streams ran,
   * over the time `capacity` slots could have run them (with `concurrency: 1`, the interpreters' busy share).
   */
  utilization: number;
}
