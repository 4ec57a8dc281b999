/**
 * The pool's remote hosts as a set that changes while the pool runs: the hosts given at start,
 * those added with `pool.addHost`, and those a DNS name gives (dns-hosts.ts). Each host is one
 * child of the pool's `hosts` supervisor (hosts.ts has its subtree).
 *
 * - **Given at start**: started with the tree, their links made in its start, so that a host that
 *   cannot be reached fails the pool's start (as a local interpreter that cannot start does).
 * - **Added** (`addHost`, a DNS name): the link is made here first, outside any supervisor's
 *   mailbox, retried with backoff until it holds; then the host's supervisor is started with that
 *   link. Every attempt that fails says why, at once, in a `host` event and `stats().hosts`
 *   (`refused`, naming the key, or `unreachable`): a host with a bad key is never retried silently.
 * - **Removed** (`removeHost`, a name that no longer gives it): the host is **drained**: its
 *   interpreters take no new call at once (queued calls go to the others), those in flight get up to
 *   `shutdownTimeout` to finish, then its supervisor is stopped (interpreters first, link last,
 *   with a `bye`) and deleted. Its interpreters' exits have cause `shrink`; nothing is counted as
 *   lost, nothing is retried.
 */
import { supervisor, type ChildSpec, type SupervisorRef } from '@piton/core';
import { AgentConnectError, PoolStoppedError } from '../errors.js';
import type { Interpreter, InterpreterOptions } from '../interpreter/interpreter.js';
import type { HostEvent, HostState, HostStatus, InterpreterEvent } from '../ops/events.js';

export type { HostStatus };
import type { WorkerEnvironment } from '../supervision/python-worker.js';
import { AgentLink } from './agent-link.js';
import { HOST_RETRY_MAX_MS, HOST_RETRY_MIN_MS, hostChild } from './hosts.js';
import type { HostOptions, ResolvedRemoteOptions } from './options.js';


export interface HostSetDeps {
  pool: string;
  remote: ResolvedRemoteOptions;
  startTimeout: number;
  shutdownTimeout: number;
  /** The pool's workers' environment (readiness joins the dispatcher, exits are reported). */
  environment: WorkerEnvironment;
  interpreterOptions(workerId: string): InterpreterOptions;
  emit(event: HostEvent): void;
  /** Where the hosts' interpreters' `launching`, `ready` and failed starts are told, as local ones'. */
  emitInterpreter(event: InterpreterEvent): void;
  /** Takes an interpreter out of service; resolves once its work in flight has settled. */
  detach(interpreter: Interpreter): Promise<void>;
}

class Host {
  state: HostState = 'connecting';
  error: string | undefined;
  since = Date.now();
  link: AgentLink | undefined;
  readonly interpreters = new Set<Interpreter>();
  draining = false;
  /** Its supervisor is a child of `hosts`. */
  inTree = false;
  /** Settles when it serves (or rejects when it is removed, or the pool stops, first). */
  readonly up: Promise<void>;
  resolveUp!: () => void;
  rejectUp!: (error: Error) => void;
  /** The bring-up loop of an added host. */
  bringUp: Promise<void> = Promise.resolve();
  /** Cuts short the wait between two attempts. */
  wake: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly options: HostOptions,
    readonly dns: string | undefined,
  ) {
    this.up = new Promise((resolve, reject) => {
      this.resolveUp = resolve;
      this.rejectUp = reject;
    });
    this.up.catch(() => undefined); // a caller who did not wait for it is not told twice
  }
}

export class HostSet {
  readonly #deps: HostSetDeps;
  readonly #hosts = new Map<string, Host>();
  #ref: SupervisorRef | undefined;
  #next = 0;
  #closed: Error | undefined;

  constructor(deps: HostSetDeps) {
    this.#deps = deps;
    for (const host of deps.remote.hosts) this.#entry(host, undefined);
  }

  /**
   * The `hosts` supervisor: one child per host given at start, each making its link in its start
   * (a host that cannot be reached fails the pool's start). It never gives up: a host's own
   * supervisor retries it forever.
   */
  childSpec(): ChildSpec {
    const initial = [...this.#hosts.values()];
    return {
      id: 'hosts',
      type: 'supervisor',
      start: async (ctx) => {
        const children = initial.map((host) => hostChild(this.#wiring(host), (id) => this.#deps.interpreterOptions(id), this.#deps.remote, this.#deps));
        const started = await supervisor({ strategy: 'one_for_one', intensity: Number.MAX_SAFE_INTEGER, period: 1, children })(ctx);
        for (const host of initial) {
          host.inTree = true;
          host.resolveUp();
        }
        this.#ref = started.ref;
        return started;
      },
    };
  }

  /** Whether `agent` is in the set (draining included). */
  has(agent: string): boolean {
    return this.#hosts.has(agent);
  }

  /** The agents in the set and not draining, found by `dns` if given. */
  agents(dns?: string): string[] {
    return [...this.#hosts.values()].filter((h) => !h.draining && (dns === undefined || h.dns === dns)).map((h) => h.options.agent);
  }

  /** Interpreters the hosts are to run (draining ones left out). */
  get size(): number {
    let n = 0;
    for (const host of this.#hosts.values()) if (!host.draining) n += host.options.size;
    return n;
  }

  /**
   * Interpreters readiness waits for: every host named (given at start or added), and those a DNS
   * name found that are connected (a name's hosts come and go; one that cannot be reached does
   * not hold the pool's readiness).
   */
  get required(): number {
    let n = 0;
    for (const host of this.#hosts.values()) {
      if (!host.draining && (host.dns === undefined || host.state === 'connected')) n += host.options.size;
    }
    return n;
  }

  status(): HostStatus[] {
    return [...this.#hosts.values()].map((host) => ({
      id: host.id,
      agent: host.options.agent,
      ...(host.dns !== undefined && { dns: host.dns }),
      size: host.options.size,
      serving: host.interpreters.size,
      state: host.state,
      ...(host.error !== undefined && { error: host.error }),
      since: host.since,
    }));
  }

  /** Adds a host while the pool runs; resolves once its interpreters serve (see the top of this file). */
  add(options: HostOptions, dns?: string): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#hosts.has(options.agent)) {
      return Promise.reject(new TypeError(`addHost(host): the agent ${options.agent} is in the pool already${this.#hosts.get(options.agent)!.draining ? ' (being removed)' : ''}`));
    }
    const host = this.#entry(options, dns);
    host.bringUp = this.#bringUp(host);
    return host.up;
  }

  /** Drains and removes a host; resolves once its interpreters have stopped. */
  async remove(agent: string): Promise<void> {
    const host = this.#hosts.get(agent);
    if (host === undefined || host.draining) throw new TypeError(`removeHost(agent): no host with the agent ${String(agent)} in the pool${host ? ' (it is being removed)' : ''}`);
    host.draining = true;
    this.#set(host, 'draining');
    host.rejectUp(new AgentConnectError(agent, 'the host was removed before it served'));
    host.wake?.();
    await host.bringUp;
    // No new calls from now on; those in flight get up to shutdownTimeout.
    await within(Promise.all([...host.interpreters].map((interpreter) => this.#deps.detach(interpreter))), this.#deps.shutdownTimeout);
    const ref = this.#ref;
    if (host.inTree && ref) {
      await ref.terminateChild(host.id).then(() => ref.deleteChild(host.id)).catch(() => undefined);
    }
    this.#hosts.delete(agent);
    this.#set(host, 'removed');
  }

  /** The pool stops: no more attempts; adds not yet serving reject. */
  close(error: Error = new PoolStoppedError('the pool is stopping')): void {
    this.#closed ??= error;
    for (const host of this.#hosts.values()) {
      host.rejectUp(error);
      host.wake?.();
    }
  }

  #entry(options: HostOptions, dns: string | undefined): Host {
    const host = new Host(`host-${++this.#next}`, options, dns);
    this.#hosts.set(options.agent, host);
    this.#set(host, 'connecting');
    return host;
  }

  #set(host: Host, state: HostState, error?: string): void {
    if (host.state === state && host.error === error && state !== 'connecting') return;
    host.state = state;
    host.error = error;
    host.since = Date.now();
    this.#deps.emit({
      type: 'host',
      pool: this.#deps.pool,
      host: host.id,
      agent: host.options.agent,
      ...(host.dns !== undefined && { dns: host.dns }),
      state,
      ...(error !== undefined && { error }),
      at: host.since,
    });
  }

  /** Makes a link to the host's agent, and reports how it went. */
  async #connect(host: Host): Promise<AgentLink> {
    const { remote, startTimeout } = this.#deps;
    let link: AgentLink;
    try {
      link = await AgentLink.connect({ agent: host.options.agent, serverKey: host.options.serverKey, keys: remote.keys, heartbeat: remote.heartbeat, connectTimeout: startTimeout });
    } catch (error) {
      if (!host.draining && !this.#closed) {
        const refused = error instanceof AgentConnectError && error.refused !== undefined;
        this.#set(host, refused ? 'refused' : 'unreachable', error instanceof Error ? error.message : String(error));
      }
      throw error;
    }
    host.link = link;
    if (!host.draining) this.#set(host, 'connected');
    void link.lost.then((error) => {
      if (host.link === link && !host.draining && !this.#closed) this.#set(host, 'lost', error.message);
    });
    return link;
  }

  /** What one host's subtree is given: its readiness and exits go through here. */
  #wiring(host: Host) {
    const shared = this.#deps.environment;
    const environment: WorkerEnvironment = {
      ...shared,
      onReady: (interpreter, recycle) => {
        if (host.draining) return; // being removed: it takes no call, and stops with its host
        host.interpreters.add(interpreter);
        shared.onReady(interpreter, recycle);
      },
      onLeave: (interpreter) => {
        host.interpreters.delete(interpreter);
        return shared.onLeave(interpreter);
      },
      onExit: (workerId, interpreter, info, cause) => shared.onExit(workerId, interpreter, info, host.draining && cause === 'stop' ? 'shrink' : cause),
    };
    return { id: host.id, host: host.options, environment, connect: () => this.#connect(host), link: () => host.link };
  }

  /** An added host: link first (retried with backoff), then its supervisor with that link. */
  async #bringUp(host: Host): Promise<void> {
    for (let attempt = 0; !host.draining && !this.#closed; attempt++) {
      let link: AgentLink | undefined;
      try {
        link = await this.#connect(host);
        const ref = this.#ref;
        if (host.draining || this.#closed || ref === undefined) {
          link.close();
          return;
        }
        await ref.startChild(hostChild(this.#wiring(host), (id) => this.#deps.interpreterOptions(id), this.#deps.remote, this.#deps, link));
        host.inTree = true;
        host.resolveUp();
        return;
      } catch (error) {
        link?.close(); // its supervisor did not start (an interpreter of it did not): try again whole
        if (link !== undefined && !host.draining && !this.#closed) {
          this.#set(host, 'unreachable', error instanceof Error ? error.message : String(error));
        }
      }
      await this.#pause(host, Math.min(HOST_RETRY_MAX_MS, HOST_RETRY_MIN_MS * 2 ** attempt));
    }
  }

  #pause(host: Host, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        host.wake = undefined;
        resolve();
      }
      host.wake = done;
    });
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.then(() => undefined, () => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
