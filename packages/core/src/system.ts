import { boundedStart } from './bounded-start.js';
import { isIgnore, isSystemStop, systemStop, type ChildId, type Ignore, type StartContext, type StartedChild, type StartFn } from './child.js';
import { Deferred } from './deferred.js';
import { InvalidSpecError, StartChildError, SupervisorError } from './errors.js';
import { SystemEvents, type SupervisorEvent } from './events.js';
import type { ExitReason } from './exit-reason.js';
import { startNactSystem, stopNactSystem, type ActorParent } from './nact.js';
import { track } from './process-control.js';
import { Registry, type Registered } from './registry.js';
import { checkShutdown, type Shutdown } from './supervisor/child-spec.js';
import { stopChild } from './supervisor/shutdown.js';
import { describeChildren, type TreeNode } from './tree.js';
import { checkNonEmptyString, checkOptions, checkTimeout, names } from './validation.js';

export interface ActorSystemOptions {
  /** First segment of every path in the tree. @default 'system' */
  readonly name?: string;
}

export interface TopLevelOptions {
  /** Id of the top-level child; its path is `<system>/<id>`. @default 'root', then 'root-2', … */
  readonly id?: ChildId;
  /** Register the child's ref for `whereis`. */
  readonly name?: string;
  /** How `system.stop()` stops it. @default 'infinity' */
  readonly shutdown?: Shutdown;
  /**
   * ms its start may take, as a child spec's `startTimeout`: past it `start()` rejects with
   * `StartChildError` (reason `'timeout'`) and what it starts later is killed. The caller of
   * `start()` is the one waiting, so by default it waits as long as the start takes (a top-level
   * supervisor's start is bounded by its children's). @default 'infinity'
   */
  readonly startTimeout?: number | 'infinity';
}

/** How the system went down: what `system.down` resolves with. */
export interface SystemDown {
  /** `'exit'`: a top-level child (the root) exited on its own and nothing restarts it; `'stop'`: `system.stop()` ran to its end. */
  readonly cause: 'exit' | 'stop';
  /** The exit reason of that child; `'shutdown'` after `system.stop()`. */
  readonly reason: ExitReason;
  /** The path of that child; the system's name after `system.stop()`. */
  readonly path: string;
  /** `Date.now()` when it happened. */
  readonly at: number;
}

const SYSTEM_OPTION_KEYS = names<ActorSystemOptions>()(['name']);
const TOP_LEVEL_OPTION_KEYS = names<TopLevelOptions>()(['id', 'name', 'shutdown', 'startTimeout']);

/** What `system.tree()` returns: the system's name and its top-level children, recursively. */
export interface SystemTree {
  readonly name: string;
  readonly children: readonly TreeNode[];
}

interface TopChild {
  readonly id: ChildId;
  readonly started: StartedChild;
  readonly shutdown: Shutdown;
}

/**
 * One actor system per process: a nact system, the top of every supervision tree, the name
 * registry and the event stream. Top-level children are not restarted by anyone: put a
 * supervisor there.
 */
export class ActorSystem {
  readonly name: string;
  /** Emits `'event'` with a `SupervisorEvent` for every start, exit, restart, give-up and shutdown. */
  readonly events = new SystemEvents();
  /** @internal Registered names; use `whereis`. */
  readonly registry = new Registry();
  readonly #root: ActorParent;
  readonly #down = new Deferred<SystemDown>();
  #top: TopChild[] = [];
  /** Top-level starts in progress; each settles only once a child that started too late is stopped. */
  readonly #starting = new Set<Promise<unknown>>();
  /** The signals of those starts: `stop()` aborts them, so that a start that waits (an init that hangs) ends at once. */
  readonly #abandons = new Set<AbortController>();
  #stopping: Promise<void> | undefined;
  #counter = 0;

  constructor(options: ActorSystemOptions = {}) {
    const checked = checkOptions('options', options, SYSTEM_OPTION_KEYS);
    this.name = checked.name === undefined ? 'system' : checkNonEmptyString('options.name', checked.name);
    this.#root = startNactSystem(this.name);
  }

  /**
   * Settles (never rejects) when the system goes down for good: the first time a top-level child
   * (the root of a tree) exits without `stop()` having asked it to (a root supervisor that gave up
   * exits `'shutdown'`; top-level children are restarted by no one), or when `stop()` has stopped
   * everything. What to do then is the application's choice; OTP stops the node when a permanent
   * application's root exits: `system.down.then(() => process.exit(1))`.
   */
  get down(): Promise<SystemDown> {
    return this.#down.promise;
  }

  /** True once `stop()` was called: starts in progress should wind down (supervisors start no further child). */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Starts a top-level child (usually a supervisor) and resolves with its ref, or with `undefined`
   * if its start returned `IGNORE`. If `stop()` is called while the child is starting, its start's
   * signal is aborted (a worker's init is killed), whatever it started is stopped as soon as its
   * start completes, and this rejects with `SupervisorError('shutdown')`.
   */
  start<R>(start: (ctx: StartContext) => Promise<StartedChild<R>>, options?: TopLevelOptions): Promise<R>;
  start<R>(start: StartFn<R, []>, options?: TopLevelOptions): Promise<R | undefined>;
  async start<R>(start: StartFn<R, []>, options: TopLevelOptions = {}): Promise<R | undefined> {
    checkOptions('options', options, TOP_LEVEL_OPTION_KEYS);
    if (this.#stopping) throw new SupervisorError('shutdown', `actor system ${this.name} is stopped`);
    const starting = this.#startTop(start, options);
    this.#starting.add(starting);
    try {
      return await starting;
    } finally {
      this.#starting.delete(starting);
    }
  }

  async #startTop<R>(start: StartFn<R, []>, options: TopLevelOptions): Promise<R | undefined> {
    this.#counter += 1;
    const id = options.id === undefined ? (this.#counter === 1 ? 'root' : `root-${this.#counter}`) : checkNonEmptyString('options.id', options.id);
    if (this.#top.some((t) => t.id === id)) throw new SupervisorError('already_started', `a top-level child ${JSON.stringify(id)} is running`);
    const path = `${this.name}/${id}`;
    const name = options.name === undefined ? undefined : checkNonEmptyString('options.name', options.name);
    if (name !== undefined && this.registry.isTaken(name)) {
      throw new SupervisorError('already_started', `the name ${JSON.stringify(name)} is already registered`);
    }
    const shutdown = options.shutdown === undefined ? 'infinity' : checkShutdown('options.shutdown', options.shutdown);
    const startTimeout = options.startTimeout === undefined ? 'infinity' : checkTimeout('options.startTimeout', options.startTimeout, { infinity: true });
    let result: StartedChild<R> | Ignore;
    const abandon = new AbortController();
    this.#abandons.add(abandon);
    try {
      const ctx: StartContext = { system: this, id, path, parent: this.#root, signal: abandon.signal };
      result = (await boundedStart(start as StartFn, ctx, [], startTimeout, abandon)) as StartedChild<R> | Ignore;
    } catch (error) {
      this.emit({ type: 'start_failed', supervisor: this.name, id, path, at: Date.now(), reason: error });
      if (isSystemStop(abandon.signal.reason)) {
        throw new SupervisorError('shutdown', `actor system ${this.name} stopped while ${path} was starting`, { cause: error });
      }
      // A bad spec is reported as it is; any other failure is named as this child's start failure.
      throw error instanceof SupervisorError || error instanceof InvalidSpecError ? error : new StartChildError(this.name, id, error);
    } finally {
      this.#abandons.delete(abandon);
    }
    if (isIgnore(result)) {
      this.emit({ type: 'ignored', supervisor: this.name, id, path, at: Date.now() });
      return undefined;
    }
    const started = result;
    if (this.#stopping) {
      // stop() began while this child was starting: it must not outlive the system.
      this.emit({ type: 'started', supervisor: this.name, id, path, at: Date.now() });
      const reason = await stopChild(started, shutdown);
      this.emit({ type: 'exited', supervisor: this.name, id, path, at: Date.now(), reason });
      throw new SupervisorError('shutdown', `actor system ${this.name} stopped while ${path} was starting; it was stopped`);
    }
    const top: TopChild = { id, started, shutdown };
    this.#top.push(top);
    if (name !== undefined) this.registry.register(name, started.ref);
    track(started, path);
    void started.exited.then((reason: ExitReason) => {
      if (name !== undefined) this.registry.unregister(name, started.ref);
      this.#top = this.#top.filter((t) => t !== top);
      this.emit({ type: 'exited', supervisor: this.name, id, path, at: Date.now(), reason });
      // Nobody restarts a top-level child: unless stop() asked for it, the system is down.
      if (this.#stopping === undefined) this.#down.resolve({ cause: 'exit', reason, path, at: Date.now() });
    });
    this.emit({ type: 'started', supervisor: this.name, id, path, at: Date.now() });
    return started.ref;
  }

  /**
   * A handle for the child registered as `name`, valid across restarts: property reads and
   * method calls go to the incarnation running at that moment; while none runs, method calls
   * reject with `NoProcessError`. The handle itself answers `alive` (whether a process runs under
   * the name now) and `id`/`path` (of the last one registered under it; `undefined` if none ever
   * was), so a dead handle never looks alive. `exit(handle, …)` and `stop(handle)` act on the
   * process under the name.
   */
  whereis<R = unknown>(name: string): Registered<R> {
    return this.registry.handle(name) as Registered<R>;
  }

  /** The ref of the incarnation registered as `name` right now, or undefined. */
  whereisCurrent<R = unknown>(name: string): R | undefined {
    return this.registry.current(name) as R | undefined;
  }

  /**
   * A snapshot of the whole supervision tree: every child's id, path, type, status and restarts,
   * the flags of supervisors, and what children say of themselves (`info`, e.g. an interpreter's
   * pid), recursively. Top-level children are never restarted; a top-level child is shown as a
   * supervisor when it reports supervisor flags.
   */
  async tree(): Promise<SystemTree> {
    const rows = this.#top.map((top) => ({ id: top.id, path: `${this.name}/${top.id}`, type: 'worker' as const, status: 'running' as const, restarts: 0, started: top.started }));
    const children = (await describeChildren(rows)).map((node) => (node.supervisor ? { ...node, type: 'supervisor' as const } : node));
    return { name: this.name, children };
  }

  /**
   * Stops the top-level children in reverse start order, each by its shutdown, then nact. A child
   * still starting is the newest: its start's signal is aborted (so that an init that hangs is
   * killed rather than waited for), its start is awaited first, and whatever it started is stopped
   * before this resolves.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      // A start in progress is told the system is stopping (its ctx.signal): a worker's init is
      // killed at once, so one that hangs cannot hold stop() up; a supervisor winds down in order
      // (it starts no further child); a custom start may stop early. Then each is waited for.
      const stopped = systemStop(this.name);
      for (const abandon of this.#abandons) abandon.abort(stopped);
      // (Awaited only when there are any, so that the first stop request goes out right now.)
      if (this.#starting.size > 0) await Promise.allSettled([...this.#starting]);
      for (const top of [...this.#top].reverse()) await stopChild(top.started, top.shutdown);
      stopNactSystem(this.#root);
      this.#down.resolve({ cause: 'stop', reason: 'shutdown', path: this.name, at: Date.now() });
    })();
    return this.#stopping;
  }

  /** `await using system = new ActorSystem()` stops the system when the scope is left. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** @internal Supervisors report through here. */
  emit(event: SupervisorEvent): void {
    this.events.emit('event', event);
  }
}
