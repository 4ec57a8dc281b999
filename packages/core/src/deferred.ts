/** A promise with its settle functions exposed, for replies that arrive by message. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** A rejected promise that does not count as unhandled if the caller drops it (e.g. a cast). */
export function quietRejection<T>(error: unknown): Promise<T> {
  const p = Promise.reject<T>(error);
  p.catch(() => undefined);
  return p;
}
