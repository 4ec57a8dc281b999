/**
 * Unknown option names are errors, not silence: `{ sise: 4 }` would otherwise start a pool of
 * the default size without a word. Each options object is checked against the names its interface
 * declares; the lists below are tied to the interfaces at compile time, so adding an option to an
 * interface without listing it here does not compile.
 */
import { names, rejectUnknownKeys } from '@piton/core';
import type { AllowOptions, CallOptions, PoolOptions, RecycleOptions, RemoteOptions, StreamOptions, SupervisionOptions } from './options.js';
import type { Heartbeat } from '../remote/agent-link.js';
import type { HostOptions } from '../remote/options.js';

export const POOL_OPTION_NAMES = names<PoolOptions>()([
  'size', 'path', 'python', 'env', 'cwd', 'preload', 'startMethod', 'startTimeout', 'callTimeout', 'maxQueue', 'maxMessageSize',
  'batchCallsUnderMs', 'shutdownTimeout', 'streamIdleTimeout', 'recycle', 'supervision', 'allow', 'remote', 'onOutput', 'events',
  'expose',
]);

export const RECYCLE_OPTION_NAMES = names<RecycleOptions>()(['afterCalls', 'aboveMemory']);
export const SUPERVISION_OPTION_NAMES = names<SupervisionOptions>()(['intensity', 'period', 'backoff']);
export const ALLOW_OPTION_NAMES = names<AllowOptions>()(['modules', 'private', 'reexports']);
export const REMOTE_OPTION_NAMES = names<RemoteOptions>()(['hosts', 'keys', 'heartbeat']);
export const HOST_OPTION_NAMES = names<HostOptions>()(['agent', 'serverKey', 'size']);
export const HEARTBEAT_OPTION_NAMES = names<Heartbeat>()(['interval', 'timeout']);

export const CALL_OPTION_NAMES = names<CallOptions>()(['kwargs', 'timeout', 'signal', 'retries', 'onProgress', 'transfer', 'context']);

export const STREAM_OPTION_NAMES = names<StreamOptions>()(['kwargs', 'signal', 'batch', 'waitTimeout', 'idleTimeout', 'context']);

/** The pool options of 0.1 that moved into a family, and where each went (README, "Migrating from 0.1"). */
export const RENAMED_POOL_OPTIONS: Readonly<Record<string, string>> = {
  allowModules: 'allow.modules',
  allowPrivate: 'allow.private',
  allowReexports: 'allow.reexports',
  hosts: 'remote.hosts',
  keys: 'remote.keys',
  heartbeat: 'remote.heartbeat',
  maxTasksPerWorker: 'recycle.afterCalls',
  maxMemoryPerWorker: 'recycle.aboveMemory',
  intensity: 'supervision.intensity',
  period: 'supervision.period',
  restartBackoff: 'supervision.backoff',
};

/** A stream's `timeout` bounded only the wait for an interpreter: it is named for that now. */
export const RENAMED_STREAM_OPTIONS: Readonly<Record<string, string>> = { timeout: 'waitTimeout' };

/**
 * Throws a TypeError naming the first own property of `options` that is not in `known`, with the
 * closest known name when one is near enough to be a typo, or, for a name in `renamed`, its new
 * spelling. `what` prefixes the name in the message (`options`, `options.allow`).
 */
export function rejectUnknownOptions(what: string, options: object, known: readonly string[], renamed: Readonly<Record<string, string>> = {}): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const moved = Object.hasOwn(renamed, name) ? renamed[name] : undefined;
    if (moved !== undefined) throw new TypeError(`${what}.${name} is now ${what}.${moved}: write ${spelled(moved)}`);
  }
  // Not renamed: the one check every package uses (@piton/core), with its "did you mean".
  rejectUnknownKeys(what, options, known);
}

/** `recycle.afterCalls` as an options object shows it: `{ recycle: { afterCalls: … } }`. */
function spelled(path: string): string {
  return path.split('.').reduceRight((inner, key) => `{ ${key}: ${inner} }`, '…');
}

/** The typo hints of the one validation kit (@piton/core), for the command line's flags too. */
export { closest, editDistance } from '@piton/core';
