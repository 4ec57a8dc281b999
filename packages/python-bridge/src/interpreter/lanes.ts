/**
 * The lanes of one interpreter (PROTOCOL.md, "Lanes"): the REQ channels that carry its calls, each
 * one request at a time, and which of them are free.
 *
 * Lane 0 is the channel of the handshake (the worker's REP socket). With `concurrency: n`, n - 1
 * more connect to the worker's lanes socket once the handshake has named it. A lane is taken for
 * one call, batch or stream and given back when its last reply has come (or the interpreter is
 * gone): whoever takes lanes (the dispatcher, through `Interpreter`) holds at most `capacity`.
 */
import type { RequestChannel, RequestLabel } from './channel.js';

export class Lanes {
  readonly #channels: RequestChannel[];
  readonly #taken: boolean[];
  /** Free lanes, the last freed on top: the lane that served last is taken again first. */
  readonly #free: number[];

  constructor(first: RequestChannel) {
    this.#channels = [first];
    this.#taken = [false];
    this.#free = [0];
  }

  /** Adds a lane (after the handshake), free. */
  add(channel: RequestChannel): void {
    this.#channels.push(channel);
    this.#taken.push(false);
    this.#free.push(this.#channels.length - 1);
  }

  /** Lanes there are: calls that may run at once. */
  get capacity(): number {
    return this.#channels.length;
  }

  /** Lanes taken now. */
  get inFlight(): number {
    return this.#channels.length - this.#free.length;
  }

  /** The first lane, which the handshake and `stop` use. */
  get first(): RequestChannel {
    return this.#channels[0]!;
  }

  channel(lane: number): RequestChannel {
    return this.#channels[lane]!;
  }

  /** Takes a free lane, or undefined. */
  take(): number | undefined {
    const lane = this.#free.pop();
    if (lane !== undefined) this.#taken[lane] = true;
    return lane;
  }

  /** Gives a lane back; once only per take. */
  release(lane: number): void {
    if (!this.#taken[lane]) return;
    this.#taken[lane] = false;
    this.#free.push(lane);
  }

  /** The worker is gone: every lane's outstanding request settles (see `RequestChannel.fail`). */
  fail(makeError: (label: RequestLabel) => Error): void {
    for (const channel of this.#channels) channel.fail(makeError);
  }
}
