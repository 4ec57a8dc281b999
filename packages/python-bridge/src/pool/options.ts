import { availableParallelism } from 'node:os';
import { MAX_TIMER_DELAY } from '@piton/core';
import { isAbsolute, resolve } from 'node:path';
import type { PoolEvent } from '../ops/lifecycle.js';
import type { CurveKeyPair, Heartbeat } from '../remote/agent-link.js';
import { resolveRemoteOptions, type HostOptions, type RemoteOptions } from '../remote/options.js';
import { CALL_OPTION_NAMES, POOL_OPTION_NAMES, rejectUnknownOptions, STREAM_OPTION_NAMES } from './option-names.js';
import type { ExposedFunction } from '../interpreter/callbacks.js';

/** Options of `PythonPool.start` and `pythonPool`. Every field is optional; an unknown name is a TypeError. */
export interface PoolOptions {
  /** Interpreters kept running. Minimum 1. @default os.availableParallelism() */
  size?: number;
  /**
   * Directories added to the interpreters' `sys.path`; modules under them are callable. A relative
   * entry resolves against `cwd` when given, else `process.cwd()`; an entry that is not a directory
   * fails the start. @default []
   */
  path?: string | string[];
  /**
   * The Python executable. @default `$PITON_PYTHON`, else the project's environment made by
   * `npx piton setup` (`<project>/.venv/bin/python`, the project being the one whose node_modules
   * hold this package, whatever the cwd) if it exists, else `python3`. Resolved once, at start, to
   * the real interpreter (`sys.executable`), so that restarts skip wrapper scripts such as pyenv shims.
   */
  python?: string;
  /** Extra environment for the interpreters (added to `process.env`). */
  env?: Record<string, string | undefined>;
  /** Working directory of the interpreters, and the base of a relative `path` or `python`. @default process.cwd() */
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
  /** ms an interpreter is given to finish its call and exit when the pool stops; also how long `stop({ drain: true })` and `drain()` wait for queued calls. @default 5000 */
  shutdownTimeout?: number;
  /**
   * ms an open stream may go without being pulled before its generator is closed and its
   * interpreter freed (an iterator dropped without `break` would otherwise hold it for good);
   * `0` turns the limit off. @default 60000
   */
  streamIdleTimeout?: number;
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
  /**
   * A callable name must be defined in a module that is itself callable: a path module's
   * `from os import system` does not make `system` callable. `true` lifts this for every module,
   * a list for the modules named. @default false
   */
  allowReexports?: boolean | string[];
  /**
   * Receives every line an interpreter prints, tagged with its worker id; `false` drops them.
   * @default the system's `'output'` event when it has a listener, else the Node process's stderr,
   * each line prefixed with its worker (`[python-1] …`)
   */
  onOutput?: ((output: InterpreterOutput) => void) | false;
  /**
   * Receives every event of the pool from its first moment: the supervisor's `started`,
   * `exited`, `restarting`, `gave_up`… of each interpreter worker (including during `start`), and
   * `'interpreter'` replacements with their cause. The same events reach `system.events` (`'event'`
   * and `'interpreter'`), where a listener added after `start()` resolves misses the start-up.
   * @default undefined
   */
  events?: (event: PoolEvent) => void;
  /**
   * Node functions Python may call during a call: `from piton import node; node.call('name', *args,
   * **kwargs)` runs `expose.name(...args, kwargs?)` (keyword arguments, if any, as one last plain
   * object) and returns its awaited result; a throw raises `piton.NodeError` in Python. The time
   * spent counts toward the call's timeout. A pool that exposes functions runs every call alone
   * (no batching), and refuses calls made to it from inside these functions
   * (`ReentrantCallError`). @default {} (none)
   * @example { lookup: async (key) => cache.get(key) }
   */
  expose?: Record<string, ExposedFunction>;
  /**
   * Hosts that lend interpreters to the pool, each through its agent (`python -m piton.agent`):
   * `[{ agent: 'tcp://gpu-1:7100', serverKey, size }]`. Their interpreters serve calls like local
   * ones. With `hosts`, `size` (the local interpreters) defaults to 0. See README, "More than one machine".
   */
  hosts?: HostOptions[];
  /** This Node's CURVE key pair `{ publicKey, secretKey }` (Z85; `npx piton keys`), required with `hosts`. */
  keys?: CurveKeyPair;
  /** Liveness of remote hosts, in ms: a ping every `interval`, lost after `timeout` of silence. @default { interval: 1000, timeout: 3000 } */
  heartbeat?: Partial<Heartbeat>;
  /**
   * Calls (and streams) each interpreter runs at once, interleaved on its event loop: `async def`
   * functions overlap while they await; a sync function holds its interpreter while it runs, as
   * at `concurrency: 1` (README, "async def and concurrency"). The pool's capacity is `size` ×
   * `concurrency`. An integer from 1 to 10000. @default 1
   */
  concurrency?: number;
  /**
   * ms a call that timed out or was aborted is given to end after its task was cancelled in Python
   * (`CancelledError` is raised where it awaits; its `finally` runs), before its interpreter is
   * killed and replaced, taking the other calls in flight on it along (they reject with
   * `WorkerExitedError`). Sync code cannot be cancelled: its interpreter is killed at once.
   * @default 1000
   */
  cancelTimeout?: number;
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
  /** Local interpreters (0 when every interpreter is remote). */
  size: number;
  /** Interpreters on other hosts, if any. */
  remote: RemoteOptions | undefined;
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
  streamIdleTimeout: number | undefined;
  restartBackoff: { min: number; max: number } | undefined;
  allowModules: string[];
  allowPrivate: boolean;
  /** `['*']` for all. */
  allowReexports: string[];
  onOutput: ((output: InterpreterOutput) => void) | false | undefined;
  events: ((event: PoolEvent) => void) | undefined;
  /** Undefined when nothing is exposed. */
  expose: Readonly<Record<string, ExposedFunction>> | undefined;
  concurrency: number;
  cancelTimeout: number;
}

const defaults = {
  startTimeout: 10_000,
  maxQueue: 10_000,
  maxMessageSize: 256 * 1024 * 1024,
  batchCallsUnderMs: 2,
  intensity: 10,
  period: 10_000,
  shutdownTimeout: 5_000,
  streamIdleTimeout: 60_000,
  restartBackoff: { min: 1, max: 1_000 },
  concurrency: 1,
  cancelTimeout: 1_000,
} as const;

/** The most calls one interpreter may run at once (each is a lane: a socket on both sides). */
export const MAX_CONCURRENCY = 10_000;

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

/** A count: a TypeError for what is not a number, a RangeError for a number that is not an integer in range. */
function count(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer from ${min} to ${max}, got ${describe(value)}`);
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

/** The exposed functions: a plain object of functions, or undefined when there are none. */
function exposed(value: unknown): ResolvedPoolOptions['expose'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Map) {
    throw new TypeError(`options.expose must be an object of functions ({ name: fn }), got ${describe(value)}`);
  }
  const functions: Record<string, ExposedFunction> = {};
  for (const [name, fn] of Object.entries(value)) {
    if (typeof fn !== 'function') throw new TypeError(`options.expose.${name} must be a function, got ${describe(fn)}`);
    if (name === '') throw new TypeError('options.expose: a function name must not be empty');
    functions[name] = fn as ExposedFunction;
  }
  return Object.keys(functions).length === 0 ? undefined : Object.freeze(functions);
}

function backoff(value: PoolOptions['restartBackoff']): ResolvedPoolOptions['restartBackoff'] {
  if (value === false) return undefined;
  if (value === undefined) return { ...defaults.restartBackoff };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`options.restartBackoff must be { min, max } or false, got ${describe(value)}`);
  }
  const min = integer('restartBackoff.min', value.min, 1);
  const max = integer('restartBackoff.max', value.max, min);
  // The supervisor waits it out in one Node timer: beyond its limit it would fire after 1 ms.
  if (max > MAX_TIMER_DELAY) {
    throw new RangeError(`options.restartBackoff.max must be at most ${MAX_TIMER_DELAY} ms (Node's timer limit, ~24.8 days), got ${max}`);
  }
  return { min, max };
}

function reexports(value: PoolOptions['allowReexports']): string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return ['*'];
  if (!Array.isArray(value)) {
    throw new TypeError(`options.allowReexports must be a boolean or an array of module names, got ${describe(value)}`);
  }
  return stringList('allowReexports', value);
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
/** Every interpreter the pool keeps: its local `size` and each host's. */
export function interpreterCount(options: Pick<ResolvedPoolOptions, 'size' | 'remote'>): number {
  return options.size + (options.remote?.hosts.reduce((n, h) => n + h.size, 0) ?? 0);
}

export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  rejectUnknownOptions('options', options, POOL_OPTION_NAMES);
  const expose = exposed(options.expose);
  if (expose !== undefined && options.batchCallsUnderMs !== undefined && options.batchCallsUnderMs !== 0) {
    throw new RangeError(
      `options.batchCallsUnderMs cannot be used with options.expose: a pool that exposes functions runs every call alone, ` +
        `so that no call waits on another call's callback (got batchCallsUnderMs ${describe(options.batchCallsUnderMs)})`,
    );
  }
  const cwd = options.cwd === undefined ? process.cwd() : stringList('cwd', options.cwd)[0]!;
  if (options.python !== undefined && (typeof options.python !== 'string' || options.python === '')) {
    throw new TypeError(`options.python must be a non-empty string, got ${describe(options.python)}`);
  }
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) {
    throw new TypeError(`options.env must be an object of strings, got ${describe(options.env)}`);
  }
  if (options.onOutput !== undefined && options.onOutput !== false && typeof options.onOutput !== 'function') {
    throw new TypeError(`options.onOutput must be a function or false, got ${describe(options.onOutput)}`);
  }
  if (options.events !== undefined && typeof options.events !== 'function') {
    throw new TypeError(`options.events must be a function, got ${describe(options.events)}`);
  }
  const remote = resolveRemoteOptions(options);
  return {
    size: options.size === undefined ? (remote ? 0 : availableParallelism()) : integer('size', options.size, remote ? 0 : 1),
    remote,
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
    batchCallsUnderMs: expose ? 0 : nonNegative('batchCallsUnderMs', options.batchCallsUnderMs ?? defaults.batchCallsUnderMs),
    intensity: integer('intensity', options.intensity ?? defaults.intensity, 0),
    period: integer('period', options.period ?? defaults.period, 1),
    shutdownTimeout: integer('shutdownTimeout', options.shutdownTimeout ?? defaults.shutdownTimeout, 0),
    streamIdleTimeout: integer('streamIdleTimeout', options.streamIdleTimeout ?? defaults.streamIdleTimeout, 0) || undefined,
    restartBackoff: backoff(options.restartBackoff),
    allowModules: stringList('allowModules', options.allowModules),
    allowPrivate: options.allowPrivate ?? false,
    allowReexports: reexports(options.allowReexports),
    onOutput: options.onOutput,
    events: options.events,
    expose,
    concurrency: options.concurrency === undefined ? defaults.concurrency : count('concurrency', options.concurrency, 1, MAX_CONCURRENCY),
    cancelTimeout:
      options.cancelTimeout === undefined ? defaults.cancelTimeout : count('cancelTimeout', options.cancelTimeout, 0, MAX_TIMER_DELAY),
  };
}

/** Per-call options of `call` and `stream`. */
export interface CallOptions {
  /** Keyword arguments: `f(*args, **kwargs)`. */
  kwargs?: Record<string, unknown>;
  /**
   * ms before the call rejects with `CallTimeoutError`. A running `async def` call is cancelled
   * (its task gets `CancelledError`; the pool's `cancelTimeout` bounds how long it may take to
   * end); a call running sync code has its interpreter replaced. @default the pool's callTimeout
   */
  timeout?: number;
  /** Aborting removes a queued call, or gives up on a running one as a timeout does, with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Times the call is run again if its interpreter dies during it (never when Python raises).
   * Only for idempotent functions: a call may then run more than once. @default 0
   */
  retries?: number;
  /**
   * Receives each value the call's Python passes to `piton.progress(value)`, in order, before the
   * call settles. Each costs a round trip to Node while Python waits, so report at the rate you
   * want to see; without `onProgress`, `progress()` sends nothing. Called synchronously, between
   * two messages: if it throws, the call rejects with that error once Python has returned.
   * A call with `onProgress` is never batched with others.
   */
  onProgress?: (value: unknown) => void;
  /**
   * Send the memory of typed arrays (and `NdArray`s) in the arguments as it is, without copying it
   * at `call()`. The caller promises not to write to those arrays until the call settles; without
   * `transfer`, Python receives the values as they were at `call()`, at the cost of one copy.
   * @default false
   */
  transfer?: boolean;
}

export interface StreamOptions extends Omit<CallOptions, 'retries' | 'timeout' | 'onProgress' | 'transfer'> {
  /** Items the interpreter computes per round trip, so at most this many ahead of the consumer. @default 1 */
  batch?: number;
  /** ms to wait for an interpreter; the stream then rejects with `CallTimeoutError`. */
  timeout?: number;
  /**
   * ms an open stream may go without being pulled: then its generator is closed, its interpreter
   * freed, and a later pull rejects with `CallTimeoutError`. Bounds what an iterator that was
   * dropped without `break` or `return()` holds. @default the pool's streamIdleTimeout
   */
  idleTimeout?: number;
}

function checkName(what: string, name: unknown): void {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`the ${what} name must be a non-empty string, got ${String(name)} (${typeof name})`);
  }
}

/** What `call` and `stream` share: names, args, kwargs, signal, unknown options. */
function checkRequest(module: unknown, fn: unknown, args: unknown, options: unknown, known: readonly string[]): void {
  checkName('module', module);
  checkName('function', fn);
  if (!Array.isArray(args)) throw new TypeError(`args must be an array, got ${describe(args)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  rejectUnknownOptions('options', options, known);
  const { kwargs, signal } = options as CallOptions;
  if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))) {
    throw new TypeError(`options.kwargs must be a plain object, got ${describe(kwargs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
}

/** Checks a call's module, function, args and options; resolves the timeout. Throws naming the field. */
export function checkCall(module: unknown, fn: unknown, args: unknown, options: CallOptions, poolTimeout: number | undefined) {
  checkRequest(module, fn, args, options, CALL_OPTION_NAMES);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new TypeError(`options.onProgress must be a function, got ${describe(options.onProgress)}`);
  }
  const timeout = options.timeout ?? poolTimeout;
  if (timeout !== undefined) integer('timeout', timeout, 1);
  const retries = integer('retries', options.retries ?? 0, 0);
  if (options.transfer !== undefined && typeof options.transfer !== 'boolean') {
    throw new TypeError(`options.transfer must be a boolean, got ${describe(options.transfer)}`);
  }
  return { timeout, retries, transfer: options.transfer ?? false };
}

/** Checks a stream's module, function, args and options, as {@link checkCall} does a call's. */
export function checkStream(module: unknown, fn: unknown, args: unknown, options: StreamOptions, poolIdleTimeout: number | undefined) {
  checkRequest(module, fn, args, options, STREAM_OPTION_NAMES);
  const timeout = options.timeout === undefined ? undefined : integer('timeout', options.timeout, 1);
  const batch = integer('batch', options.batch ?? 1, 1);
  const idleTimeout = options.idleTimeout === undefined ? poolIdleTimeout : integer('idleTimeout', options.idleTimeout, 1);
  return { timeout, batch, idleTimeout };
}

