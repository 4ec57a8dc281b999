/**
 * Dynamic batching (PROTOCOL.md, "Dynamic batching"): calls to a function its Python marked
 * `@piton.batched(max_size, max_wait_ms)` are merged into one Python call of up to `maxSize`
 * inputs, and each call gets its own output back.
 *
 * The pool learns a function is batched from the reply to a call to it (until then, calls go one
 * by one, and Python runs each as a batch of one). Then each call joins the open batch of its
 * function. A batch is sent when it is full (`maxSize` calls, or as many bytes as one message may
 * hold beside the merged call's own: a call too large to share one goes alone), and otherwise as soon as an interpreter can run it
 * and it has stopped growing: once a turn of the event loop has passed in which no call joined it
 * (every request Node read in that turn has been handled), or once it has waited `maxWaitMs`
 * since its first call, whichever comes first. While no interpreter is free the batch keeps
 * filling, and it goes when one frees. So an idle pool answers a lone call at once, and under load
 * a batch holds what arrived while the interpreters were busy (Triton's dynamic batcher with no
 * queue delay does the same; a fixed wait while an interpreter is free only adds latency, and in a
 * closed loop of clients it caps the throughput: the clients of the batch that waits send nothing
 * more until it is answered). Each call keeps its own fate:
 * - a call that times out or is aborted before its batch is sent leaves it; after, it rejects
 *   alone and the batch's other calls get their outputs (the interpreter is killed only when the
 *   last caller's deadline passes, as it would be for a call of its own);
 * - an exception in the function, or a result that is not one output per input (`BatchError`),
 *   rejects exactly the calls of that batch;
 * - when the interpreter dies, each call with `retries` left joins a later batch, the others
 *   reject with the exit's error.
 */
import { CallTimeoutError, HostLostError, WorkerExitedError } from '../errors.js';
import type { BatchPolicy } from '../wire/protocol.js';
import { NdArray } from '../wire/ndarray.js';
import { outcomeOf, type CallTiming } from '../ops/stats.js';
import { PairMap } from './pair-map.js';

/** What a traced call is told of its run: its timings and outcome, and the interpreter that ran its batch. */
export type BatchedCallTrace = CallTiming & { worker?: string; pid?: number; retried?: number };

/**
 * Sends one merged call: the function gets `inputs`; resolves with one output per input. `trace`,
 * when given, is filled in as the dispatcher fills a traced call's (timings, interpreter).
 */
export type SendBatch = (module: string, fn: string, inputs: unknown[], timeout: number | undefined, trace: BatchedCallTrace | undefined) => Promise<unknown>;

export interface BatchedCallOptions {
  /** The call's size encoded alone ({@link EncodedCall.size}), or a bound of it: what it adds to a merged call. */
  size: number;
  timeout?: number;
  signal?: AbortSignal;
  retries: number;
  /** A traced call's context: given its timings, outcome and interpreter before it settles. */
  trace?: BatchedCallTrace;
}

interface Pending {
  readonly input: unknown;
  readonly size: number;
  readonly submittedAt: number;
  readonly deadline: number | undefined;
  retries: number;
  readonly signal: AbortSignal | undefined;
  readonly trace: BatchedCallTrace | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  timer?: ReturnType<typeof setTimeout>;
  onAbort?: () => void;
  /** Waiting in an open batch (removable), or sent. */
  batch: OpenBatch | undefined;
}

interface OpenBatch {
  readonly module: string;
  readonly fn: string;
  readonly policy: BatchPolicy;
  readonly items: Pending[];
  readonly openedAt: number;
  /** The sizes of the calls that joined it, added up: it is sent before another would pass `maxBytes`. */
  bytes: number;
  /** Calls it held when the last turn's check saw it: it grows while this is behind `items.length`. */
  seen: number;
  /** Sends it once `maxWaitMs` has passed since it opened, if an interpreter is free by then. */
  timer?: ReturnType<typeof setTimeout>;
}

/** The batched functions a pool knows of, and their policies (told by replies). */
export class BatchPolicies {
  readonly #policies = new PairMap<BatchPolicy>();

  get(module: string, fn: string): BatchPolicy | undefined {
    return this.#policies.get(module, fn);
  }

  readonly learn = (module: string, fn: string, policy: BatchPolicy): void => {
    this.#policies.set(module, fn, policy);
  };
}

export class DynamicBatcher {
  readonly #policies: BatchPolicies;
  readonly #open = new PairMap<OpenBatch>();
  readonly #send: SendBatch;
  readonly #interpreterFree: () => boolean;
  readonly #maxBytes: number;
  /** A check of the open batches is due at the end of this turn of the event loop. */
  #checkDue = false;

  /**
   * `interpreterFree`: whether a batch sent now would run at once. `maxBytes`: the most the sizes
   * of a batch's calls may add up to, so that the merged call fits in one message; a call larger
   * than that must not be submitted (it goes as a call of its own).
   */
  constructor(policies: BatchPolicies, send: SendBatch, interpreterFree: () => boolean, maxBytes: number) {
    this.#policies = policies;
    this.#send = send;
    this.#interpreterFree = interpreterFree;
    this.#maxBytes = maxBytes;
  }

  /** The largest call that may be submitted: see the constructor. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Calls waiting in open batches: queued for an interpreter as much as the dispatcher's queue is. */
  get waiting(): number {
    let count = 0;
    for (const batch of this.#open.values()) count += batch.items.length;
    return count;
  }

  /** The function's policy, once a reply told it. */
  policy(module: string, fn: string): BatchPolicy | undefined {
    return this.#policies.get(module, fn);
  }

  /** One call's input; settles with its output. */
  submit(module: string, fn: string, input: unknown, options: BatchedCallOptions): Promise<unknown> {
    const policy = this.policy(module, fn)!;
    return new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(signal.reason);
      const submittedAt = performance.now();
      const item: Pending = {
        input,
        size: options.size,
        submittedAt,
        deadline: options.timeout === undefined ? undefined : submittedAt + options.timeout,
        retries: options.retries,
        signal,
        trace: options.trace,
        resolve,
        reject,
        settled: false,
        batch: undefined,
      };
      if (options.timeout !== undefined) {
        item.timer = setTimeout(
          () => this.#cancel(item, new CallTimeoutError(options.timeout!, `the call to ${module}.${fn} did not complete within its timeout of ${options.timeout} ms`)),
          options.timeout,
        );
      }
      if (signal !== undefined) {
        item.onAbort = () => this.#cancel(item, signal.reason);
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this.#join(module, fn, policy, item);
    });
  }

  /**
   * An interpreter has a free slot (a run ended, one joined): open batches may go. Checked at the
   * end of this turn, so that the calls that arrive in it join them first.
   */
  readonly slotFree = (): void => {
    if (this.#open.size > 0) this.#checkSoon();
  };

  /** Closes every open batch: their calls reject with `error` (the pool stopped). */
  close(error: unknown): void {
    for (const batch of this.#open.values()) {
      clearTimeout(batch.timer);
      for (const item of batch.items) this.#settle(item, false, error);
    }
    this.#open.clear();
  }

  #join(module: string, fn: string, policy: BatchPolicy, item: Pending): void {
    let batch = this.#open.get(module, fn);
    if (batch !== undefined && batch.bytes + item.size > this.#maxBytes) {
      // Full by size: it goes now, and this call opens the next one.
      this.#flush(batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { module, fn, policy, items: [], openedAt: performance.now(), bytes: 0, seen: 0 };
      this.#open.set(module, fn, batch);
      if (policy.maxWaitMs > 0) {
        const opened = batch;
        batch.timer = setTimeout(() => {
          opened.timer = undefined;
          if (this.#open.get(module, fn) === opened && this.#interpreterFree()) this.#flush(opened);
        }, policy.maxWaitMs);
      }
    }
    item.batch = batch;
    batch.items.push(item);
    batch.bytes += item.size;
    if (batch.items.length >= policy.maxSize) this.#flush(batch);
    else this.#checkSoon();
  }

  #checkSoon(): void {
    if (this.#checkDue) return;
    this.#checkDue = true;
    setImmediate(this.#check);
  }

  /**
   * End of a turn: each open batch that did not grow in it goes, while interpreters are free;
   * one that grew is looked at again next turn (its `maxWaitMs` timer bounds that).
   */
  readonly #check = (): void => {
    this.#checkDue = false;
    for (const batch of [...this.#open.values()]) {
      if (batch.policy.maxWaitMs === 0 || batch.seen === batch.items.length || performance.now() - batch.openedAt >= batch.policy.maxWaitMs) {
        if (!this.#interpreterFree()) return; // slotFree() checks again when one frees
        this.#flush(batch);
      } else {
        batch.seen = batch.items.length;
        this.#checkSoon();
      }
    }
  };

  #flush(batch: OpenBatch): void {
    clearTimeout(batch.timer);
    this.#open.deleteIf(batch.module, batch.fn, batch);
    const items = batch.items.filter((item) => !item.settled);
    if (items.length === 0) return;
    for (const item of items) item.batch = undefined;
    // The merged call is killed only when its last caller's deadline passes.
    let timeout: number | undefined = 0;
    const now = performance.now();
    for (const item of items) {
      if (item.deadline === undefined) {
        timeout = undefined;
        break;
      }
      timeout = Math.max(timeout, Math.ceil(item.deadline - now));
    }
    // Traced calls are told what the merged call was told (its wait counts from their own call).
    const trace: BatchedCallTrace | undefined = items.some((item) => item.trace !== undefined) ? {} : undefined;
    const told = (item: Pending, error: unknown): void => {
      const timing = item.trace;
      if (timing === undefined || trace === undefined) return;
      timing.outcome = error === undefined ? 'ok' : outcomeOf(error, item.signal?.aborted === true);
      timing.waitMs = now - item.submittedAt + (trace.waitMs ?? 0);
      if (trace.runMs !== undefined) timing.runMs = trace.runMs;
      if (trace.worker !== undefined) timing.worker = trace.worker;
      if (trace.pid !== undefined) timing.pid = trace.pid;
    };
    this.#send(batch.module, batch.fn, items.map((item) => item.input), timeout === undefined ? undefined : Math.max(1, timeout), trace).then(
      (outputs) => {
        if (!Array.isArray(outputs) || outputs.length !== items.length) {
          const error = new TypeError(`the batch of ${items.length} calls to ${batch.module}.${batch.fn} came back with ${Array.isArray(outputs) ? outputs.length : typeof outputs} outputs`);
          for (const item of items) {
            if (!item.settled) told(item, error);
            this.#settle(item, false, error);
          }
          return;
        }
        items.forEach((item, i) => {
          if (!item.settled) told(item, undefined);
          this.#settle(item, true, outputs[i]);
        });
      },
      (error: unknown) => {
        const retryable = error instanceof WorkerExitedError && !(error instanceof HostLostError);
        for (const item of items) {
          if (item.settled) continue;
          if (retryable && item.retries > 0) {
            item.retries--;
            if (item.trace !== undefined) item.trace.retried = (item.trace.retried ?? 0) + 1;
            this.#join(batch.module, batch.fn, batch.policy, item);
          } else {
            told(item, error);
            this.#settle(item, false, error);
          }
        }
      },
    );
  }

  #cancel(item: Pending, error: unknown): void {
    if (item.settled) return;
    const batch = item.batch;
    if (batch !== undefined) {
      const at = batch.items.indexOf(item);
      if (at >= 0) batch.items.splice(at, 1);
      batch.seen = Math.min(batch.seen, batch.items.length);
      if (batch.items.length === 0) {
        clearTimeout(batch.timer);
        this.#open.deleteIf(batch.module, batch.fn, batch);
      }
      if (item.trace !== undefined) {
        item.trace.outcome = outcomeOf(error, item.signal?.aborted === true);
        item.trace.waitMs = performance.now() - item.submittedAt;
      }
    }
    this.#settle(item, false, error);
  }

  #settle(item: Pending, ok: boolean, value: unknown): void {
    if (item.settled) return;
    item.settled = true;
    clearTimeout(item.timer);
    if (item.onAbort) item.signal?.removeEventListener('abort', item.onAbort);
    if (ok) item.resolve(value);
    else item.reject(value);
  }
}

/**
 * `value` with the memory of its typed arrays and NdArrays copied (at any depth of arrays and
 * plain objects): what Python receives is the value as it was at `call()`, as for any call.
 */
export function snapshotArrays(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (ArrayBuffer.isView(value)) return value instanceof DataView ? value : (value as unknown as { slice(): unknown }).slice();
  if (value instanceof NdArray) return new NdArray(value.data.slice(), value.shape);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = snapshotArrays(value[i], depth + 1);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [k, item] of Object.entries(value)) {
    const next = snapshotArrays(item, depth + 1);
    if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[k] = next;
  }
  return copy ?? value;
}
