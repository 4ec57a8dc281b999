/**
 * Hosts found by a DNS name (a `hosts` entry `{ dns, port, serverKey, size, interval }`): each
 * address of its A and AAAA records is one host, its agent at `tcp://ADDRESS:port`. The name is
 * resolved at once and then every `interval` ms (the next resolution is timed from the end of the
 * last, so a slow server never stacks them): an address that appears is added to the pool's host
 * set, one that is gone is drained and removed (host-set.ts).
 *
 * A failed resolution (a timeout, a server failure, no such name, no address) changes nothing:
 * the hosts found last are kept, and a `dns` event says it failed and why. An outage of DNS must
 * not drain a pool whose hosts are healthy; hosts that are really gone are seen as lost by their
 * heartbeats meanwhile, and take no calls.
 */
import { Resolver } from 'node:dns/promises';
import type { HostEvent } from '../ops/events.js';
import type { HostSet } from './host-set.js';
import type { DnsHostsOptions } from './options.js';

/** How long one query may take, and how many times it is sent, before the resolution fails. */
export const DNS_QUERY_TIMEOUT_MS = 1_000;
export const DNS_QUERY_TRIES = 2;

/** A resolver for the pool's DNS names: the system's servers, or `servers`. */
export function hostResolver(servers: string[] | undefined): Resolver {
  const resolver = new Resolver({ timeout: DNS_QUERY_TIMEOUT_MS, tries: DNS_QUERY_TRIES });
  if (servers !== undefined) resolver.setServers(servers);
  return resolver;
}

/** The name's A and AAAA addresses; throws when it has none or a query failed (other than "no such record"). */
export async function resolveAddresses(resolver: Resolver, name: string): Promise<string[]> {
  const answers = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const absent = (reason: unknown) => ['ENODATA', 'ENOTFOUND'].includes((reason as { code?: string }).code ?? '');
  const found: string[] = [];
  let why: unknown;
  for (const answer of answers) {
    if (answer.status === 'fulfilled') found.push(...answer.value);
    else if (!absent(answer.reason)) throw answer.reason;
    else why ??= answer.reason;
  }
  if (found.length === 0) throw why ?? new Error(`${name} has no A or AAAA record`);
  return [...new Set(found)].sort();
}

/** The agent's endpoint at `address` (IPv6 in brackets). */
export function agentEndpoint(address: string, port: number): string {
  return address.includes(':') ? `tcp://[${address}]:${port}` : `tcp://${address}:${port}`;
}

export class DnsHosts {
  readonly #entry: Required<DnsHostsOptions>;
  readonly #resolver: Resolver;
  readonly #hosts: HostSet;
  readonly #emit: (event: HostEvent) => void;
  readonly #pool: string;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Whether the last resolution failed (the next success is reported even without a change). */
  #failing = true;

  constructor(entry: Required<DnsHostsOptions>, resolver: Resolver, hosts: HostSet, emit: (event: HostEvent) => void, pool: string) {
    this.#entry = entry;
    this.#resolver = resolver;
    this.#hosts = hosts;
    this.#emit = emit;
    this.#pool = pool;
  }

  /** Resolves now, then every `interval`. */
  start(): void {
    void this.#resolve();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #resolve(): Promise<void> {
    if (this.#stopped) return;
    const { dns: name, port, serverKey, size, interval } = this.#entry;
    const current = this.#hosts.agents(name);
    let addresses: string[] | undefined;
    let error: unknown;
    try {
      addresses = await resolveAddresses(this.#resolver, name);
    } catch (e) {
      error = e;
    }
    if (this.#stopped) return;
    if (addresses === undefined) {
      this.#failing = true;
      const why = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
      this.#emit({ type: 'dns', pool: this.#pool, name, ok: false, agents: current, added: [], removed: [], error: `${why}; keeping the ${current.length} host(s) found last`, at: Date.now() });
    } else {
      const wanted = addresses.map((address) => agentEndpoint(address, port));
      const removed = current.filter((agent) => !wanted.includes(agent));
      // One still draining from an earlier change comes back at the next resolution.
      const added = wanted.filter((agent) => !this.#hosts.has(agent));
      for (const agent of removed) this.#hosts.remove(agent).catch(() => undefined);
      for (const agent of added) this.#hosts.add({ agent, serverKey, size }, name).catch(() => undefined);
      if (added.length > 0 || removed.length > 0 || this.#failing) {
        this.#emit({ type: 'dns', pool: this.#pool, name, ok: true, agents: wanted, added, removed, at: Date.now() });
      }
      this.#failing = false;
    }
    this.#timer = setTimeout(() => void this.#resolve(), interval);
    this.#timer.unref();
  }
}
