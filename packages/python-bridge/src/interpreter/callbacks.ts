/**
 * Python calling back into Node: the functions a pool exposes (`expose`), the per-call context
 * (progress listener, the pools the caller is already inside), and the rule that keeps a callback
 * from deadlocking its own pool.
 *
 * The rule: while a pool's exposed function runs, that pool refuses calls and streams made from
 * it (and from anything it starts, awaited or not) with {@link ReentrantCallError}. Such a call
 * would wait for an interpreter of the pool, and the interpreter running the callback's call
 * waits for the callback: on a pool of 1 always, on any pool once every interpreter runs such a
 * call, that is a deadlock that no timeout short of the call's own would break. Refusing always,
 * not only when no interpreter is idle, keeps the behaviour the same under load as in a test.
 * The pools a callback is inside are followed across pools: Python in pool A calls back, the
 * function calls pool B, B's Python calls back, and that function calling A is refused too.
 * Not seen: two unrelated calls whose callbacks each call the other's pool (A's waits for B, B's
 * for A); only timeouts break that cycle, and the README says so.
 */
import { AsyncLocalStorage, type AsyncResource } from 'node:async_hooks';
import { ReentrantCallError } from '../errors.js';
import type { ThrownError } from '../wire/protocol.js';

/** A Node function Python may call: any arguments, any (awaited) result of a sendable type. */
export type ExposedFunction = (...args: never[]) => unknown;

/** What one request's worker may ask of Node while it answers it (see the channel). */
export interface Conversation {
  /** Runs an exposed function; its value (or error) is sent back to Python. */
  callback?(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined): Promise<unknown>;
  /** Python reported progress. A listener that throws makes the request reject with it, once answered. */
  progress?(value: unknown): void;
}

/** What a call carries besides its arguments. */
export interface CallContext {
  /** Receives each `progress(value)` of the call, in order, before the call settles. */
  onProgress?: (value: unknown) => void;
  /** The pools whose exposed functions the caller runs inside (captured when the call was made). */
  scope?: ReadonlySet<object>;
  /** The caller's async context, in which the Node functions Python calls back run (so its trace context, its AsyncLocalStorage values reach them). */
  resource?: AsyncResource;
  /** A tracer's hooks for the call (ops/tracing.ts). */
  trace?: { runInContext?: <T>(fn: () => T) => T; onEvent?: (event: { kind: 'progress'; value: unknown } | { kind: 'callback'; name: string }) => void };
}

/** The pools whose exposed functions run in the current async context. */
const inside = new AsyncLocalStorage<ReadonlySet<object>>();

/** The pools the code running now is inside of (callbacks), to carry with a call it makes. */
export function currentScope(): ReadonlySet<object> | undefined {
  return inside.getStore();
}

/** The exposed functions of one pool. `owner` identifies the pool for the reentrancy rule. */
export class ExposedFunctions {
  readonly names: readonly string[];
  readonly #functions: ReadonlyMap<string, ExposedFunction>;
  readonly #owner: object;
  readonly #poolName: string;

  constructor(functions: Readonly<Record<string, ExposedFunction>>, owner: object, poolName = 'the pool') {
    this.#functions = new Map(Object.entries(functions));
    this.names = [...this.#functions.keys()];
    this.#owner = owner;
    this.#poolName = poolName;
  }

  /**
   * The error for a call or stream made to this pool from inside one of its own callbacks, or
   * undefined if the caller is not inside one.
   */
  reentry(what: string): ReentrantCallError | undefined {
    if (!inside.getStore()?.has(this.#owner)) return undefined;
    return new ReentrantCallError(
      `${what} was made to ${this.#poolName} from inside a function it exposes to Python, which its ` +
        `interpreter is waiting for: it could wait for that interpreter forever, so it is refused. ` +
        `Return what Python needs and let Python make the call, or use another pool`,
    );
  }

  /**
   * Runs `name` with Python's arguments (`kwargs`, if any, as one more, last argument), inside
   * this pool's callback scope on top of the caller's. Rejects if `name` is not exposed (Python
   * checks first, so only a worker that breaks the protocol gets there).
   */
  run(name: string, args: unknown[], kwargs: Record<string, unknown> | undefined, callerScope?: ReadonlySet<object>): Promise<unknown> {
    const fn = this.#functions.get(name);
    if (fn === undefined) return Promise.reject(new ReferenceError(`no Node function named ${JSON.stringify(name)} is exposed to Python`));
    const scope = new Set(callerScope);
    scope.add(this.#owner);
    const all = (kwargs === undefined ? args : [...args, kwargs]) as never[];
    return inside.run(scope, async () => fn(...all));
  }
}

/** What Python is told of an error an exposed function threw (anything may be thrown). */
export function thrownOf(error: unknown): ThrownError {
  if (error instanceof Error) {
    return { name: String(error.name), message: String(error.message), stack: typeof error.stack === 'string' ? error.stack : '' };
  }
  let message: string;
  try {
    message = String(error);
  } catch {
    message = Object.prototype.toString.call(error);
  }
  return { name: 'Error', message: `a non-Error value was thrown: ${message}`, stack: '' };
}
