import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Nact from 'nact';

// nact is CommonJS and builds its exports with object spread, which Node's ESM named-export
// detection cannot see; requiring it gives the real module object.
const nact = createRequire(import.meta.url)('nact') as typeof Nact;

/** A nact reference that actors can be spawned under (the system root or an actor). */
export type ActorParent = Nact.Ref<unknown>;

/** A message handler run one message at a time; it must not throw (errors are the caller's job). */
export type Handler<M> = (msg: M) => Promise<void>;

/**
 * A nact actor used as a mailbox: messages are handled strictly one after another, each
 * awaited before the next starts. Everything OTP-specific lives above this.
 */
export class Mailbox<M> {
  readonly ref: Nact.Ref<M>;
  #stopped = false;

  constructor(parent: ActorParent, name: string, handler: Handler<M>) {
    this.ref = nact.spawn(
      parent,
      async (state: undefined, msg: M) => {
        if (!this.#stopped) await handler(msg);
        return state;
      },
      actorName(name),
    );
  }

  send(msg: M): void {
    if (!this.#stopped) nact.dispatch(this.ref, msg);
  }

  /** Drops whatever is still queued; later sends are ignored. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    nact.stop(this.ref);
  }
}

let actorCounter = 0;

// nact names allow only RFC 1738 characters and must be unique among siblings; a counter suffix
// keeps a restarted child's new actor from clashing with the old one's name.
function actorName(name: string): string {
  actorCounter += 1;
  const safe = name.replace(/[^a-z0-9\-$_.+!*'(),]/gi, '_').slice(0, 64) || 'actor';
  return `${safe}.${actorCounter}`;
}

/**
 * This copy of the module, among any others loaded in the process: two versions of the package
 * (or two builds of it, as a benchmark against another revision loads) each count from 1, and
 * share nact if it resolves to one file; a name that clashed would make one's system the other's.
 */
const COPY = randomBytes(4).toString('hex');

export function startNactSystem(name: string): ActorParent {
  // nact keys systems by name in a process-wide map, so each system gets a unique one.
  actorCounter += 1;
  return nact.start({ name: `${name.replace(/[^a-z0-9\-_]/gi, '_')}-${process.pid}-${COPY}-${actorCounter}` } as unknown as string);
}

export function stopNactSystem(ref: ActorParent): void {
  nact.stop(ref);
}
