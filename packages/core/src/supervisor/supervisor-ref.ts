import type { ChildId } from '../child.js';
import type { ChildSpec } from './child-spec.js';
import type { ChildInspection } from '../tree.js';
import type { ChildCounts, ChildInfo, Supervisor } from './supervisor.js';

/**
 * The handle to a running supervisor: OTP's dynamic supervisor API. Every method runs inside
 * the supervisor's mailbox, in turn with child exits. Errors: `SupervisorError` with OTP's
 * `code`, `StartChildError` when a child's start fails, `NoProcessError` if the supervisor is gone.
 * `Extra` types the extra arguments of a simple_one_for_one supervisor's `startChild`.
 */
export class SupervisorRef<Extra extends readonly unknown[] = unknown[]> {
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
   * Adds and starts a child. Resolves with its ref, or `undefined` if its start returned `IGNORE`
   * (the spec is kept unless temporary; a simple_one_for_one child leaves nothing). `already_started`
   * if the id runs, `already_present` if it exists and is not running (stopped, ignored or restarting).
   * For simple_one_for_one pass the extra args appended to the template's.
   */
  startChild<R = unknown>(
    ...args: [] extends Extra ? [specOrExtraArgs?: ChildSpec<R> | Readonly<Extra>] : [specOrExtraArgs: ChildSpec<R> | Readonly<Extra>]
  ): Promise<R> {
    const specOrExtraArgs: unknown = args[0] ?? [];
    return this.#sup.request(() => this.#sup.api.startChild(specOrExtraArgs)) as Promise<R>;
  }

  /**
   * Stops a child by its shutdown (a pending restart is cancelled); its spec stays unless temporary
   * or dynamic. By ref for simple_one_for_one: a restarting child answers to the ref of the
   * incarnation that exited, and a ref that has already exited is fine (OTP: a dead pid is `ok`).
   */
  terminateChild(idOrRef: ChildId | object): Promise<void> {
    return this.#sup.request(() => this.#sup.api.terminateChild(idOrRef));
  }

  /** Starts a stopped child again from its spec; `undefined` if its start ignored. `running`, `restarting`, `not_found`. */
  restartChild<R = unknown>(id: ChildId): Promise<R> {
    return this.#sup.request(() => this.#sup.api.restartChild(id)) as Promise<R>;
  }

  /** Forgets a stopped child's spec; `running`, `restarting`, `not_found`. */
  deleteChild(id: ChildId): Promise<void> {
    return this.#sup.request(() => this.#sup.api.deleteChild(id));
  }

  /** The child's spec with defaults filled in (by ref for simple_one_for_one). */
  getChildSpec(idOrRef: ChildId | object): Promise<ChildSpec> {
    return this.#sup.request(() => this.#sup.api.getChildSpec(idOrRef));
  }

  /** Children in start order. */
  whichChildren(): Promise<ChildInfo[]> {
    return this.#sup.request(() => this.#sup.api.whichChildren());
  }

  /** One child's row, as in `whichChildren()` (OTP 26's `which_child`); by ref for simple_one_for_one. `not_found`. */
  whichChild(idOrRef: ChildId | object): Promise<ChildInfo> {
    return this.#sup.request(() => this.#sup.api.whichChild(idOrRef));
  }

  countChildren(): Promise<ChildCounts> {
    return this.#sup.request(() => this.#sup.api.countChildren());
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
    return this.#sup.request(() => this.#sup.api.child(id)) as Promise<R>;
  }
}
