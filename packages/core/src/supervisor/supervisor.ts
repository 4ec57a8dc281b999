/**
 * # Supervisor: OTP's `supervisor` on a nact actor
 *
 * A supervisor starts, watches and restarts children (workers, supervisors, or anything with a
 * `StartFn`). It is itself a child, so trees nest.
 *
 * ## Flags (see `flags.ts`)
 * - `strategy`: `one_for_one` (default) restarts only the child that exited; `one_for_all`
 *   stops all other children (reverse start order) and restarts all (start order); `rest_for_one`
 *   does that for the exited child and those started after it; `simple_one_for_one` has one
 *   template, no children at start, `startChild(extraArgs)` adds children, all alike, without ids.
 * - `intensity` (default 1) and `period` (default 5000 ms): a restart when `intensity` restarts
 *   already happened within the last `period` ms is one too many (`intensity.ts`): the supervisor
 *   gives up (event `gave_up`), stops all its children in reverse start order and exits with
 *   `'shutdown'`, which its own supervisor handles (escalation).
 * - `autoShutdown`: `never` (default; `significant: true` is then invalid), `any_significant`:
 *   exit `'shutdown'` when a significant child exits and is not restarted; `all_significant`:
 *   when the last running significant child does.
 *
 * ## Child specs (see `child-spec.ts`)
 * `{ id, start, restart = 'permanent', shutdown = 5000 | 'infinity' for supervisors,
 * type = 'worker', significant = false, name?, backoff? }`. All specs, duplicate ids and names
 * included, are checked before anything starts; a bad one throws `InvalidSpecError` naming it.
 *
 * ## What a child's exit means (the single entry: `#onChildExit`)
 * - Exit reasons `'normal'`, `'shutdown'`, `{ shutdown: x }` are normal; all others abnormal.
 * - `permanent`: always restarted. `transient`: restarted after an abnormal exit only.
 *   `temporary`: never restarted, and its spec is dropped. A child not restarted may trigger
 *   `autoShutdown` if it is significant.
 * - Every restart attempt counts toward intensity, failed ones too; a group restart counts once.
 * - A restart that fails marks the child `'restarting'` and the supervisor messages itself to
 *   retry, so requests queued meanwhile (e.g. a shutdown) are served between attempts.
 * - `backoff`: the restart (each attempt) waits `min * factor^n` ms (≤ `max`, minus up to
 *   `jitter` of it); `n` goes back to 0 once the child ran `resetAfter` ms (default `max`).
 *
 * ## Starting and stopping
 * - Children start one at a time in list order. If one fails during the supervisor's start,
 *   those already started are stopped in reverse order and the start rejects with
 *   `StartChildError` (`code: 'failed_to_start_child'`, the child's error as `cause`).
 * - Stopping a child: `'brutal_kill'` kills at once; a number asks for an orderly stop and kills
 *   after that many ms; `'infinity'` waits. Children stop one at a time in reverse start order,
 *   except simple_one_for_one children, which stop in parallel under the template's shutdown.
 * - A supervisor killed brutally kills all its children at once.
 *
 * ## Dynamic API (see `supervisor-ref.ts`), rejecting with `SupervisorError` and OTP's codes
 * `startChild`, `terminateChild`, `restartChild`, `deleteChild`, `whichChildren`,
 * `countChildren`, `getChildSpec`, `child`; `inspect` gives the flags and the subtree, each child
 * with its status and restarts (starts after its first), for `system.tree()`. A start failure in `startChild`/`restartChild`
 * rejects that call and counts no restart. A supervisor restarted by its parent comes back from
 * its initial spec.
 */
import type { ChildId, StartContext, StartedChild, StartFn } from '../child.js';
import { Deferred } from '../deferred.js';
import { InvalidSpecError, NoProcessError, StartChildError, SupervisorError } from '../errors.js';
import type { SupervisorEvent } from '../events.js';
import { isNormalExit, type ExitReason } from '../exit-reason.js';
import { Mailbox } from '../nact.js';
import type { ActorSystem } from '../system.js';
import { backoffDelay } from './backoff.js';
import { resolveChildSpec, type ChildSpec, type ChildType, type Restart, type ResolvedChildSpec } from './child-spec.js';
import { resolveFlags, type ResolvedFlags, type SupervisorFlags } from './flags.js';
import { addRestart } from './intensity.js';
import { stopChild } from './shutdown.js';
import { SupervisorRef } from './supervisor-ref.js';
import { describeChildren, type ChildInspection } from '../tree.js';

export type ChildStatus = 'running' | 'restarting' | 'undefined';

/** One row of `whichChildren()`. `ref` is undefined unless the child is running. */
export interface ChildInfo {
  readonly id: ChildId | undefined;
  readonly ref: unknown;
  readonly type: ChildType;
  readonly status: ChildStatus;
}

export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

/** The supervisor's record of one child (OTP's `#child{}`). */
interface ChildRecord {
  readonly spec: ResolvedChildSpec;
  /** The spec id; undefined for simple_one_for_one children. */
  readonly id: ChildId | undefined;
  readonly path: string;
  /** simple_one_for_one extra args, kept for restarts. */
  readonly extraArgs: readonly unknown[];
  /** The running incarnation. Cleared as soon as the supervisor stops it or learns it exited, so
   *  an exit notice that names another incarnation is stale and ignored. */
  started: StartedChild | undefined;
  status: ChildStatus;
  /** Consecutive restart attempts since the last stable run (drives backoff). */
  attempt: number;
  startedAt: number;
  /** A pending backoff wait before the next restart attempt. */
  retryTimer: NodeJS.Timeout | undefined;
  /** Successful starts of this record; all but the first are restarts (`system.tree()`). */
  starts: number;
}

type Message =
  | { readonly type: 'init'; readonly done: Deferred<void> }
  | { readonly type: 'exit'; readonly record: ChildRecord; readonly started: StartedChild; readonly reason: ExitReason }
  | { readonly type: 'retry'; readonly record: ChildRecord }
  | { readonly type: 'request'; readonly run: () => Promise<unknown>; readonly done: Deferred<unknown> }
  | { readonly type: 'shutdown'; readonly reason: ExitReason };

type Outcome = 'continue' | 'shutdown';

type Phase = 'starting' | 'running' | 'stopping' | 'exited';

/** Options for tests: a clock and a random source. */
export interface SupervisorInternals {
  readonly now?: () => number;
  readonly random?: () => number;
}

export class Supervisor {
  readonly ref: SupervisorRef;
  readonly path: string;
  readonly #flags: ResolvedFlags;
  readonly #system: ActorSystem;
  readonly #mailbox: Mailbox<Message>;
  readonly #exited = new Deferred<ExitReason>();
  readonly #now: () => number;
  readonly #random: () => number;
  /** Children in start order (OTP keeps them reversed; we keep the reading order). */
  #children: ChildRecord[] = [];
  /** Timestamps of restarts inside the intensity window, oldest first. */
  #restarts: readonly number[] = [];
  #phase: Phase = 'starting';
  #dynamicCounter = 0;
  /** Requests sent and not yet served; rejected if the supervisor exits first (its mailbox drops them). */
  readonly #pendingRequests = new Set<Deferred<unknown>>();
  /** Set when intensity was exceeded, so the shutdown event can say why. */
  #gaveUp = false;
  /** Incarnations detached from their record and being stopped; a kill must reach them too. */
  readonly #beingStopped = new Set<StartedChild>();

  constructor(flags: ResolvedFlags, ctx: StartContext, internals: SupervisorInternals = {}) {
    this.#flags = flags;
    this.#system = ctx.system;
    this.path = ctx.path;
    this.#now = internals.now ?? Date.now;
    this.#random = internals.random ?? Math.random;
    this.ref = new SupervisorRef(this, ctx.id, ctx.path);
    this.#mailbox = new Mailbox<Message>(ctx.parent, ctx.id, (m) => this.#handle(m));
  }

  get alive(): boolean {
    return this.#phase === 'starting' || this.#phase === 'running';
  }

  get strategy(): ResolvedFlags['strategy'] {
    return this.#flags.strategy;
  }

  /** Starts the initial children; rejects with StartChildError if one fails. */
  async start(): Promise<StartedChild<SupervisorRef>> {
    const done = new Deferred<void>();
    this.#mailbox.send({ type: 'init', done });
    await done.promise;
    return {
      ref: this.ref,
      exited: this.#exited.promise,
      shutdown: (reason) => this.#mailbox.send({ type: 'shutdown', reason }),
      kill: () => this.#kill(),
      inspect: () => this.inspect(),
    };
  }

  /**
   * This supervisor's flags and its children, recursively (`system.tree()`). The records are read
   * inside the mailbox; the children are asked outside it, so a slow child never blocks exits.
   */
  async inspect(): Promise<ChildInspection> {
    const { strategy, intensity, period } = this.#flags;
    const rows = await this.request(async () =>
      this.#children.map((c) => ({ id: c.id, path: c.path, type: c.spec.type, status: c.status, restarts: Math.max(0, c.starts - 1), started: c.started })),
    );
    return { supervisor: { strategy, intensity, period }, children: await describeChildren(rows) };
  }

  /** Runs `op` inside the mailbox, in turn with child exits, so it sees a consistent state. */
  request<T>(op: () => Promise<T>): Promise<T> {
    if (!this.alive) return Promise.reject(new NoProcessError(this.path));
    const done = new Deferred<unknown>();
    this.#pendingRequests.add(done);
    this.#mailbox.send({ type: 'request', run: op, done });
    return done.promise.finally(() => this.#pendingRequests.delete(done)) as Promise<T>;
  }

  // ---------------------------------------------------------------------------------------------
  // The mailbox loop

  async #handle(m: Message): Promise<void> {
    if (this.#phase === 'stopping' || this.#phase === 'exited') {
      if (m.type === 'request' || m.type === 'init') m.done.reject(new NoProcessError(this.path));
      return;
    }
    switch (m.type) {
      case 'init':
        return this.#init(m.done);
      case 'request':
        try {
          m.done.resolve(await m.run());
        } catch (error) {
          m.done.reject(error);
        }
        return;
      case 'exit':
        if (m.record.started !== m.started) return; // an incarnation we stopped ourselves
        return this.#act(await this.#onChildExit(m.record, m.reason));
      case 'retry':
        if (!this.#children.includes(m.record) || m.record.status !== 'restarting') return;
        m.record.retryTimer = undefined;
        return this.#act(await this.#restart(m.record));
      case 'shutdown':
        return this.#terminate(m.reason, 'requested');
    }
  }

  async #act(outcome: Outcome): Promise<void> {
    if (outcome === 'shutdown') await this.#terminate('shutdown', this.#gaveUp ? 'intensity' : 'auto_shutdown');
  }

  async #init(done: Deferred<void>): Promise<void> {
    const records = this.#flags.strategy === 'simple_one_for_one' ? [] : this.#flags.children.map((spec) => this.#newRecord(spec));
    for (const record of records) {
      try {
        await this.#startRecord(record);
      } catch (error) {
        // Stop the ones already started, newest first, then fail the whole start.
        for (const started of [...this.#children].reverse()) await this.#stopRecord(started);
        this.#children = [];
        this.#finish(error as ExitReason);
        done.reject(error instanceof NoProcessError ? error : new StartChildError(this.path, record.id, error));
        return;
      }
      this.#children.push(record);
    }
    this.#phase = 'running';
    done.resolve();
  }

  // ---------------------------------------------------------------------------------------------
  // The decision: what a child's exit means. Everything that reacts to a death starts here.

  /** OTP's `restart_child` + `do_restart`: restart type × exit reason. */
  async #onChildExit(record: ChildRecord, reason: ExitReason): Promise<Outcome> {
    record.started = undefined;
    if (!shouldRestart(record.spec.restart, reason)) {
      this.#dropChild(record);
      return this.#autoShutdown(record);
    }
    if (this.#now() - record.startedAt >= (record.spec.backoff?.resetAfter ?? 0)) record.attempt = 0;
    if (record.spec.backoff) {
      record.status = 'restarting';
      this.#scheduleRetry(record, reason);
      return 'continue';
    }
    return this.#restart(record, reason);
  }

  /** OTP's `restart/2`: count the attempt against intensity, then restart by strategy. */
  async #restart(record: ChildRecord, reason: ExitReason = 'restarting'): Promise<Outcome> {
    const counted = addRestart(this.#restarts, this.#now(), this.#flags.intensity, this.#flags.period);
    this.#restarts = counted.restarts;
    if (counted.exceeded) {
      this.#emit({ type: 'gave_up', ...this.#where(record), reason: 'reached_max_restart_intensity' });
      this.#dropChild(record);
      this.#gaveUp = true;
      return 'shutdown';
    }
    record.attempt += 1;
    if (!record.spec.backoff) {
      this.#emit({ type: 'restarting', ...this.#where(record), reason, attempt: record.attempt, delay: 0 });
    }
    const failed = await this.#restartByStrategy(record);
    if (failed) {
      failed.status = 'restarting';
      this.#scheduleRetry(failed, 'failed_to_start_child');
    }
    return 'continue';
  }

  /** OTP's `restart/3`: returns the child that failed to start, if any. */
  async #restartByStrategy(record: ChildRecord): Promise<ChildRecord | undefined> {
    switch (this.#flags.strategy) {
      case 'one_for_one':
      case 'simple_one_for_one':
        return (await this.#tryStart(record)) ? undefined : record;
      case 'rest_for_one':
        return this.#restartGroup(record, this.#children.slice(this.#children.indexOf(record)));
      case 'one_for_all':
        return this.#restartGroup(record, [...this.#children]);
    }
  }

  /** Stops the group but `record` (reverse order), then starts it all (start order). */
  async #restartGroup(record: ChildRecord, group: ChildRecord[]): Promise<ChildRecord | undefined> {
    for (const other of [...group].reverse()) {
      if (other === record) continue;
      await this.#stopRecord(other);
      // Temporary children are never restarted, even when a sibling's death stopped them.
      if (other.spec.restart === 'temporary') this.#removeRecord(other);
    }
    for (const member of group) {
      if (!this.#children.includes(member) || member.started) continue;
      if (!(await this.#tryStart(member))) return member;
    }
    return undefined;
  }

  /** A failed restart is retried through the mailbox (after the backoff delay, if any). */
  #scheduleRetry(record: ChildRecord, reason: ExitReason): void {
    const backoff = record.spec.backoff;
    if (!backoff) {
      this.#mailbox.send({ type: 'retry', record });
      return;
    }
    const delay = backoffDelay(record.attempt, backoff, this.#random);
    this.#emit({ type: 'restarting', ...this.#where(record), reason, attempt: record.attempt + 1, delay });
    record.retryTimer = setTimeout(() => this.#mailbox.send({ type: 'retry', record }), delay);
  }

  /** OTP's `do_auto_shutdown`, for a significant child that exited and is not restarted. */
  #autoShutdown(record: ChildRecord): Outcome {
    const mode = this.#flags.autoShutdown;
    if (mode === 'never' || !record.spec.significant) return 'continue';
    if (mode === 'any_significant') return 'shutdown';
    const anyLeft = this.#children.some((c) => c.spec.significant && c.status !== 'undefined');
    return anyLeft ? 'continue' : 'shutdown';
  }

  /** OTP's `del_child`: temporary and dynamic children disappear; others keep their spec. */
  #dropChild(record: ChildRecord): void {
    clearTimeout(record.retryTimer);
    record.retryTimer = undefined;
    record.started = undefined;
    if (record.spec.restart === 'temporary' || this.#flags.strategy === 'simple_one_for_one') this.#removeRecord(record);
    else record.status = 'undefined';
  }

  // ---------------------------------------------------------------------------------------------
  // Starting and stopping one child

  #newRecord(spec: ResolvedChildSpec, extraArgs: readonly unknown[] = []): ChildRecord {
    const dynamic = this.#flags.strategy === 'simple_one_for_one';
    if (dynamic) this.#dynamicCounter += 1;
    return {
      spec,
      id: dynamic ? undefined : spec.id,
      path: dynamic ? `${this.path}/${spec.id}-${this.#dynamicCounter}` : `${this.path}/${spec.id}`,
      extraArgs,
      started: undefined,
      status: 'undefined',
      attempt: 0,
      startedAt: 0,
      retryTimer: undefined,
      starts: 0,
    };
  }

  /** Starts `record`; on failure emits `start_failed` and returns false. */
  async #tryStart(record: ChildRecord): Promise<boolean> {
    try {
      await this.#startRecord(record);
      return true;
    } catch {
      return false;
    }
  }

  /** Calls the child's start function and wires its exit back into this mailbox. */
  async #startRecord(record: ChildRecord): Promise<void> {
    const { spec } = record;
    let started: StartedChild;
    try {
      if (spec.name !== undefined && this.#system.registry.isTaken(spec.name)) {
        throw new SupervisorError('already_started', `the name ${JSON.stringify(spec.name)} is already registered`);
      }
      const ctx: StartContext = { system: this.#system, id: record.id ?? spec.id, path: record.path, parent: this.#mailbox.ref };
      started = checkStarted(await spec.start(ctx, ...record.extraArgs), record.path);
    } catch (error) {
      this.#emit({ type: 'start_failed', ...this.#where(record), reason: error });
      throw error;
    }
    if (this.#phase === 'exited') {
      // Killed while the child was starting: it must not outlive us.
      started.kill();
      throw new NoProcessError(this.path, 'killed');
    }
    if (spec.name !== undefined) this.#system.registry.register(spec.name, started.ref);
    record.started = started;
    record.status = 'running';
    record.startedAt = this.#now();
    record.starts += 1;
    void started.exited.then((reason) => {
      if (spec.name !== undefined) this.#system.registry.unregister(spec.name, started.ref);
      this.#emit({ type: 'exited', ...this.#where(record), reason });
      this.#mailbox.send({ type: 'exit', record, started, reason });
    });
    this.#emit({ type: 'started', ...this.#where(record) });
  }

  /** Stops the running incarnation (if any) by the child's `shutdown` and waits for its exit. */
  async #stopRecord(record: ChildRecord): Promise<void> {
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

  #removeRecord(record: ChildRecord): void {
    this.#children = this.#children.filter((c) => c !== record);
  }

  // ---------------------------------------------------------------------------------------------
  // The supervisor's own end

  /** Stops every child (reverse start order; simple_one_for_one in parallel), then exits. */
  async #terminate(reason: ExitReason, cause: 'intensity' | 'auto_shutdown' | 'requested'): Promise<void> {
    this.#phase = 'stopping';
    this.#emit({ type: 'shutdown', ...this.#self(), reason, cause });
    for (const record of this.#children) clearTimeout(record.retryTimer);
    if (this.#flags.strategy === 'simple_one_for_one') {
      await Promise.all(this.#children.map((record) => this.#stopRecord(record)));
    } else {
      for (const record of [...this.#children].reverse()) await this.#stopRecord(record);
    }
    this.#finish(reason);
  }

  #kill(): void {
    if (this.#phase === 'exited') return;
    this.#emit({ type: 'shutdown', ...this.#self(), reason: 'killed', cause: 'killed' });
    this.#phase = 'exited';
    for (const record of this.#children) {
      clearTimeout(record.retryTimer);
      record.started?.kill();
    }
    for (const started of this.#beingStopped) started.kill();
    this.#mailbox.stop();
    this.#rejectPendingRequests();
    this.#exited.resolve('killed');
  }

  #finish(reason: ExitReason): void {
    this.#phase = 'exited';
    this.#mailbox.stop();
    this.#rejectPendingRequests();
    this.#exited.resolve(reason);
  }

  #rejectPendingRequests(): void {
    for (const done of this.#pendingRequests) done.reject(new NoProcessError(this.path));
    this.#pendingRequests.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Dynamic API bodies; `SupervisorRef` runs each inside the mailbox via `request`.

  async startChild(specOrArgs: unknown): Promise<unknown> {
    if (this.#flags.strategy === 'simple_one_for_one') {
      const args = specOrArgs === undefined ? [] : specOrArgs;
      if (!Array.isArray(args)) throw new InvalidSpecError('extraArgs', args, 'an array of extra arguments for the template');
      const record = this.#newRecord(this.#flags.children[0]!, args);
      await this.#startOrReject(record);
      this.#children.push(record);
      return record.started?.ref;
    }
    const spec = resolveChildSpec(specOrArgs, 'spec', this.#flags.autoShutdown);
    const existing = this.#find(spec.id);
    if (existing) {
      if (existing.status === 'undefined') throw new SupervisorError('already_present', `child ${JSON.stringify(spec.id)} exists and is not running`);
      throw new SupervisorError('already_started', `child ${JSON.stringify(spec.id)} is already running`);
    }
    if (spec.name !== undefined && this.#children.some((c) => c.spec.name === spec.name)) {
      throw new InvalidSpecError('spec.name', spec.name, 'a name not used by another child of this supervisor');
    }
    const record = this.#newRecord(spec);
    await this.#startOrReject(record);
    this.#children.push(record);
    return record.started?.ref;
  }

  async terminateChild(idOrRef: unknown): Promise<void> {
    const record = this.#findForTerminate(idOrRef);
    await this.#stopRecord(record);
    if (record.spec.restart === 'temporary' || this.#flags.strategy === 'simple_one_for_one') this.#removeRecord(record);
  }

  async restartChild(id: unknown): Promise<unknown> {
    const record = this.#findStatic(id);
    if (record.status === 'running') throw new SupervisorError('running', `child ${JSON.stringify(id)} is running`);
    if (record.status === 'restarting') throw new SupervisorError('restarting', `child ${JSON.stringify(id)} is being restarted`);
    await this.#startOrReject(record);
    return record.started?.ref;
  }

  async deleteChild(id: unknown): Promise<void> {
    const record = this.#findStatic(id);
    if (record.status === 'running') throw new SupervisorError('running', `child ${JSON.stringify(id)} is running`);
    if (record.status === 'restarting') throw new SupervisorError('restarting', `child ${JSON.stringify(id)} is being restarted`);
    this.#removeRecord(record);
  }

  async getChildSpec(idOrRef: unknown): Promise<ChildSpec> {
    const record = this.#flags.strategy === 'simple_one_for_one' ? this.#findByRef(idOrRef) : this.#find(idOrRef);
    if (!record) throw new SupervisorError('not_found', `no child ${describe(idOrRef)} in ${this.path}`);
    const { name, backoff, ...rest } = record.spec;
    return { ...rest, ...(name === undefined ? {} : { name }), ...(backoff === undefined ? {} : { backoff }) };
  }

  async whichChildren(): Promise<ChildInfo[]> {
    return this.#children.map((c) => ({ id: c.id, ref: c.started?.ref, type: c.spec.type, status: c.status }));
  }

  async countChildren(): Promise<ChildCounts> {
    const specs = this.#flags.strategy === 'simple_one_for_one' ? 1 : this.#children.length;
    const active = this.#children.filter((c) => c.status === 'running').length;
    const supervisors = this.#children.filter((c) => c.spec.type === 'supervisor').length;
    return { specs, active, supervisors, workers: this.#children.length - supervisors };
  }

  async child(id: unknown): Promise<unknown> {
    const record = this.#findStatic(id);
    if (!record.started) throw new NoProcessError(record.path);
    return record.started.ref;
  }

  async #startOrReject(record: ChildRecord): Promise<void> {
    try {
      await this.#startRecord(record);
    } catch (error) {
      if (error instanceof NoProcessError && error.reason === 'killed') throw error;
      throw new StartChildError(this.path, record.id, error);
    }
  }

  #find(id: unknown): ChildRecord | undefined {
    return this.#children.find((c) => c.id === id);
  }

  #findByRef(ref: unknown): ChildRecord | undefined {
    return ref === undefined ? undefined : this.#children.find((c) => c.started !== undefined && c.started.ref === ref);
  }

  #findStatic(id: unknown): ChildRecord {
    if (this.#flags.strategy === 'simple_one_for_one') {
      throw new SupervisorError('simple_one_for_one', `${this.path} is simple_one_for_one: its children have no ids`);
    }
    const record = this.#find(id);
    if (!record) throw new SupervisorError('not_found', `no child ${describe(id)} in ${this.path}`);
    return record;
  }

  #findForTerminate(idOrRef: unknown): ChildRecord {
    if (this.#flags.strategy !== 'simple_one_for_one') return this.#findStatic(idOrRef);
    if (typeof idOrRef === 'string') {
      throw new SupervisorError('simple_one_for_one', `${this.path} is simple_one_for_one: terminate a child by its ref, not an id`);
    }
    const record = this.#findByRef(idOrRef);
    if (!record) throw new SupervisorError('not_found', `no running child with that ref in ${this.path}`);
    return record;
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  #where(record: ChildRecord): { supervisor: string; id: ChildId | undefined; path: string; at: number } {
    return { supervisor: this.path, id: record.id, path: record.path, at: Date.now() };
  }

  #self(): { supervisor: string; id: ChildId | undefined; path: string; at: number } {
    return { supervisor: this.path, id: this.ref.id, path: this.path, at: Date.now() };
  }

  #emit(event: SupervisorEvent): void {
    this.#system.emit(event);
  }
}

/** The restart-type half of OTP's `do_restart`. */
function shouldRestart(restart: Restart, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return !isNormalExit(reason);
    case 'temporary':
      return false;
  }
}

function checkStarted(value: unknown, path: string): StartedChild {
  const v = value as Partial<StartedChild> | null;
  if (
    typeof v !== 'object' || v === null || !(v.exited instanceof Promise) ||
    typeof v.shutdown !== 'function' || typeof v.kill !== 'function'
  ) {
    throw new TypeError(`the start function of ${path} must resolve with a StartedChild { ref, exited, shutdown, kill }`);
  }
  return v as StartedChild;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * A supervisor as a child: returns the start function for a child spec or `system.start`.
 * Flags and every child spec are validated up front; if any is bad, starting rejects with
 * `InvalidSpecError` naming the field, before any child starts.
 */
export function supervisor(flags: SupervisorFlags, internals?: SupervisorInternals): StartFn<SupervisorRef> {
  let resolved: ResolvedFlags | undefined;
  let invalid: unknown;
  try {
    resolved = resolveFlags(flags);
  } catch (error) {
    invalid = error;
  }
  return async (ctx) => {
    if (resolved === undefined) throw invalid;
    return new Supervisor(resolved, ctx, internals).start();
  };
}
