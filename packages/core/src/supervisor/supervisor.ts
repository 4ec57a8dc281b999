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
 * startTimeout = 5000 | 'infinity' for supervisors, type = 'worker', significant = false, name?,
 * backoff? }`. All specs, duplicate ids and names included, are checked before anything starts; a
 * bad one throws `InvalidSpecError` naming it. `checkChildSpecs(specs)` runs the same checks
 * without starting anything.
 *
 * Unknown keys, in the flags, in a child spec or in its backoff (given here or to `startChild`),
 * and in the internals (`{ now, random }`), are refused (`InvalidSpecError`, a TypeError, with
 * "did you mean"); so are those of what a custom start resolves with (`bounded-start.ts`). This
 * departs from OTP on purpose: OTP ignores keys it does not know in a child spec map, which in
 * Erlang costs little since specs are usually built by a module's `child_spec/1`. Here specs are
 * object literals typed by hand, and a misspelt key silently changes the tree: `{ restrat:
 * 'temporary' }` starts a permanent child that comes back after every exit. An error before
 * anything starts is cheaper than finding that out in production.
 *
 * ## Start timeouts
 * Each start is bounded by the child's `startTimeout` (OTP: `start_link(..., [{timeout, T}])`, whose
 * default there is infinity; here a worker gets 5000 ms so that a hanging `init` cannot block its
 * supervisor, `whichChildren()` or `system.stop()` for good). Past it the start fails as any
 * failed start does (`StartChildError`, `code: 'failed_to_start_child'`, `reason: 'timeout'`,
 * `StartTimeoutError` as `cause`), the start's `ctx.signal` is aborted, and whatever it starts
 * after that is killed. A supervisor child's default is `'infinity'`: its start is its children's,
 * each bounded by its own. A supervisor whose own start is abandoned (its `ctx.signal`) kills the
 * children it started and starts no more.
 *
 * ## Ignore (see `child-lifecycle.ts`)
 * A start function (a worker's `init`) may resolve with `IGNORE` (OTP's `ignore`): the child is
 * not started and that is no failure (event `ignored`). Its record stays with no ref and status
 * `'undefined'`, except that a temporary child's spec is dropped and a simple_one_for_one child
 * leaves nothing; `startChild`/`restartChild` then resolve with `undefined`. A restart that is
 * ignored ends the restart: the child stays not running, nothing is retried.
 *
 * ## What a child's exit means (the single entry: `#onChildExit`)
 * - Exit reasons `'normal'`, `'shutdown'`, `{ shutdown: x }` are normal; all others abnormal.
 * - `permanent`: always restarted. `transient`: restarted after an abnormal exit only.
 *   `temporary`: never restarted, and its spec is dropped. A child not restarted may trigger
 *   `autoShutdown` if it is significant.
 * - Every restart attempt counts toward intensity, failed ones too; a group restart counts once.
 * - A restart that fails marks the child `'restarting'` and the supervisor messages itself to
 *   retry, so requests queued meanwhile (e.g. a shutdown) are served between attempts. A
 *   restarting child keeps the ref of the incarnation that exited (OTP's `{restarting, OldPid}`).
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
 * - A supervisor killed brutally kills all its children at once, and a child whose start
 *   completes after that is killed as it arrives.
 * - A shutdown asked for while a child is starting (`startChild`, a restart) is served after that
 *   start, in mailbox order, so the new child is stopped with the others. `system.stop()` aborts
 *   the signals of top-level starts in progress (a worker's hanging init is killed), waits for
 *   them and stops what they started; a supervisor still in its start is not killed by that
 *   abort: it sees `system.stopping` and starts no further child, stops those it started, and its
 *   start rejects with `SupervisorError` code `'shutdown'`.
 *
 * ## Dynamic API (`supervisor-ref.ts`, bodies in `dynamic-api.ts`), with `SupervisorError` and OTP's codes
 * `startChild`, `terminateChild`, `restartChild`, `deleteChild`, `whichChildren`, `whichChild`,
 * `countChildren`, `getChildSpec`, `child`; `inspect` gives the flags and the subtree, each child
 * with its status and restarts (starts after its first), for `system.tree()`. A start failure in `startChild`/`restartChild`
 * rejects that call and counts no restart. A supervisor restarted by its parent comes back from
 * its initial spec. As `handle_start_child` / `find_child`:
 * - `startChild(spec)` for an id that exists: `already_started` if it runs, else `already_present`
 *   (stopped, ignored, or `'restarting'`: a restarting child has no ref to hand out).
 * - simple_one_for_one children are found by ref (`terminateChild`, `getChildSpec`, `whichChild`);
 *   a restarting one by the ref of the incarnation that exited. `terminateChild(ref)` of a ref that
 *   has already exited (it was a child, or says `alive === false`) is ok; a live stranger is `not_found`.
 */
import { isSystemStop, type ChildId, type StartContext, type StartedChild } from '../child.js';
import { Deferred } from '../deferred.js';
import { NoProcessError, StartChildError, SupervisorError } from '../errors.js';
import type { SupervisorEvent } from '../events.js';
import type { ExitReason } from '../exit-reason.js';
import { Mailbox } from '../nact.js';
import type { ActorSystem } from '../system.js';
import { backoffDelay } from './backoff.js';
import type { ChildRecord } from './child-record.js';
import { ChildLifecycle } from './child-lifecycle.js';
import { DynamicApi } from './dynamic-api.js';
import { resolveFlags, type ResolvedFlags, type SimpleSupervisorFlags, type StaticSupervisorFlags, type SupervisorFlags } from './flags.js';
import { addRestart } from './intensity.js';
import { shouldRestart } from './restart-policy.js';
import { SupervisorRef } from './supervisor-ref.js';
import { describeChildren, type ChildInspection } from '../tree.js';
import { checkFunction, checkOptions, names } from '../validation.js';

export type { ChildCounts, ChildInfo, ChildStatus } from './child-record.js';

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

const INTERNALS_KEYS = names<SupervisorInternals>()(['now', 'random']);

/** Checked with the flags (an unknown key is refused there too): a clock and a random source, both functions. */
function checkInternals(internals: SupervisorInternals | undefined): void {
  if (internals === undefined) return;
  const i = checkOptions('internals', internals, INTERNALS_KEYS);
  if (i.now !== undefined) checkFunction('internals.now', i.now);
  if (i.random !== undefined) checkFunction('internals.random', i.random);
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
  /** Requests sent and not yet served; rejected if the supervisor exits first (its mailbox drops them). */
  readonly #pendingRequests = new Set<Deferred<unknown>>();
  /** Set when intensity was exceeded, so the shutdown event can say why. */
  #gaveUp = false;
  /** Starts and stops the children's incarnations. */
  readonly #life: ChildLifecycle;
  /** The dynamic API bodies; `SupervisorRef` runs them through `request`. */
  readonly api: DynamicApi;
  /** The start in progress, until the initial children are all up (a kill meanwhile rejects it). */
  #initDone: Deferred<void> | undefined;

  constructor(flags: ResolvedFlags, ctx: StartContext, internals: SupervisorInternals = {}) {
    this.#flags = flags;
    this.#system = ctx.system;
    this.path = ctx.path;
    this.#now = internals.now ?? Date.now;
    this.#random = internals.random ?? Math.random;
    this.ref = new SupervisorRef(this, ctx.id, ctx.path);
    this.#mailbox = new Mailbox<Message>(ctx.parent, ctx.id, (m) => this.#handle(m));
    this.#life = new ChildLifecycle({
      system: ctx.system,
      path: this.path,
      dynamic: flags.strategy === 'simple_one_for_one',
      parent: this.#mailbox.ref,
      now: this.#now,
      killed: () => this.#phase === 'exited',
      onExit: (record, started, reason) => this.#mailbox.send({ type: 'exit', record, started, reason }),
    });
    const life = this.#life;
    this.api = new DynamicApi({
      path: this.path,
      flags,
      children: () => this.#children,
      add: (record) => this.#children.push(record),
      remove: (record) => this.#removeRecord(record),
      newRecord: (spec, extraArgs) => life.newRecord(spec, extraArgs),
      start: (record) => life.startOrReject(record),
      stop: (record) => life.stop(record),
      wasChild: (ref) => life.wasChild(ref),
    });
  }

  get alive(): boolean {
    return this.#phase === 'starting' || this.#phase === 'running';
  }

  get strategy(): ResolvedFlags['strategy'] {
    return this.#flags.strategy;
  }

  /**
   * Starts the initial children; rejects with StartChildError if one fails. If whoever starts this
   * supervisor gives up on it (`signal`), it is killed: the children it started die and it starts
   * no more.
   */
  async start(signal: AbortSignal | undefined): Promise<StartedChild<SupervisorRef>> {
    const done = new Deferred<void>();
    this.#initDone = done;
    // Given up on (a start timeout, a parent killed): killed. Not when the system is stopping:
    // then it winds down in order on its own (`#init` starts no further child).
    const abandon = () => {
      if (!isSystemStop(signal?.reason)) this.#kill();
    };
    signal?.addEventListener('abort', abandon, { once: true });
    this.#mailbox.send({ type: 'init', done });
    if (signal?.aborted) abandon(); // given up on before it began (a start that reached it late)
    try {
      await done.promise;
    } finally {
      signal?.removeEventListener('abort', abandon);
      this.#initDone = undefined;
    }
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
    const records = this.#flags.strategy === 'simple_one_for_one' ? [] : this.#flags.children.map((spec) => this.#life.newRecord(spec));
    for (const record of records) {
      if (this.#system.stopping) {
        // The whole system is going down: starting more children would only delay it.
        const why = `actor system ${this.#system.name} is stopping; ${this.path} starts no more children`;
        return this.#abandonInit(done, 'shutdown', new SupervisorError('shutdown', why));
      }
      let outcome: 'started' | 'ignored';
      try {
        outcome = await this.#life.start(record);
      } catch (error) {
        const rejection = error instanceof NoProcessError ? error : new StartChildError(this.path, record.id, error);
        return this.#abandonInit(done, error as ExitReason, rejection);
      }
      // OTP's start_children: an ignored temporary child is forgotten; others keep their spec.
      if (outcome === 'ignored' && record.spec.restart === 'temporary') continue;
      this.#children.push(record);
    }
    this.#phase = 'running';
    done.resolve();
  }

  /** Stops the children already started, newest first, then fails the whole start. */
  async #abandonInit(done: Deferred<void>, reason: ExitReason, rejection: unknown): Promise<void> {
    for (const started of [...this.#children].reverse()) await this.#life.stop(started);
    this.#children = [];
    this.#finish(reason);
    done.reject(rejection);
  }

  // ---------------------------------------------------------------------------------------------
  // The decision: what a child's exit means. Everything that reacts to a death starts here.

  /** OTP's `restart_child` + `do_restart`: restart type × exit reason. */
  async #onChildExit(record: ChildRecord, reason: ExitReason): Promise<Outcome> {
    record.lastRef = record.started?.ref;
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
      this.#emit({ type: 'gave_up', ...this.#life.where(record), reason: 'reached_max_restart_intensity' });
      this.#dropChild(record);
      this.#gaveUp = true;
      return 'shutdown';
    }
    record.attempt += 1;
    if (!record.spec.backoff) {
      this.#emit({ type: 'restarting', ...this.#life.where(record), reason, attempt: record.attempt, delay: 0 });
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
        return (await this.#life.tryStart(record)) === 'failed' ? record : undefined;
      case 'simple_one_for_one': {
        const outcome = await this.#life.tryStart(record);
        if (outcome === 'ignored') this.#removeRecord(record); // nothing is kept of an ignored dynamic child
        return outcome === 'failed' ? record : undefined;
      }
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
      await this.#life.stop(other);
      // Temporary children are never restarted, even when a sibling's death stopped them.
      if (other.spec.restart === 'temporary') this.#removeRecord(other);
    }
    for (const member of group) {
      if (!this.#children.includes(member) || member.started) continue;
      if ((await this.#life.tryStart(member)) === 'failed') return member;
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
    this.#emit({ type: 'restarting', ...this.#life.where(record), reason, attempt: record.attempt + 1, delay });
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
      await Promise.all(this.#children.map((record) => this.#life.stop(record)));
    } else {
      for (const record of [...this.#children].reverse()) await this.#life.stop(record);
    }
    this.#finish(reason);
  }

  #kill(): void {
    if (this.#phase === 'exited') return;
    this.#emit({ type: 'shutdown', ...this.#self(), reason: 'killed', cause: 'killed' });
    this.#phase = 'exited';
    this.#life.killAll(this.#children);
    this.#mailbox.stop();
    this.#rejectPendingRequests();
    this.#initDone?.reject(new NoProcessError(this.path, 'killed'));
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
  // Events

  #self(): { supervisor: string; id: ChildId | undefined; path: string; at: number } {
    return { supervisor: this.path, id: this.ref.id, path: this.path, at: Date.now() };
  }

  #emit(event: SupervisorEvent): void {
    this.#system.emit(event);
  }
}

/**
 * A supervisor as a child: returns the start function for a child spec or `system.start`.
 * Flags and every child spec are validated up front; if any is bad, starting rejects with
 * `InvalidSpecError` naming the field, before any child starts. For `simple_one_for_one`, the
 * ref's `startChild(extraArgs)` is typed by the template's start (a worker's `init` after its own
 * arguments).
 */
export function supervisor<Extra extends readonly unknown[]>(
  flags: SimpleSupervisorFlags<Extra>,
  internals?: SupervisorInternals,
): (ctx: StartContext) => Promise<StartedChild<SupervisorRef<Extra>>>;
export function supervisor(flags: StaticSupervisorFlags, internals?: SupervisorInternals): (ctx: StartContext) => Promise<StartedChild<SupervisorRef>>;
export function supervisor(flags: SupervisorFlags, internals?: SupervisorInternals): (ctx: StartContext) => Promise<StartedChild<SupervisorRef>>;
export function supervisor(
  flags: SupervisorFlags,
  internals?: SupervisorInternals,
): (ctx: StartContext) => Promise<StartedChild<SupervisorRef>> {
  let resolved: ResolvedFlags | undefined;
  let invalid: unknown;
  try {
    checkInternals(internals);
    resolved = resolveFlags(flags);
  } catch (error) {
    invalid = error;
  }
  return async (ctx) => {
    if (resolved === undefined) throw invalid;
    return new Supervisor(resolved, ctx, internals).start(ctx.signal);
  };
}
