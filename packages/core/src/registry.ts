import type { ChildId } from './child.js';
import { NoProcessError } from './errors.js';
import { quietRejection } from './deferred.js';

/**
 * What `system.whereis(name)` hands out: the ref of whatever runs under `name` when it is used,
 * plus three properties the handle answers itself, truthfully, whether or not anything runs:
 * `alive` (is a process registered under the name now), and the `id` and `path` of the process
 * registered under it (the last one, while none runs; `undefined` if none ever did).
 */
export type Registered<R> = unknown extends R
  ? unknown
  : Omit<R, 'alive' | 'id' | 'path'> & {
      readonly alive: boolean;
      readonly id: ChildId | undefined;
      readonly path: string | undefined;
    };

/** The key a handle answers with its name and current ref (for `exit`/`stop`). */
const handleTarget = Symbol('piton.registered');

/** A handle's name and the ref registered under it right now, or `undefined` for anything that is not a handle. */
export function currentRefOf(value: object): { readonly name: string; readonly current: unknown } | undefined {
  const target: unknown = Reflect.get(value, handleTarget);
  return typeof target === 'object' && target !== null ? (target as { name: string; current: unknown }) : undefined;
}

/**
 * Registered names. A name maps to the ref of the child currently running under it; the handle
 * `whereis` returns looks the name up on every use, so it stays valid across restarts.
 */
export class Registry {
  readonly #current = new Map<string, unknown>();
  /** The `id` and `path` of the ref registered last under each name, for handles while none runs. */
  readonly #last = new Map<string, { readonly id: unknown; readonly path: unknown }>();
  readonly #handles = new Map<string, unknown>();

  isTaken(name: string): boolean {
    return this.#current.has(name);
  }

  register(name: string, ref: unknown): void {
    this.#current.set(name, ref);
    if (typeof ref === 'object' && ref !== null) {
      this.#last.set(name, { id: Reflect.get(ref, 'id'), path: Reflect.get(ref, 'path') });
    }
  }

  /** Removes the name only if it still points at `ref` (a newer incarnation keeps it). */
  unregister(name: string, ref: unknown): void {
    if (this.#current.get(name) === ref) this.#current.delete(name);
  }

  current(name: string): unknown {
    return this.#current.get(name);
  }

  handle(name: string): unknown {
    let handle = this.#handles.get(name);
    if (handle === undefined) {
      handle = this.#makeHandle(name);
      this.#handles.set(name, handle);
    }
    return handle;
  }

  /**
   * A Proxy forwarding to whatever ref is current when a property is read or a method called.
   * `alive`, `id` and `path` are answered by the handle (see `Registered`). Methods resolve the
   * target at call time, so a method taken off the handle earlier still reaches the live
   * incarnation; while none runs they return a rejected NoProcessError promise.
   */
  #makeHandle(name: string): unknown {
    const lookup = (): object | undefined => {
      const ref = this.#current.get(name);
      return typeof ref === 'object' && ref !== null ? ref : undefined;
    };
    const alive = (): boolean => {
      const ref = lookup();
      // A ref that says it has exited is not alive, even before its supervisor unregistered it.
      return ref !== undefined && Reflect.get(ref, 'alive') !== false;
    };
    const methods = new Map<PropertyKey, (...args: unknown[]) => unknown>();
    return new Proxy(
      {},
      {
        get: (_target, prop) => {
          // Never look like a thenable: `await system.whereis(x)` must give the handle itself.
          if (prop === 'then') return undefined;
          if (prop === handleTarget) return { name, current: lookup() };
          if (prop === 'alive') return alive();
          const ref = lookup();
          if ((prop === 'id' || prop === 'path') && (ref === undefined || !alive())) return this.#last.get(name)?.[prop];
          const value = ref === undefined ? undefined : Reflect.get(ref, prop, ref);
          if (ref !== undefined && typeof value !== 'function') return value;
          // Nothing runs: symbols (util.inspect, Symbol.toPrimitive, …) are not methods of a process.
          if (ref === undefined && typeof prop === 'symbol') return undefined;
          let method = methods.get(prop);
          if (method === undefined) {
            method = (...args: unknown[]) => {
              const now = lookup();
              const fn = now === undefined ? undefined : Reflect.get(now, prop, now);
              if (typeof fn !== 'function') return quietRejection(new NoProcessError(`registered name ${JSON.stringify(name)}`));
              return Reflect.apply(fn, now, args);
            };
            methods.set(prop, method);
          }
          return method;
        },
        has: (_target, prop) => {
          if (prop === 'alive' || prop === 'id' || prop === 'path') return true;
          const ref = lookup();
          return ref !== undefined && prop in ref;
        },
      },
    );
  }
}
