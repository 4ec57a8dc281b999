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

/** Interpreters on other hosts, each started by the host's agent (`python -m piton.agent`). */
export interface RemoteOptions {
  /**
   * Hosts that lend interpreters to the pool: `[{ agent: 'tcp://gpu-1:7100', serverKey, size }]`.
   * Their interpreters serve calls like local ones; with `remote`, `size` (the local interpreters)
   * defaults to 0.
   */
  hosts: HostOptions[];
  /** This Node's CURVE key pair `{ publicKey, secretKey }` (Z85; `npx piton keys`). */
  keys: CurveKeyPair;
  /** Liveness of remote hosts, in ms: a ping every `interval`, lost after `timeout` of silence. @default { interval: 1000, timeout: 3000 } */
  heartbeat?: Partial<Heartbeat>;
}

/** `remote`, checked, with its defaults filled in. */
export interface ResolvedRemoteOptions {
  hosts: HostOptions[];
  keys: CurveKeyPair;
  heartbeat: Heartbeat;
}

export const REMOTE_OPTION_NAMES = names<RemoteOptions>()(['hosts', 'keys', 'heartbeat']);
export const HOST_OPTION_NAMES = names<HostOptions>()(['agent', 'serverKey', 'size']);
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

function host(value: unknown, i: number): HostOptions {
  const where = `options.remote.hosts[${i}]`;
  const given = record(where, value, 'an object { agent, serverKey, size }', HOST_OPTION_NAMES);
  if (typeof given.agent !== 'string' || !/^tcp:\/\/.+:\d+$/.test(given.agent)) {
    throw new TypeError(`${where}.agent must be a tcp://host:port endpoint (CURVE is mandatory on tcp), got ${describe(given.agent)}`);
  }
  const size = checkNumber(`${where}.size`, given.size, { min: 1, integer: true });
  return { agent: given.agent, serverKey: key(`${where}.serverKey`, given.serverKey), size };
}

/** `undefined` when the pool has no remote hosts; else the checked options. */
export function resolveRemoteOptions(value: unknown): ResolvedRemoteOptions | undefined {
  if (value === undefined) return undefined;
  const options = record('options.remote', value, 'an object { hosts, keys, heartbeat }', REMOTE_OPTION_NAMES);
  if (!Array.isArray(options.hosts) || options.hosts.length === 0) {
    throw new TypeError(`options.remote.hosts must be a non-empty array of { agent, serverKey, size }, got ${describe(options.hosts)}`);
  }
  const hosts = options.hosts.map(host);
  const agents = hosts.map((h) => h.agent);
  const twice = agents.find((a, i) => agents.indexOf(a) !== i);
  if (twice !== undefined) throw new TypeError(`options.remote.hosts names the agent ${twice} twice: give it one entry with the total size`);
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
    keys: { publicKey: key('options.remote.keys.publicKey', pair.publicKey), secretKey: key('options.remote.keys.secretKey', pair.secretKey) },
    heartbeat: { interval, timeout },
  };
}
