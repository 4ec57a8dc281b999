/** The pool's options for interpreters on other hosts: their validation, one field at a time. */
import type { CurveKeyPair, Heartbeat } from './agent-link.js';

/** One host lending interpreters to the pool, through its agent. */
export interface HostOptions {
  /** The agent's control endpoint, `tcp://host:port` (`python -m piton.agent --bind …`). */
  agent: string;
  /** The agent's CURVE public key (Z85, 40 characters), as `npx piton keys` printed it. */
  serverKey: string;
  /** Interpreters to keep running on that host. Minimum 1. */
  size: number;
}

/**
 * Hosts found by a DNS name: every address its A and AAAA records give is one host, its agent at
 * `tcp://ADDRESS:port`, all with the same server key and size (a Kubernetes headless Service of
 * agents is such a name). The name is resolved again every `interval` ms: an address that appears
 * is added, one that is gone is drained and removed; a failed resolution keeps the hosts found last.
 */
export interface DnsHostsOptions {
  /** The name to resolve, e.g. `piton-agents.ml.svc.cluster.local`. */
  dns: string;
  /** The agents' control port. */
  port: number;
  /** The public key (Z85) every agent behind the name has: they share one key pair. */
  serverKey: string;
  /** Interpreters to keep running on each host. Minimum 1. */
  size: number;
  /** ms between resolutions. @default 5000 */
  interval?: number;
}

/** A `hosts` entry: one agent, or the agents a DNS name resolves to. */
export type HostEntry = HostOptions | DnsHostsOptions;

export interface RemoteOptions {
  /** Hosts named one by one (`agent`), started with the pool. */
  hosts: HostOptions[];
  /** DNS names whose addresses are hosts, re-resolved while the pool runs. */
  discover: Required<DnsHostsOptions>[];
  keys: CurveKeyPair;
  heartbeat: Heartbeat;
}

/** How often a DNS name of hosts is resolved again, by default. */
export const DEFAULT_DNS_INTERVAL = 5_000;

/** ZMTP and agent heartbeats: a ping every second, a peer silent for 3 s is lost. */
export const DEFAULT_HEARTBEAT: Heartbeat = { interval: 1_000, timeout: 3_000 };

const Z85 = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** `field`: the option's full name (`options.keys.publicKey`, `addHost(host).serverKey`); a bare one is under `options.`. */
function full(field: string): string {
  return field.startsWith('options.') || field.includes('(') ? field : `options.${field}`;
}

function key(field: string, value: unknown): string {
  if (typeof value !== 'string' || !Z85.test(value)) {
    throw new TypeError(`${full(field)} must be a Z85 CURVE key of 40 characters (npx piton keys makes a pair), got ${typeof value === 'string' ? `${value.length} characters` : typeof value}`);
  }
  return value;
}

function ms(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new TypeError(`${full(field)} must be an integer from ${min} to ${2 ** 31 - 1} (ms), got ${String(value)}`);
  }
  return value;
}

function known(field: string, value: object, names: string[]): void {
  for (const name of Object.keys(value)) {
    if (!names.includes(name)) throw new TypeError(`${full(field)}.${name} is not an option (known: ${names.join(', ')})`);
  }
}

function hostSize(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new RangeError(`${full(field)}.size must be an integer >= 1, got ${String(value)}`);
  return value;
}

/** Checks one agent's entry (a `hosts` item, or the argument of `pool.addHost`). */
export function resolveHost(h: unknown, field: string): HostOptions {
  if (h === null || typeof h !== 'object') throw new TypeError(`${field} must be an object { agent, serverKey, size }`);
  known(field, h, ['agent', 'serverKey', 'size']);
  const host = h as Record<string, unknown>;
  if (typeof host.agent !== 'string' || !/^tcp:\/\/.+:\d+$/.test(host.agent)) {
    throw new TypeError(`${field}.agent must be a tcp://host:port endpoint (CURVE is mandatory on tcp), got ${String(host.agent)}`);
  }
  return { agent: host.agent, serverKey: key(`${field}.serverKey`, host.serverKey), size: hostSize(field, host.size) };
}

function resolveDnsEntry(h: Record<string, unknown>, field: string): Required<DnsHostsOptions> {
  known(field, h, ['dns', 'port', 'serverKey', 'size', 'interval']);
  if (typeof h.dns !== 'string' || !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(h.dns)) {
    throw new TypeError(`${full(field)}.dns must be a DNS name (piton-agents.ml.svc.cluster.local), got ${String(h.dns)}`);
  }
  const port = h.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(`${full(field)}.port must be an integer from 1 to 65535, got ${String(port)}`);
  }
  const interval = h.interval === undefined ? DEFAULT_DNS_INTERVAL : ms(`${field}.interval`, h.interval, 10);
  return { dns: h.dns, port, serverKey: key(`${field}.serverKey`, h.serverKey), size: hostSize(field, h.size), interval };
}

/**
 * `undefined` when the pool has no remote hosts and no keys to add any; else the checked options.
 * `keys` alone (no `hosts`) makes a pool that may be given hosts later, with `pool.addHost`.
 */
export function resolveRemoteOptions(options: { hosts?: unknown; keys?: unknown; heartbeat?: unknown }): RemoteOptions | undefined {
  if (options.hosts === undefined && options.keys === undefined) {
    if (options.heartbeat !== undefined) throw new TypeError('options.heartbeat is for remote interpreters: give options.keys (and options.hosts) too');
    return undefined;
  }
  const entries = options.hosts ?? [];
  if (!Array.isArray(entries)) throw new TypeError('options.hosts must be an array of { agent, serverKey, size } or { dns, port, serverKey, size }');
  const hosts: HostOptions[] = [];
  const discover: Required<DnsHostsOptions>[] = [];
  entries.forEach((h: unknown, i) => {
    const field = `hosts[${i}]`;
    if (h !== null && typeof h === 'object' && 'dns' in h) discover.push(resolveDnsEntry(h as Record<string, unknown>, field));
    else hosts.push(resolveHost(h, `options.${field}`));
  });
  const agents = hosts.map((h) => h.agent);
  const twice = agents.find((a, i) => agents.indexOf(a) !== i);
  if (twice !== undefined) throw new TypeError(`options.hosts names the agent ${twice} twice: give it one entry with the total size`);
  const names = discover.map((d) => d.dns);
  const nameTwice = names.find((n, i) => names.indexOf(n) !== i);
  if (nameTwice !== undefined) throw new TypeError(`options.hosts names the DNS name ${nameTwice} twice`);
  const keys = options.keys;
  if (keys === null || typeof keys !== 'object') throw new TypeError('options.keys must be this Node\'s CURVE key pair { publicKey, secretKey } (npx piton keys)');
  known('keys', keys, ['publicKey', 'secretKey']);
  const pair = keys as Record<string, unknown>;
  const heartbeat = (options.heartbeat ?? DEFAULT_HEARTBEAT) as Record<string, unknown>;
  if (heartbeat === null || typeof heartbeat !== 'object') throw new TypeError('options.heartbeat must be { interval, timeout } in ms');
  known('heartbeat', heartbeat, ['interval', 'timeout']);
  const interval = ms('heartbeat.interval', heartbeat.interval ?? DEFAULT_HEARTBEAT.interval, 10);
  const timeout = ms('heartbeat.timeout', heartbeat.timeout ?? DEFAULT_HEARTBEAT.timeout, 10);
  if (timeout <= interval) throw new TypeError(`options.heartbeat.timeout (${timeout}) must be greater than heartbeat.interval (${interval})`);
  return {
    hosts,
    discover,
    keys: { publicKey: key('keys.publicKey', pair.publicKey), secretKey: key('keys.secretKey', pair.secretKey) },
    heartbeat: { interval, timeout },
  };
}
