import { NoProcessError } from './errors.js';
import { quietRejection } from './deferred.js';

/**
 * Registered names. A name maps to the ref of the child currently running under it; the handle
 * `whereis` returns looks the name up on every use, so it stays valid across restarts.
 */
export class Registry {
  readonly #current = new Map<string, unknown>();
  readonly #handles = new Map<string, unknown>();

  isTaken(name: string): boolean {
    return this.#current.has(name);
  }

  register(name: string, ref: unknown): void {
    this.#current.set(name, ref);
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
   * Methods resolve the target at call time, so a method taken off the handle earlier still
   * reaches the live incarnation; while none runs they return a rejected NoProcessError promise.
   */
  #makeHandle(name: string): unknown {
    const lookup = (): object | undefined => {
      const ref = this.#current.get(name);
      return typeof ref === 'object' && ref !== null ? ref : undefined;
    };
    const methods = new Map<PropertyKey, (...args: unknown[]) => unknown>();
    return new Proxy(
      {},
      {
        get: (_target, prop) => {
          // Never look like a thenable: `await system.whereis(x)` must give the handle itself.
          if (prop === 'then') return undefined;
          const ref = lookup();
          const value = ref === undefined ? undefined : Reflect.get(ref, prop, ref);
          if (ref !== undefined && typeof value !== 'function') return value;
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
          const ref = lookup();
          return ref !== undefined && prop in ref;
        },
      },
    );
  }
}
