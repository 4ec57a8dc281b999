/**
 * The pool's `remote` options (interpreters on other hosts): their types, the names each object
 * may have, and their validation, one field at a time, by the rule and message form of
 * validation.ts. A key's value is never shown in a message: a secret key would end up in a log.
 */
import type { CurveKeyPair, Heartbeat } from './agent-link.js';
import { checkNumber, describe, names, rejectUnknownKeys } from '../validation.js';

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

/** How `hosts` entries given by DNS name are resolved. */
export interface DnsOptions {
  /**
   * Name servers to ask, as `dns.Resolver#setServers` takes them (`'10.0.0.10'`,
   * `'127.0.0.1:5353'`, `'[::1]:53'`). @default the system's resolver configuration (/etc/resolv.conf)
   */
  servers?: string[];
}

/** Interpreters on other hosts, each started by the host's agent (`python -m piton.agent`). */
export interface RemoteOptions {
  /**
   * Hosts that lend interpreters to the pool: `[{ agent: 'tcp://gpu-1:7100', serverKey, size }]`,
   * or found by a DNS name, each address one host: `{ dns: 'piton-agents.ml.svc.cluster.local',
   * port: 7100, serverKey, size, interval }` (re-resolved every `interval` ms; hosts that appear are
   * added, those that go are drained). Their interpreters serve calls like local ones; with
   * `remote`, `size` (the local interpreters) defaults to 0. Left out (`keys` alone), the pool
   * starts with no host and may be given some later (`pool.addHost`). @default []
   */
  hosts?: HostEntry[];
  /** This Node's CURVE key pair `{ publicKey, secretKey }` (Z85; `npx piton keys`). */
  keys: CurveKeyPair;
  /** Liveness of remote hosts, in ms: a ping every `interval`, lost after `timeout` of silence. @default { interval: 1000, timeout: 3000 } */
  heartbeat?: Partial<Heartbeat>;
  /** How `hosts` entries given by DNS name are resolved. @default the system's resolver */
  dns?: DnsOptions;
}

/** `remote`, checked, with its defaults filled in. */
export interface ResolvedRemoteOptions {
  /** Hosts named one by one (`agent`), started with the pool. */
  hosts: HostOptions[];
  /** DNS names whose addresses are hosts, re-resolved while the pool runs. */
  discover: Required<DnsHostsOptions>[];
  keys: CurveKeyPair;
  heartbeat: Heartbeat;
  dns: { servers: string[] | undefined };
}

export const REMOTE_OPTION_NAMES = names<RemoteOptions>()(['hosts', 'keys', 'heartbeat', 'dns']);
export const HOST_OPTION_NAMES = names<HostOptions>()(['agent', 'serverKey', 'size']);
export const DNS_HOST_OPTION_NAMES = names<DnsHostsOptions>()(['dns', 'port', 'serverKey', 'size', 'interval']);
export const DNS_OPTION_NAMES = names<DnsOptions>()(['servers']);

/** How often a DNS name of hosts is resolved again, by default. */
export const DEFAULT_DNS_INTERVAL = 5_000;
export const KEY_PAIR_NAMES = names<CurveKeyPair>()(['publicKey', 'secretKey']);
export const HEARTBEAT_OPTION_NAMES = names<Heartbeat>()(['interval', 'timeout']);

/** ZMTP and agent heartbeats: a ping every second, a peer silent for 3 s is lost. */
export const DEFAULT_HEARTBEAT: Heartbeat = { interval: 1_000, timeout: 3_000 };
/** libzmq takes heartbeat times as 32-bit ints of ms: the limit of a heartbeat's interval and timeout. */
const MAX_HEARTBEAT_MS = 2 ** 31 - 1;

const Z85 = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

function key(where: string, value: unknown): string {
  if (typeof value !== 'string' || !Z85.test(value)) {
    const got = typeof value === 'string' ? `a string of ${value.length} characters` : value === null ? 'null' : `a ${typeof value}`;
    throw new TypeError(`${where} must be a Z85 CURVE key of 40 characters (npx piton keys makes a pair), got ${got}`);
  }
  return value;
}

/** An object whose keys are all in `known`. */
function record(where: string, value: unknown, expected: string, known: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where} must be ${expected}, got ${describe(value)}`);
  rejectUnknownKeys(where, value, known);
  return value as Record<string, unknown>;
}

/**
 * Checks one agent's entry: a `remote.hosts` item, or the argument of `pool.addHost` (`where`
 * names it in errors: `options.remote.hosts[0]`, `addHost(host)`).
 */
export function resolveHost(value: unknown, where: string): HostOptions {
  const given = record(where, value, 'an object { agent, serverKey, size }', HOST_OPTION_NAMES);
  if (typeof given.agent !== 'string' || !/^tcp:\/\/.+:\d+$/.test(given.agent)) {
    throw new TypeError(`${where}.agent must be a tcp://host:port endpoint (CURVE is mandatory on tcp), got ${describe(given.agent)}`);
  }
  const size = checkNumber(`${where}.size`, given.size, { min: 1, integer: true });
  return { agent: given.agent, serverKey: key(`${where}.serverKey`, given.serverKey), size };
}

function dnsEntry(value: Record<string, unknown>, where: string): Required<DnsHostsOptions> {
  rejectUnknownKeys(where, value, DNS_HOST_OPTION_NAMES);
  if (typeof value.dns !== 'string' || !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(value.dns)) {
    throw new TypeError(`${where}.dns must be a DNS name (piton-agents.ml.svc.cluster.local), got ${describe(value.dns)}`);
  }
  const port = checkNumber(`${where}.port`, value.port, { min: 1, max: 65_535, integer: true });
  const size = checkNumber(`${where}.size`, value.size, { min: 1, integer: true });
  const interval = value.interval === undefined ? DEFAULT_DNS_INTERVAL : checkNumber(`${where}.interval`, value.interval, { min: 10, integer: true });
  return { dns: value.dns, port, serverKey: key(`${where}.serverKey`, value.serverKey), size, interval };
}

function dnsOptions(value: unknown): ResolvedRemoteOptions['dns'] {
  if (value === undefined) return { servers: undefined };
  const given = record('options.remote.dns', value, 'an object { servers }', DNS_OPTION_NAMES);
  const servers = given.servers;
  if (servers === undefined) return { servers: undefined };
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s !== '')) {
    throw new TypeError(`options.remote.dns.servers must be a non-empty array of addresses ('10.0.0.10', '127.0.0.1:5353'), got ${describe(servers)}`);
  }
  return { servers: [...(servers as string[])] };
}

/**
 * `undefined` when the pool has no remote hosts; else the checked options. `keys` without `hosts`
 * makes a pool that may be given hosts later, with `pool.addHost`.
 */
export function resolveRemoteOptions(value: unknown): ResolvedRemoteOptions | undefined {
  if (value === undefined) return undefined;
  const options = record('options.remote', value, 'an object { hosts, keys, heartbeat, dns }', REMOTE_OPTION_NAMES);
  const entries = options.hosts ?? [];
  if (!Array.isArray(entries)) {
    throw new TypeError(`options.remote.hosts must be an array of { agent, serverKey, size } or { dns, port, serverKey, size }, got ${describe(options.hosts)}`);
  }
  const hosts: HostOptions[] = [];
  const discover: Required<DnsHostsOptions>[] = [];
  entries.forEach((entry: unknown, i) => {
    const where = `options.remote.hosts[${i}]`;
    if (entry !== null && typeof entry === 'object' && 'dns' in entry) discover.push(dnsEntry(entry as Record<string, unknown>, where));
    else hosts.push(resolveHost(entry, where));
  });
  const agents = hosts.map((h) => h.agent);
  const twice = agents.find((a, i) => agents.indexOf(a) !== i);
  if (twice !== undefined) throw new TypeError(`options.remote.hosts names the agent ${twice} twice: give it one entry with the total size`);
  const names = discover.map((d) => d.dns);
  const nameTwice = names.find((n, i) => names.indexOf(n) !== i);
  if (nameTwice !== undefined) throw new TypeError(`options.remote.hosts names the DNS name ${nameTwice} twice`);
  if (options.keys === null || typeof options.keys !== 'object' || Array.isArray(options.keys)) {
    throw new TypeError("options.remote.keys must be this Node's CURVE key pair { publicKey, secretKey } (npx piton keys)");
  }
  rejectUnknownKeys('options.remote.keys', options.keys, KEY_PAIR_NAMES);
  const pair = options.keys as Record<string, unknown>;
  const heartbeat = record('options.remote.heartbeat', options.heartbeat ?? {}, '{ interval, timeout } in ms', HEARTBEAT_OPTION_NAMES);
  const bounds = { min: 10, max: MAX_HEARTBEAT_MS, integer: true };
  const interval = checkNumber('options.remote.heartbeat.interval', heartbeat.interval ?? DEFAULT_HEARTBEAT.interval, bounds);
  const timeout = checkNumber('options.remote.heartbeat.timeout', heartbeat.timeout ?? DEFAULT_HEARTBEAT.timeout, bounds);
  if (timeout <= interval) {
    throw new RangeError(`options.remote.heartbeat.timeout must be greater than its interval (${interval} ms), got ${describe(timeout)}`);
  }
  return {
    hosts,
    discover,
    dns: dnsOptions(options.dns),
    keys: { publicKey: key('options.remote.keys.publicKey', pair.publicKey), secretKey: key('options.remote.keys.secretKey', pair.secretKey) },
    heartbeat: { interval, timeout },
  };
}
