import { Deferred } from './deferred.js';
import { setLongTimeout, type LongTimeout } from './long-timeout.js';

declare const fromBrand: unique symbol;

/**
 * Who is waiting for a call's reply (OTP's `gen_server:from()`): `handleCall` receives it, and a
 * handler that returned `{ noreply: state }` answers later with `ctx.reply(from, value)`.
 */
export interface From<Reply = unknown> {
  readonly [fromBrand]: Reply;
}

/**
 * A caller waiting for a reply; settles once, whichever of reply, timeout or exit comes first.
 * `onSettled` lets the worker forget it, however it settled.
 */
export class PendingCall<Reply> {
  readonly #deferred = new Deferred<Reply>();
  readonly #onSettled: (call: PendingCall<Reply>) => void;
  #timer: LongTimeout | undefined;
  #settled = false;
  readonly promise = this.#deferred.promise;

  constructor(timeout: number | 'infinity', onTimeout: () => Error, onSettled: (call: PendingCall<Reply>) => void) {
    this.#onSettled = onSettled;
    // Chained timers: a timeout past Node's 2^31 − 1 ms limit waits as long as it says.
    if (timeout !== 'infinity' && timeout !== Infinity) this.#timer = setLongTimeout(() => this.reject(onTimeout()), timeout);
  }

  /** The opaque handle `handleCall` receives. */
  static from<Reply>(call: PendingCall<Reply>): From<Reply> {
    return call as unknown as From<Reply>;
  }

  /** The call behind a `From`; a TypeError for anything else. */
  static of<Reply>(from: From<Reply>): PendingCall<Reply> {
    const call: unknown = from;
    if (!(call instanceof PendingCall)) throw new TypeError('ctx.reply(from, value): `from` must be the one handleCall received');
    return call as PendingCall<Reply>;
  }

  get settled(): boolean {
    return this.#settled;
  }

  resolve(value: Reply): void {
    if (this.#settle()) this.#deferred.resolve(value);
  }

  reject(error: unknown): void {
    if (this.#settle()) this.#deferred.reject(error);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#timer?.clear();
    this.#onSettled(this);
    return true;
  }
}
