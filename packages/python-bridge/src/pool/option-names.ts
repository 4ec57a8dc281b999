/**
 * Unknown option names are errors, not silence: `{ sise: 4 }` would otherwise start a pool of
 * the default size without a word. Each options object is checked against the names its interface
 * declares; the lists below are tied to the interfaces at compile time, so adding an option to an
 * interface without listing it here does not compile.
 */
import type { CallOptions, PoolOptions, StreamOptions } from './options.js';

/** The names of `T`, checked at compile time: a missing key is reported as `missing: 'thatKey'`. */
function names<T>() {
  return <const Listed extends readonly (keyof T & string)[]>(
    list: Listed & ([Exclude<keyof T, Listed[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, Listed[number]> }),
  ): readonly string[] => list;
}

export const POOL_OPTION_NAMES = names<PoolOptions>()([
  'size', 'path', 'python', 'env', 'cwd', 'preload', 'startTimeout', 'callTimeout', 'maxQueue',
  'maxTasksPerWorker', 'maxMemoryPerWorker', 'maxMessageSize', 'batchCallsUnderMs', 'intensity',
  'period', 'shutdownTimeout', 'restartBackoff', 'allowModules', 'allowPrivate', 'allowReexports', 'onOutput', 'events', 'expose', 'streamIdleTimeout', 'startMethod',
  'hosts', 'keys', 'heartbeat', 'concurrency', 'cancelTimeout',
]);

export const CALL_OPTION_NAMES = names<CallOptions>()(['kwargs', 'timeout', 'signal', 'retries', 'onProgress', 'transfer']);

export const STREAM_OPTION_NAMES = names<StreamOptions>()(['kwargs', 'signal', 'batch', 'timeout', 'idleTimeout']);

/**
 * Throws a TypeError naming the first own property of `options` that is not in `known`, with the
 * closest known name when one is near enough to be a typo. `what` prefixes the name in the message
 * (`options`, `call options`).
 */
export function rejectUnknownOptions(what: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const guess = closest(name, known);
    throw new TypeError(
      `${what}.${name} is not an option${guess === undefined ? '' : `; did you mean ${guess}?`} ` +
        `(known: ${known.join(', ')})`,
    );
  }
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
