import { expect } from 'chai';
import { rejection, until } from '../../../test/support.js';
import {
  ActorSystem,
  SupervisorError,
  worker,
  type ChildRef,
  type ExitReason,
  type StartFn,
  type SupervisorEvent,
  type SupervisorRef,
} from '../src/index.js';

/** Records every event of a system and lets tests wait for one, past or future. */
export class EventLog {
  readonly events: SupervisorEvent[] = [];
  readonly #waiters: { pred: (e: SupervisorEvent) => boolean; resolve: (e: SupervisorEvent) => void }[] = [];

  constructor(system: ActorSystem) {
    system.events.on('event', (e) => {
      this.events.push(e);
      for (const w of [...this.#waiters]) {
        if (w.pred(e)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    });
  }

  /** The `n`th (1-based) event matching `pred`, waiting for it if it has not happened yet. */
  waitFor<E extends SupervisorEvent = SupervisorEvent>(pred: (e: SupervisorEvent) => boolean, n = 1, timeoutMs = 5_000): Promise<E> {
    const seen = this.events.filter(pred);
    if (seen.length >= n) return Promise.resolve(seen[n - 1] as E);
    let remaining = n - seen.length;
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for event #${n}; saw: ${this.summary().join(', ')}`));
      }, timeoutMs);
      const waiter = {
        pred: (e: SupervisorEvent) => pred(e) && --remaining === 0,
        resolve: (e: SupervisorEvent) => {
          clearTimeout(timer);
          resolve(e as E);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  count(pred: (e: SupervisorEvent) => boolean): number {
    return this.events.filter(pred).length;
  }

  /** `type:id` of each event, in order, optionally filtered to some types. */
  summary(types?: SupervisorEvent['type'][]): string[] {
    return this.events.filter((e) => !types || types.includes(e.type)).map((e) => `${e.type}:${e.id ?? e.path}`);
  }
}

export const is = (type: SupervisorEvent['type'], id?: string) => (e: SupervisorEvent) => e.type === type && (id === undefined || e.id === id);

export type ProbeCall = 'ping' | 'inits' | { crash: string } | { exit: ExitReason } | { sleep: Promise<void> };
export type ProbeCast = { crash: string } | { exit: ExitReason };

/**
 * A worker that logs `init:<tag>` and `terminate:<tag>` to `log`; calls: 'ping' → 'pong',
 * { crash } throws, { exit } calls ctx.exit. `initFails` makes init throw while it returns true.
 */
export function probe(
  log: string[],
  tag: string,
  opts: { initFails?: () => boolean; terminate?: (reason: ExitReason) => Promise<void> } = {},
): StartFn<ChildRef<ProbeCall, unknown, ProbeCast>> {
  return worker<number, ProbeCall, unknown, ProbeCast>({
    init: () => {
      if (opts.initFails?.()) {
        log.push(`init-failed:${tag}`);
        throw new Error(`${tag} cannot start`);
      }
      log.push(`init:${tag}`);
      return 0;
    },
    handleCall: async (msg, state, ctx) => {
      if (msg === 'ping') return { reply: 'pong', state };
      if (msg === 'inits') return { reply: state, state };
      if ('crash' in msg) throw new Error(msg.crash);
      if ('exit' in msg) {
        ctx.exit(msg.exit);
        return { reply: 'exiting', state };
      }
      await msg.sleep;
      return { reply: 'slept', state };
    },
    handleCast: (msg, state, ctx) => {
      if ('crash' in msg) throw new Error(msg.crash);
      ctx.exit(msg.exit);
      return state;
    },
    terminate: async (reason) => {
      log.push(`terminate:${tag}`);
      await opts.terminate?.(reason);
    },
  });
}

// Waiting for a state no event announces, and the error of a promise expected to reject: the tests' shared support.
export { until, rejection };

/** The OTP code of the `SupervisorError` that `p` rejects with (fails on any other outcome). */
export async function supervisorCode(p: Promise<unknown>): Promise<string> {
  const err = await rejection(p);
  expect(err).to.be.instanceOf(SupervisorError);
  return (err as SupervisorError).code;
}

/** Makes the probe child `id` of `root` crash through a call, and waits for the call's rejection. */
export async function crashChild(root: SupervisorRef, id = 'w'): Promise<void> {
  const child = await root.child<ChildRef<ProbeCall>>(id);
  await rejection(child.call({ crash: 'boom' }));
}
