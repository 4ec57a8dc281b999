/**
 * What the page shows, kept while someone watches: the tree (from `system.tree()`), a sample of
 * each pool's `stats()` every `sampleInterval` ms with a bounded history, and the last events.
 *
 * Nothing is sampled while no page is open: the observer then costs one listener on
 * `system.events` that copies each event into a bounded ring, so calls are not slowed.
 */
import { formatReason, type ActorSystem, type ExitReason, type SupervisorEvent } from '@piton/core';
import type { ObservablePool, ResolvedObserverOptions } from './options.js';
import { readTree, poolsInTree, type ObservedNode } from './tree.js';

/** One sample of one pool, flattened for the charts. */
export interface PoolSample {
  at: number;
  size: number;
  ready: number;
  busy: number;
  starting: number;
  /** Calls each interpreter runs at once (1 where the pool does not say), and the pool's capacity: size × concurrency. */
  concurrency: number;
  capacity: number;
  /** Calls and streams in flight now, in all, and on each serving interpreter (by worker id). */
  inFlight: number;
  inFlightByInterpreter: Record<string, number>;
  /** Interpreters being stopped because the pool shrank. */
  stopping: number;
  /** The local interpreters' bounds (equal for a fixed size). */
  min: number;
  max: number;
  /** Interpreters started because calls waited, and stopped because the pool shrank, so far. */
  grown: number;
  shrunk: number;
  /** Remote hosts by state (`connected`, `refused`, …). */
  hosts: Record<string, number>;
  queued: number;
  restarts: number;
  /** Calls settled so far (completed + failed). */
  settled: number;
  callsPerSecond: number;
  /** Latency percentiles in ms: wait (queued) and run, or the overall ones where the pool has no split. */
  waitP50: number;
  waitP99: number;
  runP50: number;
  runP99: number;
  /** Restarts by cause (crash, recycle, timeout, …) where the pool reports them. */
  restartsByCause: Record<string, number>;
  state: string;
}

export interface PoolView {
  name: string;
  path: string | undefined;
  latest: PoolSample;
  /** The samples kept, oldest first (the latest included). Left out of the live stream's ticks: a page keeps its own. */
  history?: PoolSample[];
}

export interface ObservedEvent {
  type: SupervisorEvent['type'];
  supervisor: string;
  id: string | undefined;
  path: string;
  at: number;
  /** The reason, as text (exits, restarts, give-ups, start failures). */
  reason?: string;
  attempt?: number;
  delay?: number;
}

/** `system.down` once it has settled: the system went down for good (its root exited, or it was stopped). */
export interface ObservedDown {
  cause: 'exit' | 'stop';
  /** The exit reason, as text. */
  reason: string;
  path: string;
  at: number;
}

export interface Snapshot {
  at: number;
  system: string;
  /** Set once the system is down (`system.down`); the page then says so. */
  down?: ObservedDown;
  tree: ObservedNode[];
  pools: PoolView[];
  /** How many times each supervisor (by path) gave up since the observer started. */
  gaveUp: Record<string, number>;
  /** How many samples per pool a page keeps for its charts. */
  historyLimit: number;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function pick(stats: Record<string, unknown>, ...path: string[]): unknown {
  let value: unknown = stats;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** Calls per second are measured over at least this many ms, however often samples are taken. */
export const RATE_WINDOW_MS = 1_000;

/**
 * Reads what a pool's stats() has, tolerating older shapes (a single latency, no causes). The
 * call rate is taken against the newest earlier sample at least RATE_WINDOW_MS old (else the
 * oldest), so that a sample taken right after another (on an event) does not read as a stall.
 */
/** A map of counts (`{ 'python-1': 2 }`); anything else reads as none. */
function counts(value: unknown): Record<string, number> {
  if (value === null || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, num(v)]));
}

export function sampleOf(raw: object, at: number, history: readonly PoolSample[]): PoolSample {
  const stats = raw as Record<string, unknown>;
  const settled = num(stats.completed) + num(stats.failed);
  let base: PoolSample | undefined = history[0];
  for (let i = history.length - 1; i >= 0; i--) {
    if (at - history[i]!.at >= RATE_WINDOW_MS) {
      base = history[i];
      break;
    }
  }
  const dt = base === undefined ? 0 : (at - base.at) / 1000;
  const rate = base === undefined || dt <= 0 ? 0 : Math.max(0, (settled - base.settled) / dt);
  const causes = pick(stats, 'restartsByCause');
  return {
    at,
    size: num(stats.size),
    ready: num(stats.ready),
    busy: num(stats.busy),
    starting: num(stats.starting),
    concurrency: stats.concurrency === undefined ? 1 : num(stats.concurrency),
    capacity: stats.capacity === undefined ? num(stats.size) : num(stats.capacity),
    inFlight: stats.inFlight === undefined ? num(stats.busy) : num(stats.inFlight),
    inFlightByInterpreter: counts(stats.inFlightByInterpreter),
    stopping: num(stats.stopping),
    min: num(pick(stats, 'limits', 'min') ?? stats.size),
    max: num(pick(stats, 'limits', 'max') ?? stats.size),
    grown: num(stats.grown),
    shrunk: num(stats.shrunk),
    hosts: hostStates(stats.hosts),
    queued: num(stats.queued),
    restarts: num(stats.restarts),
    settled,
    callsPerSecond: Math.round(rate * 10) / 10,
    waitP50: num(pick(stats, 'wait', 'p50')),
    waitP99: num(pick(stats, 'wait', 'p99')),
    runP50: num(pick(stats, 'run', 'p50') ?? pick(stats, 'latency', 'p50')),
    runP99: num(pick(stats, 'run', 'p99') ?? pick(stats, 'latency', 'p99')),
    restartsByCause:
      causes !== null && typeof causes === 'object'
        ? Object.fromEntries(Object.entries(causes as Record<string, unknown>).map(([k, v]) => [k, num(v)]))
        : {},
    state: typeof stats.state === 'string' ? stats.state : 'running',
  };
}

/** How many hosts are in each state. */
function hostStates(hosts: unknown): Record<string, number> {
  const states: Record<string, number> = {};
  if (!Array.isArray(hosts)) return states;
  for (const host of hosts) {
    const state = host !== null && typeof host === 'object' ? (host as Record<string, unknown>).state : undefined;
    if (typeof state === 'string') states[state] = (states[state] ?? 0) + 1;
  }
  return states;
}

export function describeEvent(event: SupervisorEvent): ObservedEvent {
  const observed: ObservedEvent = { type: event.type, supervisor: event.supervisor, id: event.id, path: event.path, at: event.at };
  if ('reason' in event) observed.reason = formatReason(event.reason as ExitReason);
  if (event.type === 'restarting') {
    observed.attempt = event.attempt;
    observed.delay = event.delay;
  }
  return observed;
}

export class ObserverModel {
  readonly #system: ActorSystem;
  readonly #options: ResolvedObserverOptions;
  readonly #events: ObservedEvent[] = [];
  readonly #history = new Map<string, PoolSample[]>();
  readonly #gaveUp = new Map<string, number>();
  readonly #eventListeners = new Set<(event: ObservedEvent) => void>();
  #down: ObservedDown | undefined;

  constructor(system: ActorSystem, options: ResolvedObserverOptions) {
    this.#system = system;
    this.#options = options;
    system.events.on('event', this.#onEvent);
    void system.down.then(({ cause, reason, path, at }) => {
      this.#down = { cause, reason: formatReason(reason), path, at };
    });
  }

  /** How the system went down, once it has. */
  get down(): ObservedDown | undefined {
    return this.#down;
  }

  /** The last events, oldest first. */
  get events(): readonly ObservedEvent[] {
    return this.#events;
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe function. */
  onEvent(listener: (event: ObservedEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Reads the tree and samples every pool once. */
  async snapshot(): Promise<Snapshot> {
    const at = Date.now();
    const tree = await readTree(this.#system);
    const pools = new Map<string, { pool: ObservablePool; path: string | undefined }>();
    for (const found of poolsInTree(tree)) pools.set(found.name, { pool: found.pool, path: found.path });
    for (const [name, pool] of Object.entries(this.#options.pools)) if (!pools.has(name)) pools.set(name, { pool, path: undefined });
    const views: PoolView[] = [];
    for (const [name, { pool, path }] of pools) {
      let raw: object;
      try {
        raw = pool.stats();
      } catch {
        continue; // a pool that is gone has no stats; it leaves the page with its node
      }
      const history = this.#history.get(name) ?? [];
      const latest = sampleOf(raw, at, history);
      history.push(latest);
      if (history.length > this.#options.history) history.splice(0, history.length - this.#options.history);
      this.#history.set(name, history);
      views.push({ name, path, latest, history: [...history] });
    }
    return {
      at,
      system: this.#system.name,
      ...(this.#down && { down: this.#down }),
      tree: stripRefs(tree),
      pools: views,
      gaveUp: Object.fromEntries(this.#gaveUp),
      historyLimit: this.#options.history,
    };
  }

  /** The snapshot as a tick of the live stream carries it: each pool's latest sample only. */
  static tick(snapshot: Snapshot): Snapshot {
    return { ...snapshot, pools: snapshot.pools.map(({ history: _history, ...view }) => view) };
  }

  close(): void {
    this.#system.events.off('event', this.#onEvent);
    this.#eventListeners.clear();
  }

  readonly #onEvent = (event: SupervisorEvent): void => {
    const observed = describeEvent(event);
    if (event.type === 'gave_up') this.#gaveUp.set(event.supervisor, (this.#gaveUp.get(event.supervisor) ?? 0) + 1);
    this.#events.push(observed);
    if (this.#events.length > this.#options.events) this.#events.splice(0, this.#events.length - this.#options.events);
    for (const listener of this.#eventListeners) listener(observed);
  };
}

/** The tree as sent to the page: no object references, only data. */
function stripRefs(nodes: ObservedNode[]): ObservedNode[] {
  return nodes.map(({ pool: _pool, ...rest }) => ({ ...rest, children: stripRefs(rest.children) }));
}
