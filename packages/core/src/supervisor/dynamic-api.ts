import { describeValue } from '../describe-value.js';
import { InvalidSpecError, NoProcessError, SupervisorError } from '../errors.js';
import { childInfo, countChildren, findById, findByRef, type ChildCounts, type ChildInfo, type ChildRecord } from './child-record.js';
import { resolveChildSpec, type ChildSpec, type ResolvedChildSpec } from './child-spec.js';
import type { ResolvedFlags } from './flags.js';

/** What the dynamic API needs from its supervisor; every call runs inside the supervisor's mailbox. */
export interface DynamicHost {
  readonly path: string;
  readonly flags: ResolvedFlags;
  /** The children in start order. */
  children(): readonly ChildRecord[];
  add(record: ChildRecord): void;
  remove(record: ChildRecord): void;
  newRecord(spec: ResolvedChildSpec, extraArgs?: readonly unknown[]): ChildRecord;
  /** Starts `record`; rejects with `StartChildError`. `'ignored'` when its start returned `IGNORE`. */
  start(record: ChildRecord): Promise<'started' | 'ignored'>;
  /** Stops `record`'s incarnation (if any) by its shutdown; its status becomes `'undefined'`. */
  stop(record: ChildRecord): Promise<void>;
  /** Whether `ref` was ever the ref of one of this supervisor's children. */
  wasChild(ref: unknown): boolean;
}

/**
 * The bodies of OTP's dynamic supervisor API (`handle_call` clauses), rejecting with
 * `SupervisorError` and OTP's codes. `SupervisorRef` runs each inside the mailbox.
 */
export class DynamicApi {
  readonly #host: DynamicHost;

  constructor(host: DynamicHost) {
    this.#host = host;
  }

  get #dynamic(): boolean {
    return this.#host.flags.strategy === 'simple_one_for_one';
  }

  /** OTP's `handle_start_child`. Resolves with the child's ref, or undefined if its start ignored. */
  async startChild(specOrArgs: unknown): Promise<unknown> {
    const host = this.#host;
    if (this.#dynamic) {
      const args = specOrArgs === undefined ? [] : specOrArgs;
      if (!Array.isArray(args)) throw new InvalidSpecError('extraArgs', args, 'an array of extra arguments for the template');
      const record = host.newRecord(host.flags.children[0]!, args);
      if ((await host.start(record)) === 'ignored') return undefined; // nothing is stored
      host.add(record);
      return record.started?.ref;
    }
    const spec = resolveChildSpec(specOrArgs, 'spec', host.flags.autoShutdown);
    const existing = findById(host.children(), spec.id);
    if (existing) {
      // A child stuck 'restarting' has no ref to hand out: it is present, not started (OTP).
      if (existing.status === 'running') throw new SupervisorError('already_started', `child ${JSON.stringify(spec.id)} is already running`);
      throw new SupervisorError('already_present', `child ${JSON.stringify(spec.id)} exists and is not running`);
    }
    if (spec.name !== undefined && host.children().some((c) => c.spec.name === spec.name)) {
      throw new InvalidSpecError('spec.name', spec.name, 'a name not used by another child of this supervisor');
    }
    const record = host.newRecord(spec);
    const outcome = await host.start(record);
    if (outcome === 'ignored' && spec.restart === 'temporary') return undefined;
    host.add(record);
    return record.started?.ref;
  }

  /**
   * By id; by ref for simple_one_for_one, where a restarting child answers to the ref of the
   * incarnation that exited, and a ref that already exited is fine (OTP: a dead pid is `ok`).
   */
  async terminateChild(idOrRef: unknown): Promise<void> {
    const host = this.#host;
    if (!this.#dynamic) {
      const record = this.#findStatic(idOrRef);
      await host.stop(record);
      if (record.spec.restart === 'temporary') host.remove(record);
      return;
    }
    if (typeof idOrRef === 'string') {
      throw new SupervisorError('simple_one_for_one', `${host.path} is simple_one_for_one: terminate a child by its ref, not an id`);
    }
    const record = findByRef(host.children(), idOrRef);
    if (record) {
      await host.stop(record);
      host.remove(record);
      return;
    }
    if (host.wasChild(idOrRef) || hasExited(idOrRef)) return;
    throw new SupervisorError('not_found', `no child with that ref in ${host.path}`);
  }

  /** Resolves with the new ref, or undefined if the child's start ignored (its spec stays). */
  async restartChild(id: unknown): Promise<unknown> {
    const record = this.#findStatic(id);
    this.#refuseIfActive(record, id);
    await this.#host.start(record);
    return record.started?.ref;
  }

  async deleteChild(id: unknown): Promise<void> {
    const record = this.#findStatic(id);
    this.#refuseIfActive(record, id);
    this.#host.remove(record);
  }

  async getChildSpec(idOrRef: unknown): Promise<ChildSpec> {
    const { name, backoff, ...rest } = this.#findAny(idOrRef).spec;
    return { ...rest, ...(name === undefined ? {} : { name }), ...(backoff === undefined ? {} : { backoff }) };
  }

  async whichChildren(): Promise<ChildInfo[]> {
    return this.#host.children().map(childInfo);
  }

  /** OTP 26's `which_child/2`: one child's row, by id (by ref for simple_one_for_one). */
  async whichChild(idOrRef: unknown): Promise<ChildInfo> {
    return childInfo(this.#findAny(idOrRef));
  }

  async countChildren(): Promise<ChildCounts> {
    return countChildren(this.#host.children(), this.#dynamic);
  }

  async child(id: unknown): Promise<unknown> {
    const record = this.#findStatic(id);
    if (!record.started) throw new NoProcessError(record.path);
    return record.started.ref;
  }

  #refuseIfActive(record: ChildRecord, id: unknown): void {
    if (record.status === 'running') throw new SupervisorError('running', `child ${JSON.stringify(id)} is running`);
    if (record.status === 'restarting') throw new SupervisorError('restarting', `child ${JSON.stringify(id)} is being restarted`);
  }

  /** By id, or by ref for simple_one_for_one (whose children have no ids). */
  #findAny(idOrRef: unknown): ChildRecord {
    const children = this.#host.children();
    const record = this.#dynamic ? findByRef(children, idOrRef) : findById(children, idOrRef);
    if (!record) throw new SupervisorError('not_found', `no child ${describeValue(idOrRef)} in ${this.#host.path}`);
    return record;
  }

  #findStatic(id: unknown): ChildRecord {
    if (this.#dynamic) {
      throw new SupervisorError('simple_one_for_one', `${this.#host.path} is simple_one_for_one: its children have no ids`);
    }
    const record = findById(this.#host.children(), id);
    if (!record) throw new SupervisorError('not_found', `no child ${describeValue(id)} in ${this.#host.path}`);
    return record;
  }
}

/** A ref that says it has exited (`ChildRef`, `SupervisorRef` and refs like them have `alive`). */
function hasExited(ref: unknown): boolean {
  return typeof ref === 'object' && ref !== null && (ref as { alive?: unknown }).alive === false;
}
