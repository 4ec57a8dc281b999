import { isIgnore, type ChildId, type Ignore, type StartContext, type StartedChild } from '../child.js';
import { NoProcessError, StartChildError, SupervisorError } from '../errors.js';
import type { SupervisorEvent } from '../events.js';
import type { ExitReason } from '../exit-reason.js';
import type { ActorParent } from '../nact.js';
import type { ActorSystem } from '../system.js';
import type { ChildRecord } from './child-record.js';
import type { ResolvedChildSpec } from './child-spec.js';
import { track } from '../process-control.js';
import { boundedStart } from '../bounded-start.js';
import { stopChild } from './shutdown.js';

/** What starting and stopping children needs from their supervisor. */
export interface LifecycleHost {
  readonly system: ActorSystem;
  /** The supervisor's path, which reports the events. */
  readonly path: string;
  readonly dynamic: boolean;
  /** The nact actor that children's actors are spawned under. */
  readonly parent: ActorParent;
  now(): number;
  /** True once the supervisor was killed: a child that finishes starting then must die at once. */
  killed(): boolean;
  /** An incarnation exited (for any reason); the supervisor decides what that means, in its mailbox. */
  onExit(record: ChildRecord, started: StartedChild, reason: ExitReason): void;
}

/**
 * Starts and stops the incarnations of a supervisor's children: calls start functions (a result
 * of `IGNORE` leaves the child not running), registers names, reports events, wires each exit back
 * to the supervisor, and stops a child by its `shutdown`. It decides nothing about restarts.
 */
export class ChildLifecycle {
  readonly #host: LifecycleHost;
  #dynamicCounter = 0;
  /** Incarnations detached from their record and being stopped; a kill must reach them too. */
  readonly #beingStopped = new Set<StartedChild>();
  /** Every ref an incarnation of a child ever had, so `terminateChild` knows one that exited. */
  readonly #formerRefs = new WeakSet<object>();
  /** The starts in progress; a kill of the supervisor aborts them. */
  readonly #starting = new Set<AbortController>();

  constructor(host: LifecycleHost) {
    this.#host = host;
  }

  newRecord(spec: ResolvedChildSpec, extraArgs: readonly unknown[] = []): ChildRecord {
    const { dynamic, path } = this.#host;
    if (dynamic) this.#dynamicCounter += 1;
    return {
      spec,
      id: dynamic ? undefined : spec.id,
      path: dynamic ? `${path}/${spec.id}-${this.#dynamicCounter}` : `${path}/${spec.id}`,
      extraArgs,
      started: undefined,
      lastRef: undefined,
      status: 'undefined',
      attempt: 0,
      startedAt: 0,
      retryTimer: undefined,
      starts: 0,
    };
  }

  /** Starts `record`; a failure (already reported as `start_failed`) is `'failed'`. */
  async tryStart(record: ChildRecord): Promise<'started' | 'ignored' | 'failed'> {
    try {
      return await this.start(record);
    } catch {
      return 'failed';
    }
  }

  /** For the dynamic API: a start failure rejects with `StartChildError`. */
  async startOrReject(record: ChildRecord): Promise<'started' | 'ignored'> {
    try {
      return await this.start(record);
    } catch (error) {
      if (error instanceof NoProcessError && error.reason === 'killed') throw error;
      throw new StartChildError(this.#host.path, record.id, error);
    }
  }

  /**
   * Calls the child's start function, bounded by its `startTimeout`, and wires its exit back to the
   * supervisor. A start that times out is abandoned: its `ctx.signal` is aborted, it rejects here
   * with `StartTimeoutError`, and whatever it starts later is killed as it arrives.
   */
  async start(record: ChildRecord): Promise<'started' | 'ignored'> {
    const { spec } = record;
    const { system } = this.#host;
    let result: StartedChild | Ignore;
    const abandon = new AbortController();
    this.#starting.add(abandon);
    try {
      if (spec.name !== undefined && system.registry.isTaken(spec.name)) {
        throw new SupervisorError('already_started', `the name ${JSON.stringify(spec.name)} is already registered`);
      }
      const ctx: StartContext = { system, id: record.id ?? spec.id, path: record.path, parent: this.#host.parent, signal: abandon.signal };
      result = await boundedStart(spec.start, ctx, record.extraArgs, spec.startTimeout, abandon);
    } catch (error) {
      this.#emit({ type: 'start_failed', ...this.where(record), reason: error });
      throw error;
    } finally {
      this.#starting.delete(abandon);
    }
    if (isIgnore(result)) {
      record.status = 'undefined';
      this.#emit({ type: 'ignored', ...this.where(record) });
      return 'ignored';
    }
    const started = result;
    if (this.#host.killed()) {
      // Killed while the child was starting: it must not outlive the supervisor.
      started.kill();
      throw new NoProcessError(this.#host.path, 'killed');
    }
    if (spec.name !== undefined) system.registry.register(spec.name, started.ref);
    track(started, record.path);
    record.started = started;
    record.status = 'running';
    record.startedAt = this.#host.now();
    record.starts += 1;
    if (typeof started.ref === 'object' && started.ref !== null) this.#formerRefs.add(started.ref);
    void started.exited.then((reason) => {
      if (spec.name !== undefined) system.registry.unregister(spec.name, started.ref);
      this.#emit({ type: 'exited', ...this.where(record), reason });
      this.#host.onExit(record, started, reason);
    });
    this.#emit({ type: 'started', ...this.where(record) });
    return 'started';
  }

  /** Stops the running incarnation (if any) by the child's `shutdown` and waits for its exit. */
  async stop(record: ChildRecord): Promise<void> {
    clearTimeout(record.retryTimer);
    record.retryTimer = undefined;
    const started = record.started;
    record.started = undefined;
    record.status = 'undefined';
    if (!started) return;
    this.#beingStopped.add(started);
    try {
      await stopChild(started, record.spec.shutdown);
    } finally {
      this.#beingStopped.delete(started);
    }
  }

  /** The supervisor's brutal kill: every incarnation it holds, is stopping or is starting, dies at once. */
  killAll(records: readonly ChildRecord[]): void {
    for (const abandon of this.#starting) abandon.abort(new NoProcessError(this.#host.path, 'killed'));
    for (const record of records) {
      clearTimeout(record.retryTimer);
      record.started?.kill();
    }
    for (const started of this.#beingStopped) started.kill();
  }

  /** Whether `ref` was ever the ref of one of these children. */
  wasChild(ref: unknown): boolean {
    return typeof ref === 'object' && ref !== null && this.#formerRefs.has(ref);
  }

  /** The common fields of an event about `record`. */
  where(record: ChildRecord): { supervisor: string; id: ChildId | undefined; path: string; at: number } {
    return { supervisor: this.#host.path, id: record.id, path: record.path, at: Date.now() };
  }

  #emit(event: SupervisorEvent): void {
    this.#host.system.emit(event);
  }
}
