/**
 * The async iterator of a Python iterable (`Interpreter.stream`), pulled `batch` items per round
 * trip as they are consumed. It sees its interpreter only through a {@link StreamPort}.
 */
import { setLongTimeout, type LongTimeout } from '@piton/core';
import { CallTimeoutError, InterpreterExitedError } from '../errors.js';
import type { CallOptionsItem } from '../wire/call-options.js';

export interface StreamOptions {
  /** Items fetched per round trip: the generator runs at most this far ahead. Default 1. */
  batch?: number;
  /**
   * Aborting ends the stream: a pull in flight rejects at once with the signal's reason and is
   * cancelled (its interpreter is killed if it cannot be); between pulls the generator is closed.
   */
  signal?: AbortSignal;
  /**
   * ms the stream may stay open without being pulled; then the generator is closed, the
   * interpreter freed, and the next pull rejects with `CallTimeoutError`. Undefined: no limit.
   */
  idleTimeout?: number;
  /**
   * Called once the stream has given its interpreter's lane back, however it ended (exhausted,
   * closed, failed, aborted, idle too long; at once if it was refused): whoever lent the
   * interpreter takes it back, even if the iterator's consumer never comes back to see the end.
   */
  onEnd?: () => void;
  /** The stream's options item (its trace context and values), sent when it is opened. */
  callOptions?: CallOptionsItem;
  /** Told of each batch of items received. */
  onItems?: (count: number, done: boolean) => void;
}

/** The narrow view of an interpreter a stream needs. */
export interface StreamPort {
  open(module: string, fn: string, args: unknown[], kwargs: Record<string, unknown> | undefined, batch: number, options?: CallOptionsItem): Promise<ItemsReply>;
  next(batch: number, module: string, fn: string): Promise<ItemsReply>;
  close(module: string, fn: string): Promise<void>;
  /** Python is done with the stream: its lane is given back (once a request in flight on it has its reply). */
  end(): void;
  /** The consumer is done with the stream (it saw its end, or it was ended for it). */
  finish(): void;
  /** A request is in flight and will not be waited for: it is cancelled (or the interpreter killed). */
  abort(): void;
}

export type ItemsReply = { items: unknown[]; done: boolean };

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/** The async iterator of `Interpreter.stream`. Calls to next()/return() are served one at a time. */
export class PythonStream implements AsyncIterableIterator<unknown> {
  #state: 'unopened' | 'open' | 'ended' = 'unopened';
  #buffer: unknown[] = [];
  #index = 0;
  /** Python reported the iterator exhausted (it closed it itself). */
  #exhausted = false;
  /** port.end() was called: it must happen once, or it could free a later stream's interpreter. */
  #released = false;
  /** The stream is over for its consumer (it has seen the end, or the stream was ended for it). */
  #finished = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** A request (`stream`, `next` or `close`) is in flight. */
  #inflight = false;
  /** Why the stream was ended from outside (abort, idle timeout): what every later pull rejects with. */
  #endedWith: unknown;
  /** Rejects with `#endedWith` once set, so that a pull in flight does not wait for its reply. */
  #ended: Promise<never>;
  #rejectEnded!: (reason: unknown) => void;
  #idleTimer: LongTimeout | undefined;
  readonly #options: StreamOptions;
  readonly #onAbort: (() => void) | undefined;

  constructor(
    private readonly port: StreamPort,
    private readonly module: string,
    private readonly fn: string,
    private readonly args: unknown[],
    private readonly kwargs: Record<string, unknown> | undefined,
    private readonly batch: number,
    options: StreamOptions = {},
  ) {
    this.#options = options;
    this.#ended = new Promise<never>((_resolve, reject) => {
      this.#rejectEnded = reject;
    });
    this.#ended.catch(() => undefined);
    const { signal } = options;
    if (signal) {
      this.#onAbort = () => this.#endFromOutside(signal.reason);
      if (signal.aborted) this.#onAbort();
      else signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#endedWith !== undefined) return this.#serial(() => this.#next());
    // Ended from outside while in flight: the caller hears of it at once, not at the reply.
    return Promise.race([this.#serial(() => this.#next()), this.#ended]);
  }

  return(): Promise<IteratorResult<unknown>> {
    return this.#serial(() => this.#close());
  }

  throw(error?: unknown): Promise<IteratorResult<unknown>> {
    return this.#serial(async () => {
      await this.#close();
      throw error;
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(() => {
      this.#idleTimer?.clear();
      this.#idleTimer = undefined;
      return op();
    });
    this.#queue = result.then(
      () => this.#armIdle(),
      () => this.#armIdle(),
    );
    return result;
  }

  /** Between pulls of a stream still open, the idle timeout runs. */
  #armIdle(): void {
    const ms = this.#options.idleTimeout;
    if (ms === undefined || this.#finished) return;
    this.#idleTimer = setLongTimeout(
      () => this.#endFromOutside(new CallTimeoutError(ms, `the stream of ${this.module}.${this.fn} was not pulled for ${ms} ms (idleTimeout) and was closed`)),
      ms,
      { unref: true },
    );
  }

  /**
   * Abort or idle timeout: every later pull rejects with `reason`. A request in flight is not
   * waited for (the interpreter is killed); otherwise an open generator is closed in turn.
   */
  #endFromOutside(reason: unknown): void {
    if (this.#endedWith !== undefined || this.#finished) return;
    this.#endedWith = reason;
    this.#rejectEnded(reason);
    this.#idleTimer?.clear();
    if (this.#inflight) {
      this.#state = 'ended';
      this.port.abort();
      this.#end();
    } else {
      void this.#serial(() => this.#close()).catch(() => undefined);
    }
  }

  async #next(): Promise<IteratorResult<unknown>> {
    if (this.#endedWith !== undefined) {
      if (this.#state !== 'ended') await this.#close().catch(() => undefined);
      throw this.#endedWith;
    }
    if (this.#index < this.#buffer.length) return { done: false, value: this.#buffer[this.#index++] };
    if (this.#state === 'ended' || this.#exhausted) {
      this.#end();
      return DONE;
    }
    let reply: ItemsReply;
    this.#inflight = true;
    try {
      reply =
        this.#state === 'unopened'
          ? await this.port.open(this.module, this.fn, this.args, this.kwargs, this.batch, this.#options.callOptions)
          : await this.port.next(this.batch, this.module, this.fn);
    } catch (error) {
      // An error reply means Python closed the iterator; an exit or a refused request ends it too.
      this.#end();
      throw this.#endedWith ?? error;
    } finally {
      this.#inflight = false;
    }
    if (this.#endedWith !== undefined) throw this.#endedWith;
    this.#state = 'open';
    this.#options.onItems?.(reply.items.length, reply.done);
    this.#buffer = reply.items;
    this.#index = 0;
    if (reply.done) {
      this.#exhausted = true;
      // The interpreter is free as soon as Python has closed the iterator; buffered items remain readable.
      this.#release();
    }
    if (this.#index < this.#buffer.length) return { done: false, value: this.#buffer[this.#index++] };
    this.#end();
    return DONE;
  }

  async #close(): Promise<IteratorResult<unknown>> {
    const mustClose = this.#state === 'open' && !this.#exhausted;
    this.#buffer = [];
    this.#index = 0;
    if (mustClose) {
      this.#state = 'ended';
      this.#inflight = true;
      try {
        await this.port.close(this.module, this.fn);
      } catch (error) {
        // The interpreter died meanwhile: nothing is left to close.
        if (!(error instanceof InterpreterExitedError)) {
          this.#end();
          throw error;
        }
      } finally {
        this.#inflight = false;
      }
    }
    this.#end();
    return DONE;
  }

  /** The stream is over for its consumer too (and, ended from outside, its lender hears of it). */
  #end(): void {
    this.#state = 'ended';
    this.#release();
    if (this.#finished) return;
    this.#finished = true;
    this.port.finish();
    this.#idleTimer?.clear();
    if (this.#onAbort) this.#options.signal?.removeEventListener('abort', this.#onAbort);
  }

  /** Python has closed the iterator: the interpreter is no longer busy because of this stream. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.port.end();
  }
}

export function failedIterator(error: Error): AsyncIterableIterator<unknown> {
  let failed = false;
  const iterator: AsyncIterableIterator<unknown> = {
    [Symbol.asyncIterator]: () => iterator,
    next: () => {
      if (failed) return Promise.resolve(DONE);
      failed = true;
      return Promise.reject(error);
    },
    return: () => Promise.resolve(DONE),
  };
  return iterator;
}
