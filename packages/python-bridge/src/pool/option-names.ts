/**
 * The names each options object may have. Unknown names are errors, not silence: `{ sise: 4 }`
 * would otherwise start a pool of the default size without a word. The lists are tied to the
 * interfaces at compile time (`names<T>()`), so adding an option to an interface without listing it
 * here does not compile; README's tables are held to them by test/pool/readme-options.test.ts.
 */
import type { AllowOptions, CallOptions, PoolOptions, RecycleOptions, SizeLimits, StreamOptions, SupervisionOptions } from './options.js';
import { names } from '../validation.js';

export const POOL_OPTION_NAMES = names<PoolOptions>()([
  'size', 'path', 'python', 'env', 'cwd', 'preload', 'startMethod', 'startTimeout', 'callTimeout', 'maxQueue', 'maxMessageSize',
  'batchCallsUnderMs', 'shutdownTimeout', 'streamIdleTimeout', 'recycle', 'supervision', 'allow', 'remote', 'onOutput', 'events',
  'expose', 'idleTimeout', 'concurrency', 'cancelGrace',
]);

export const SIZE_LIMIT_NAMES = names<SizeLimits>()(['min', 'max']);

export const RECYCLE_OPTION_NAMES = names<RecycleOptions>()(['afterCalls', 'aboveMemory']);
export const SUPERVISION_OPTION_NAMES = names<SupervisionOptions>()(['intensity', 'period', 'backoff']);
export const ALLOW_OPTION_NAMES = names<AllowOptions>()(['modules', 'private', 'reexports']);

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
 * Throws a TypeError for the first own key of `value` that `renamed` maps to a new spelling (a
 * name of 0.1), giving that spelling: `options.intensity is now options.supervision.intensity:
 * write { supervision: { intensity: … } }`. Names that are merely unknown are `rejectUnknownKeys`'s.
 */
export function rejectRenamedKeys(where: string, value: object, renamed: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(value)) {
    const moved = Object.hasOwn(renamed, name) ? renamed[name] : undefined;
    if (moved !== undefined) throw new TypeError(`${where}.${name} is now ${where}.${moved}: write ${spelled(moved)}`);
  }
}

/** `recycle.afterCalls` as an options object shows it: `{ recycle: { afterCalls: … } }`. */
function spelled(path: string): string {
  return path.split('.').reduceRight((inner, key) => `{ ${key}: ${inner} }`, '…');
}
