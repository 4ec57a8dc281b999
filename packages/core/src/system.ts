import { isIgnore, type ChildId, type Ignore, type StartContext, type StartedChild, type StartFn } from './child.js';
import { InvalidSpecError, StartChildError, SupervisorError } from './errors.js';
import { SystemEvents, type SupervisorEvent } from './events.js';
import type { ExitReason } from './exit-reason.js';
import { startNactSystem, stopNactSystem, type ActorParent } from './nact.js';
import { Registry } from './registry.js';
import type { Shutdown } from './supervisor/child-spec.js';
import { stopChild } from './supervisor/shutdown.js';
import { describeChildren, type TreeNode } from './tree.js';

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
}

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
  #top: TopChild[] = [];
  /** Top-level starts in progress; each settles only once a child that started too late is stopped. */
  readonly #starting = new Set<Promise<unknown>>();
  #stopping: Promise<void> | undefined;
  #counter = 0;

  constructor(options: ActorSystemOptions = {}) {
    this.name = options.name ?? 'system';
    this.#root = startNactSystem(this.name);
  }

  /** True once `stop()` was called: starts in progress should wind down (supervisors start no further child). */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Starts a top-level child (usually a supervisor) and resolves with its ref, or with `undefined`
   * if its start returned `IGNORE`. If `stop()` is called while the child is starting, the child
   * is stopped as soon as its start completes and this rejects with `SupervisorError('shutdown')`.
   */
  start<R>(start: (ctx: StartContext, ...extraArgs: unknown[]) => Promise<StartedChild<R>>, options?: TopLevelOptions): Promise<R>;
  start<R>(start: StartFn<R>, options?: TopLevelOptions): Promise<R | undefined>;
  async start<R>(start: StartFn<R>, options: TopLevelOptions = {}): Promise<R | undefined> {
    if (this.#stopping) throw new SupervisorError('shutdown', `actor system ${this.name} is stopped`);
    const starting = this.#startTop(start, options);
    this.#starting.add(starting);
    try {
      return await starting;
    } finally {
      this.#starting.delete(starting);
    }
  }

  async #startTop<R>(start: StartFn<R>, options: TopLevelOptions): Promise<R | undefined> {
    this.#counter += 1;
    const id = options.id ?? (this.#counter === 1 ? 'root' : `root-${this.#counter}`);
    if (this.#top.some((t) => t.id === id)) throw new SupervisorError('already_started', `a top-level child ${JSON.stringify(id)} is running`);
    const path = `${this.name}/${id}`;
    const name = options.name;
    if (name !== undefined && this.registry.isTaken(name)) {
      throw new SupervisorError('already_started', `the name ${JSON.stringify(name)} is already registered`);
    }
    const shutdown = options.shutdown ?? 'infinity';
    let result: StartedChild<R> | Ignore;
    try {
      result = await start({ system: this, id, path, parent: this.#root });
    } catch (error) {
      this.emit({ type: 'start_failed', supervisor: this.name, id, path, at: Date.now(), reason: error });
      // A bad spec is reported as it is; any other failure is named as this child's start failure.
      throw error instanceof SupervisorError || error instanceof InvalidSpecError ? error : new StartChildError(this.name, id, error);
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
    void started.exited.then((reason: ExitReason) => {
      if (name !== undefined) this.registry.unregister(name, started.ref);
      this.#top = this.#top.filter((t) => t !== top);
      this.emit({ type: 'exited', supervisor: this.name, id, path, at: Date.now(), reason });
    });
    this.emit({ type: 'started', supervisor: this.name, id, path, at: Date.now() });
    return started.ref;
  }

  /**
   * A handle for the child registered as `name`, valid across restarts: property reads and
   * method calls go to the incarnation running at that moment; while none runs, method calls
   * reject with `NoProcessError`.
   */
  whereis<R = unknown>(name: string): R {
    return this.registry.handle(name) as R;
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
   * still starting is the newest: its start is awaited first, and whatever it started is stopped
   * before this resolves.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      // (Awaited only when there are any, so that the first stop request goes out right now.)
      if (this.#starting.size > 0) await Promise.allSettled([...this.#starting]);
      for (const top of [...this.#top].reverse()) await stopChild(top.started, top.shutdown);
      stopNactSystem(this.#root);
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
