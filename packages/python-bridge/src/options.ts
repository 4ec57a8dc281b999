import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

/** Options of `PythonPool.start` and `pythonPool`. Every field is optional. */
export interface PoolOptions {
  /** Interpreters kept running. Minimum 1. @default os.availableParallelism() */
  size?: number;
  /** Directories added to the interpreters' `sys.path`; modules under them are callable. @default [] */
  path?: string | string[];
  /**
   * The Python executable. @default `$PITON_PYTHON`, else `./.venv/bin/python` if it exists, else
   * `python3`. Resolved once, at start, to the real interpreter (`sys.executable`), so that
   * restarts skip wrapper scripts such as pyenv shims.
   */
  python?: string;
  /** Extra environment for the interpreters (added to `process.env`). */
  env?: Record<string, string | undefined>;
  /** Working directory of the interpreters. @default process.cwd() */
  cwd?: string;
  /** Modules imported before an interpreter reports ready (their import errors fail the start). */
  preload?: string[];
  /**
   * How interpreters are made. `'forkserver'`: one server process per pool imports the runtime and
   * `preload` once and forks each interpreter from it (milliseconds, preloaded memory shared
   * copy-on-write); a preload must not leave threads running (else see README). `'spawn'`: each
   * interpreter is a fresh `python -m piton.worker` that imports everything itself.
   * @default 'forkserver' on Linux, else 'spawn'
   */
  startMethod?: StartMethod;
  /** ms an interpreter may take from spawn to ready. @default 10000 */
  startTimeout?: number;
  /** Default per-call timeout in ms; `undefined` means none. @default undefined */
  callTimeout?: number;
  /** Calls that may wait for an interpreter; one more rejects with `QueueFullError`. @default 10000 */
  maxQueue?: number;
  /** Calls an interpreter serves before it is replaced by a fresh one. @default undefined (never) */
  maxTasksPerWorker?: number;
  /**
   * Resident memory (RSS, bytes) an interpreter may hold after a call; above it the interpreter is
   * replaced by a fresh one once the call has returned (Linux: read from /proc). @default undefined (no limit)
   */
  maxMemoryPerWorker?: number;
  /** Largest message, in bytes, either side accepts. @default 268435456 (256 MiB) */
  maxMessageSize?: number;
  /**
   * Queued calls to functions that have averaged under this many ms share a round trip (up to
   * 16 per trip, taken from the head of the queue); 0 turns this off. @default 2
   */
  batchCallsUnderMs?: number;
  /** Restart intensity: more than `intensity` restarts within `period` ms stop the pool. @default 10 */
  intensity?: number;
  /** @default 10000 */
  period?: number;
  /** ms an interpreter is given to finish its call and exit when the pool stops. @default 5000 */
  shutdownTimeout?: number;
  /**
   * Delay before restarting a crashed interpreter: `min` ms, doubling with each crash that follows
   * closely, up to `max`; so a crash loop never spins hot while intensity bounds its length.
   * `false` restarts at once. @default { min: 1, max: 1000 }
   */
  restartBackoff?: { min: number; max: number } | false;
  /** Modules outside `path` whose functions may be called (e.g. `['math']`). @default [] */
  allowModules?: string[];
  /** Allow calling names that start with `_`. @default false */
  allowPrivate?: boolean;
  /** Receives every line an interpreter prints, tagged with its worker id. @default the system's events */
  onOutput?: (output: InterpreterOutput) => void;
}

export type StartMethod = 'forkserver' | 'spawn';

/** The default start method: the fork server needs fork() and PR_SET_PDEATHSIG (Linux). */
export const DEFAULT_START_METHOD: StartMethod = process.platform === 'linux' ? 'forkserver' : 'spawn';

/** A line an interpreter printed. */
export interface InterpreterOutput {
  worker: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

declare module '@piton/core' {
  // Interpreter output joins the system's events, next to the supervisors' 'event's.
  interface SystemEventMap {
    output: [InterpreterOutput];
  }
}

export interface ResolvedPoolOptions {
  size: number;
  path: string[];
  python: string | undefined;
  env: Record<string, string | undefined>;
  cwd: string;
  preload: string[];
  startMethod: StartMethod;
  /** The user chose `startMethod` (a fork-unsafe preload then fails the start instead of falling back to spawn). */
  startMethodExplicit: boolean;
  startTimeout: number;
  callTimeout: number | undefined;
  maxQueue: number;
  maxTasksPerWorker: number | undefined;
  maxMemoryPerWorker: number | undefined;
  maxMessageSize: number;
  batchCallsUnderMs: number;
  intensity: number;
  period: number;
  shutdownTimeout: number;
  restartBackoff: { min: number; max: number } | undefined;
  allowModules: string[];
  allowPrivate: boolean;
  onOutput: ((output: InterpreterOutput) => void) | undefined;
}

const defaults = {
  startTimeout: 10_000,
  maxQueue: 10_000,
  maxMessageSize: 256 * 1024 * 1024,
  batchCallsUnderMs: 2,
  intensity: 10,
  period: 10_000,
  shutdownTimeout: 5_000,
  restartBackoff: { min: 1, max: 1_000 },
} as const;

function describe(value: unknown): string {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `${shown} (${value === null ? 'null' : typeof value})`;
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`options.${name} must be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RangeError(`options.${name} must be a number >= 0, got ${describe(value)}`);
  }
  return value;
}

function optionalInteger(name: string, value: unknown, min: number): number | undefined {
  return value === undefined ? undefined : integer(name, value, min);
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string' && item.length > 0)) {
    throw new TypeError(`options.${name} must be a non-empty string or an array of them, got ${describe(value)}`);
  }
  return list;
}

function backoff(value: PoolOptions['restartBackoff']): ResolvedPoolOptions['restartBackoff'] {
  if (value === false) return undefined;
  if (value === undefined) return { ...defaults.restartBackoff };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`options.restartBackoff must be { min, max } or false, got ${describe(value)}`);
  }
  const min = integer('restartBackoff.min', value.min, 1);
  const max = integer('restartBackoff.max', value.max, min);
  return { min, max };
}

function startMethod(value: unknown): StartMethod {
  if (value === undefined) return DEFAULT_START_METHOD;
  if (value !== 'forkserver' && value !== 'spawn') {
    throw new TypeError(`options.startMethod must be 'forkserver' or 'spawn', got ${describe(value)}`);
  }
  if (value === 'forkserver' && process.platform !== 'linux') {
    throw new RangeError(`options.startMethod 'forkserver' needs Linux (fork and PR_SET_PDEATHSIG); use 'spawn' on ${process.platform}`);
  }
  return value;
}

/** Checks every option, naming the one that is wrong, and fills in the defaults. */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  const cwd = options.cwd === undefined ? process.cwd() : stringList('cwd', options.cwd)[0]!;
  if (options.python !== undefined && (typeof options.python !== 'string' || options.python === '')) {
    throw new TypeError(`options.python must be a non-empty string, got ${describe(options.python)}`);
  }
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) {
    throw new TypeError(`options.env must be an object of strings, got ${describe(options.env)}`);
  }
  if (options.onOutput !== undefined && typeof options.onOutput !== 'function') {
    throw new TypeError(`options.onOutput must be a function, got ${describe(options.onOutput)}`);
  }
  return {
    size: options.size === undefined ? availableParallelism() : integer('size', options.size, 1),
    path: stringList('path', options.path).map((dir) => (isAbsolute(dir) ? dir : resolve(cwd, dir))),
    python: options.python,
    env: { ...options.env },
    cwd: resolve(cwd),
    preload: stringList('preload', options.preload),
    startMethod: startMethod(options.startMethod),
    startMethodExplicit: options.startMethod !== undefined,
    startTimeout: integer('startTimeout', options.startTimeout ?? defaults.startTimeout, 1),
    callTimeout: optionalInteger('callTimeout', options.callTimeout, 1),
    maxQueue: integer('maxQueue', options.maxQueue ?? defaults.maxQueue, 0),
    maxTasksPerWorker: optionalInteger('maxTasksPerWorker', options.maxTasksPerWorker, 1),
    maxMemoryPerWorker: optionalInteger('maxMemoryPerWorker', options.maxMemoryPerWorker, 1),
    maxMessageSize: integer('maxMessageSize', options.maxMessageSize ?? defaults.maxMessageSize, 1024),
    batchCallsUnderMs: nonNegative('batchCallsUnderMs', options.batchCallsUnderMs ?? defaults.batchCallsUnderMs),
    intensity: integer('intensity', options.intensity ?? defaults.intensity, 0),
    period: integer('period', options.period ?? defaults.period, 1),
    shutdownTimeout: integer('shutdownTimeout', options.shutdownTimeout ?? defaults.shutdownTimeout, 0),
    restartBackoff: backoff(options.restartBackoff),
    allowModules: stringList('allowModules', options.allowModules),
    allowPrivate: options.allowPrivate ?? false,
    onOutput: options.onOutput,
  };
}

/** Per-call options of `call` and `stream`. */
export interface CallOptions {
  /** Keyword arguments: `f(*args, **kwargs)`. */
  kwargs?: Record<string, unknown>;
  /** ms before the call rejects with `CallTimeoutError` and its interpreter is replaced. @default the pool's callTimeout */
  timeout?: number;
  /** Aborting removes a queued call, or kills and replaces the interpreter running it. */
  signal?: AbortSignal;
  /**
   * Times the call is run again if its interpreter dies during it (never when Python raises).
   * Only for idempotent functions: a call may then run more than once. @default 0
   */
  retries?: number;
}

export interface StreamOptions extends Omit<CallOptions, 'retries' | 'timeout'> {
  /** Items the interpreter computes per round trip, so at most this many ahead of the consumer. @default 1 */
  batch?: number;
  /** ms to wait for an interpreter; the stream then rejects with `CallTimeoutError`. */
  timeout?: number;
}

export function checkCallOptions(options: CallOptions, poolTimeout: number | undefined) {
  const timeout = options.timeout ?? poolTimeout;
  if (timeout !== undefined) integer('timeout', timeout, 1);
  const retries = options.retries ?? 0;
  integer('retries', retries, 0);
  if (options.kwargs !== undefined && (typeof options.kwargs !== 'object' || options.kwargs === null || Array.isArray(options.kwargs))) {
    throw new TypeError(`options.kwargs must be a plain object, got ${describe(options.kwargs)}`);
  }
  return { timeout, retries };
}
