/** The pool's `remote` options (interpreters on other hosts): their validation, one field at a time. */
import { rejectUnknownKeys } from '@piton/core';
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

/** `remote`, checked, with its defaults filled in. */
export interface ResolvedRemoteOptions {
  hosts: HostOptions[];
  keys: CurveKeyPair;
  heartbeat: Heartbeat;
}

/** ZMTP and agent heartbeats: a ping every second, a peer silent for 3 s is lost. */
export const DEFAULT_HEARTBEAT: Heartbeat = { interval: 1_000, timeout: 3_000 };

const Z85 = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

function key(field: string, value: unknown): string {
  if (typeof value !== 'string' || !Z85.test(value)) {
    throw new TypeError(`options.${field} must be a Z85 CURVE key of 40 characters (npx piton keys makes a pair), got ${typeof value === 'string' ? `${value.length} characters` : typeof value}`);
  }
  return value;
}

function ms(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new TypeError(`options.${field} must be an integer from ${min} to ${2 ** 31 - 1} (ms), got ${String(value)}`);
  }
  return value;
}

function known(field: string, value: object, names: string[]): void {
  rejectUnknownKeys(`options.${field}`, value, names);
}

/** `undefined` when the pool has no remote hosts; else the checked options. */
export function resolveRemoteOptions(value: unknown): ResolvedRemoteOptions | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('options.remote must be an object { hosts, keys, heartbeat }');
  known('remote', value, ['hosts', 'keys', 'heartbeat']);
  const options = value as { hosts?: unknown; keys?: unknown; heartbeat?: unknown };
  if (!Array.isArray(options.hosts) || options.hosts.length === 0) throw new TypeError('options.remote.hosts must be a non-empty array of { agent, serverKey, size }');
  const hosts = options.hosts.map((h: unknown, i): HostOptions => {
    const field = `remote.hosts[${i}]`;
    if (h === null || typeof h !== 'object') throw new TypeError(`options.${field} must be an object { agent, serverKey, size }`);
    known(field, h, ['agent', 'serverKey', 'size']);
    const host = h as Record<string, unknown>;
    if (typeof host.agent !== 'string' || !/^tcp:\/\/.+:\d+$/.test(host.agent)) {
      throw new TypeError(`options.${field}.agent must be a tcp://host:port endpoint (CURVE is mandatory on tcp), got ${String(host.agent)}`);
    }
    const size = host.size;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) throw new TypeError(`options.${field}.size must be an integer >= 1, got ${String(size)}`);
    return { agent: host.agent, serverKey: key(`${field}.serverKey`, host.serverKey), size };
  });
  const agents = hosts.map((h) => h.agent);
  const twice = agents.find((a, i) => agents.indexOf(a) !== i);
  if (twice !== undefined) throw new TypeError(`options.remote.hosts names the agent ${twice} twice: give it one entry with the total size`);
  const keys = options.keys;
  if (keys === null || typeof keys !== 'object') throw new TypeError('options.remote.keys must be this Node\'s CURVE key pair { publicKey, secretKey } (npx piton keys)');
  known('remote.keys', keys, ['publicKey', 'secretKey']);
  const pair = keys as Record<string, unknown>;
  const heartbeat = (options.heartbeat ?? DEFAULT_HEARTBEAT) as Record<string, unknown>;
  if (heartbeat === null || typeof heartbeat !== 'object') throw new TypeError('options.remote.heartbeat must be { interval, timeout } in ms');
  known('remote.heartbeat', heartbeat, ['interval', 'timeout']);
  const interval = ms('remote.heartbeat.interval', heartbeat.interval ?? DEFAULT_HEARTBEAT.interval, 10);
  const timeout = ms('remote.heartbeat.timeout', heartbeat.timeout ?? DEFAULT_HEARTBEAT.timeout, 10);
  if (timeout <= interval) throw new TypeError(`options.remote.heartbeat.timeout (${timeout}) must be greater than remote.heartbeat.interval (${interval})`);
  return {
    hosts,
    keys: { publicKey: key('remote.keys.publicKey', pair.publicKey), secretKey: key('remote.keys.secretKey', pair.secretKey) },
    heartbeat: { interval, timeout },
  };
}
