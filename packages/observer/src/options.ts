/** The observer's options: types, defaults and one validator per field. */
import { checkNumber, describeValue as described, rejectUnknownKeys } from '@piton/core';

/** What the observer needs of a pool: its `stats()` (a `PythonPool` or a `PoolRef` is one). */
export interface ObservablePool {
  stats(): object;
}

export interface ObserverOptions {
  /** TCP port; 0 picks a free one (read it from `obs.url`). @default 0 */
  port?: number;
  /**
   * Interface to listen on. Anything but a loopback address needs `token`, since the page shows
   * the system's structure, pids and error messages. @default '127.0.0.1'
   */
  host?: string;
  /** Required by every request (`?token=` or `Authorization: Bearer`); required off loopback. */
  token?: string;
  /** ms between samples of the tree and the pools while someone watches. Minimum 50. @default 500 */
  sampleInterval?: number;
  /** Samples kept per pool for the charts. Minimum 10. @default 600 (5 minutes at 500 ms) */
  history?: number;
  /** Recent events kept and sent to a page that opens. Minimum 1. @default 200 */
  events?: number;
  /** Pools to show beside those found in the tree, by name. */
  pools?: Record<string, ObservablePool>;
}

export interface ResolvedObserverOptions {
  port: number;
  host: string;
  token: string | undefined;
  sampleInterval: number;
  history: number;
  events: number;
  pools: Record<string, ObservablePool>;
}

export const OBSERVER_DEFAULTS = { port: 0, host: '127.0.0.1', sampleInterval: 500, history: 600, events: 200 } as const;

const KNOWN: readonly string[] = ['port', 'host', 'token', 'sampleInterval', 'history', 'events', 'pools'];

/** Loopback names and addresses: the only ones served without a token. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

// The rule and message form of every package (@piton/core's validation kit): a TypeError for a
// wrong name or type, a RangeError for a number out of range, and
// `<where> must be <expected>, got <value described>`.

function integer(name: string, value: unknown, min: number, max: number): number {
  return checkNumber(`options.${name}`, value, { min, max, integer: true });
}

export function resolveObserverOptions(options: ObserverOptions = {}): ResolvedObserverOptions {
  if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${described(options)}`);
  rejectUnknownKeys('options', options, KNOWN); // the one check of every package (@piton/core)
  const port = integer('port', options.port ?? OBSERVER_DEFAULTS.port, 0, 65_535);
  const host = options.host ?? OBSERVER_DEFAULTS.host;
  if (typeof host !== 'string' || host === '') throw new TypeError(`options.host must be a non-empty string, got ${described(host)}`);
  const token = options.token;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new TypeError(`options.token must be a string of at least 16 characters, got ${typeof token === 'string' ? `${token.length} characters` : described(token)}`);
  }
  if (!isLoopback(host) && token === undefined) {
    throw new TypeError(`options.host ${JSON.stringify(host)} is not a loopback address: give a token too`);
  }
  const pools = options.pools ?? {};
  if (pools === null || typeof pools !== 'object') throw new TypeError(`options.pools must be an object of name → pool, got ${described(pools)}`);
  for (const [name, pool] of Object.entries(pools)) {
    if (typeof (pool as ObservablePool | undefined)?.stats !== 'function') {
      throw new TypeError(`options.pools.${name} must have a stats() method, got ${described(pool)}`);
    }
  }
  return {
    port,
    host,
    token,
    sampleInterval: integer('sampleInterval', options.sampleInterval ?? OBSERVER_DEFAULTS.sampleInterval, 50, 3_600_000),
    history: integer('history', options.history ?? OBSERVER_DEFAULTS.history, 10, 100_000),
    events: integer('events', options.events ?? OBSERVER_DEFAULTS.events, 1, 100_000),
    pools,
  };
}
