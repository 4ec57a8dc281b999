import type { ChildId } from '../child.js';
import type { ChildSpec } from './child-spec.js';
import type { ChildInspection } from '../tree.js';
import type { ChildCounts, ChildInfo, Supervisor } from './supervisor.js';

/**
 * The handle to a running supervisor: OTP's dynamic supervisor API. Every method runs inside
 * the supervisor's mailbox, in turn with child exits. Errors: `SupervisorError` with OTP's
 * `code`, `StartChildError` when a child's start fails, `NoProcessError` if the supervisor is gone.
 */
export class SupervisorRef {
  readonly #sup: Supervisor;
  readonly id: ChildId;
  readonly path: string;

  constructor(sup: Supervisor, id: ChildId, path: string) {
    this.#sup = sup;
    this.id = id;
    this.path = path;
  }

  /** False once this incarnation has exited. */
  get alive(): boolean {
    return this.#sup.alive;
  }

  /**
   * Adds and starts a child. Resolves with its ref. `already_started` / `already_present` if the
   * id exists. For simple_one_for_one pass the extra args appended to the template's.
   */
  startChild<R = unknown>(specOrExtraArgs: ChildSpec | readonly unknown[] = []): Promise<R> {
    return this.#sup.request(() => this.#sup.startChild(specOrExtraArgs)) as Promise<R>;
  }

  /** Stops a child by its shutdown; its spec stays (unless temporary or dynamic). By ref for simple_one_for_one. */
  terminateChild(idOrRef: ChildId | object): Promise<void> {
    return this.#sup.request(() => this.#sup.terminateChild(idOrRef));
  }

  /** Starts a stopped child again from its spec; `running`, `restarting`, `not_found`. */
  restartChild<R = unknown>(id: ChildId): Promise<R> {
    return this.#sup.request(() => this.#sup.restartChild(id)) as Promise<R>;
  }

  /** Forgets a stopped child's spec; `running`, `restarting`, `not_found`. */
  deleteChild(id: ChildId): Promise<void> {
    return this.#sup.request(() => this.#sup.deleteChild(id));
  }

  /** The child's spec with defaults filled in (by ref for simple_one_for_one). */
  getChildSpec(idOrRef: ChildId | object): Promise<ChildSpec> {
    return this.#sup.request(() => this.#sup.getChildSpec(idOrRef));
  }

  /** Children in start order. */
  whichChildren(): Promise<ChildInfo[]> {
    return this.#sup.request(() => this.#sup.whichChildren());
  }

  countChildren(): Promise<ChildCounts> {
    return this.#sup.request(() => this.#sup.countChildren());
  }

  /**
   * This supervisor's flags and its subtree (see `system.tree()`): each child with its status,
   * restarts and, recursively, what it says of itself. `NoProcessError` if the supervisor is gone.
   */
  inspect(): Promise<ChildInspection> {
    return this.#sup.inspect();
  }

  /** The running child's ref; `not_found` for an unknown id, `NoProcessError` if it is not running. */
  child<R = unknown>(id: ChildId): Promise<R> {
    return this.#sup.request(() => this.#sup.child(id)) as Promise<R>;
  }
}
