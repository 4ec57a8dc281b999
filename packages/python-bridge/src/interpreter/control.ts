/**
 * The control lane of one interpreter (PROTOCOL.md, "Cancelling"): a REQ channel to the socket the
 * worker answers from a thread of its own, on which Node cancels the requests it gave up on.
 *
 * It is lock-step like any lane: while one `cancel` is outstanding, the cancels asked for meanwhile
 * wait and then go together in the next one, so that many calls timing out at once cost a few
 * round trips, not one each.
 */
import { Expect, RequestChannel } from './channel.js';
import { encodeCancel, type CancelStatus } from '../wire/protocol.js';

interface Pending {
  lane: number;
  request: number;
  resolve: (status: CancelStatus) => void;
  reject: (error: unknown) => void;
}

export class ControlLane {
  readonly #channel: RequestChannel;
  #waiting: Pending[] = [];
  #sending = false;

  constructor(channel: RequestChannel) {
    this.#channel = channel;
  }

  /**
   * Cancels request `request` of lane `lane`: resolves with what the worker says of it
   * (`cancelled`: its task was cancelled, or it had not arrived and will not run, and its reply
   * follows on its lane; `blocked`: it runs sync code, which only a kill ends; `done`: it has
   * replied already). Rejects if the worker is gone or breaks the protocol.
   */
  cancel(lane: number, request: number): Promise<CancelStatus> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ lane, request, resolve, reject });
      if (!this.#sending) this.#send();
    });
  }

  #send(): void {
    const batch = this.#waiting;
    if (batch.length === 0) return;
    this.#waiting = [];
    this.#sending = true;
    const entries = batch.map((p) => [p.lane, p.request] as const);
    this.#channel
      .request<CancelStatus[]>((codec, id) => encodeCancel(codec, id, entries), Expect.Cancelled, '')
      .then(
        (statuses) => {
          batch.forEach((p, i) => {
            const status = statuses[i];
            if (status === undefined) p.reject(new Error(`the control lane answered ${statuses.length} of ${batch.length} cancels`));
            else p.resolve(status);
          });
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        this.#sending = false;
        this.#send();
      });
  }
}
