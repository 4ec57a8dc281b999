/**
 * Unknown option names are errors, not silence: `{ sise: 4 }` would otherwise start a pool of
 * the default size without a word. Each options object is checked against the names its interface
 * declares; the lists below are tied to the interfaces at compile time, so adding an option to an
 * interface without listing it here does not compile.
 */
import type { AllowOptions, CallOptions, PoolOptions, RecycleOptions, RemoteOptions, StreamOptions, SupervisionOptions } from './options.js';
import type { Heartbeat } from '../remote/agent-link.js';
import type { HostOptions } from '../remote/options.js';

/** The names of `T`, checked at compile time: a missing key is reported as `missing: 'thatKey'`. */
function names<T>() {
  return <const Listed extends readonly (keyof T & string)[]>(
    list: Listed & ([Exclude<keyof T, Listed[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, Listed[number]> }),
  ): readonly string[] => list;
}

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
    const guess = closest(name, known);
    throw new TypeError(
      `${what}.${name} is not an option${guess === undefined ? '' : `; did you mean ${guess}?`} ` +
        `(known: ${known.join(', ')})`,
    );
  }
}

/** `recycle.afterCalls` as an options object shows it: `{ recycle: { afterCalls: … } }`. */
function spelled(path: string): string {
  return path.split('.').reduceRight((inner, key) => `{ ${key}: ${inner} }`, '…');
}

/** The known name nearest to `name`, if it is a plausible typo of it (case-insensitive edit distance). */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // One edit in four characters at most ('sise' → 'size', 'pth' → 'path', 'callTimout' → 'callTimeout').
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 4)) ? best : undefined;
}

/** Levenshtein distance with transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
