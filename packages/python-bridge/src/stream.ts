/**
 * The async iterator of a Python iterable (`Interpreter.stream`), pulled `batch` items per round
 * trip as they are consumed. It sees its interpreter only through a {@link StreamPort}.
 */
import { WorkerExitedError } from './errors.js';

export interface StreamOptions {
  /** Items fetched per round trip: the generator runs at most this far ahead. Default 1. */
  batch?: number;
}

/** The narrow view of an interpreter a stream needs. */
export interface StreamPort {
  open(module: string, fn: string, args: unknown[], kwargs: Record<string, unknown> | undefined, batch: number): Promise<ItemsReply>;
  next(batch: number, module: string, fn: string): Promise<ItemsReply>;
  close(module: string, fn: string): Promise<void>;
  /** The stream is over: the interpreter is no longer busy because of it. */
  end(): void;
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
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly port: StreamPort,
    private readonly module: string,
    private readonly fn: string,
    private readonly args: unknown[],
    private readonly kwargs: Record<string, unknown> | undefined,
    private readonly batch: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    return this.#serial(() => this.#next());
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
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #next(): Promise<IteratorResult<unknown>> {
    if (this.#index < this.#buffer.length) return { done: false, value: this.#buffer[this.#index++] };
    if (this.#state === 'ended' || this.#exhausted) {
      this.#end();
      return DONE;
    }
    let reply: ItemsReply;
    try {
      reply =
        this.#state === 'unopened'
          ? await this.port.open(this.module, this.fn, this.args, this.kwargs, this.batch)
          : await this.port.next(this.batch, this.module, this.fn);
    } catch (error) {
      // An error reply means Python closed the iterator; an exit or a refused request ends it too.
      this.#end();
      throw error;
    }
    this.#state = 'open';
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
      try {
        await this.port.close(this.module, this.fn);
      } catch (error) {
        // The interpreter died meanwhile: nothing is left to close.
        if (!(error instanceof WorkerExitedError)) {
          this.#end();
          throw error;
        }
      }
    }
    this.#end();
    return DONE;
  }

  #end(): void {
    this.#state = 'ended';
    this.#release();
  }

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
