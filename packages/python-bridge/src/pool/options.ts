/**
 * The pool's options: what `PythonPool.start`/`pythonPool`, `call` and `stream` accept, their
 * defaults, and the resolved shape the rest of the pool reads. This file is the documented
 * contract: each option's TSDoc is the one source of its documentation (README's tables follow it,
 * and a test holds them to the same names). Checking and resolving them is validate.ts's job.
 */
import type { PoolEvent } from '../ops/lifecycle.js';
import type { RemoteOptions, ResolvedRemoteOptions } from '../remote/options.js';
import type { ExposedFunction } from '../interpreter/callbacks.js';
import type { AllowRules } from '../launch/command-line.js';
import type { InterpreterOutput } from '../ops/output.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../wire/codec.js';

/**
 * Options of `PythonPool.start` and `pythonPool`. Every field is optional. An unknown name is a
 * TypeError (with the name you probably meant); so is a name of before 0.2, whose message gives
 * its new spelling (README, "Migrating from 0.1").
 *
 * Glossary: a *worker* is a supervised slot of the pool, `python-N`, with a stable id; an
 * *interpreter* is the Python process in it, replaced (with a new pid) when it crashes or is
 * recycled.
 */
export interface PoolOptions {
  /**
   * Local interpreters kept running: a number (fixed, minimum 1; 0 with `remote`), or `{ min, max }`
   * for an elastic pool, which starts `min`, grows toward `max` while calls wait for an interpreter,
   * and stops interpreters idle for `idleTimeout` down to `min` (README, "Elastic size"). `min` may
   * be 0. @default os.availableParallelism(), or 0 with `remote`
   */
  size?: number | SizeLimits;
  /**
   * ms an interpreter of an elastic pool may stay idle before it is stopped, while the pool has
   * more than `size.min`. @default 30000
   */
  idleTimeout?: number;
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
  /**
   * Environment added to `process.env` for the interpreters; `undefined` removes a variable. A
   * function is asked for each interpreter, with the index of its slot (0 for `python-1`; a remote
   * host's slots count from 0 on each host), on every start and restart of that slot:
   * `(index) => ({ CUDA_VISIBLE_DEVICES: String(index % 4) })`. With the fork server, what the
   * function returns is set in the forked interpreter before it serves, after the server's
   * `preload`: a library imported by the preload that reads a variable at import has already read
   * the server's (README, "Per-interpreter environment").
   */
  env?: Record<string, string | undefined> | EnvForSlot;
  /**
   * Working directory of the interpreters (never importable: SECURITY.md, 3a), and the base of a
   * relative `path` or `python`. @default process.cwd()
   */
  cwd?: string;
  /** Modules imported before an interpreter reports ready (their import errors fail the start); once per pool with the fork server. @default [] */
  preload?: string[];
  /**
   * How interpreters are made (README, "Start methods"). `'forkserver'`: one server process per
   * pool imports the runtime and `preload` once and forks each interpreter from it (milliseconds,
   * preloaded memory shared copy-on-write); Linux only, and a preload that leaves threads running
   * fails the start. `'spawn'`: each interpreter is a fresh Python that imports everything itself.
   * `'auto'`: the fork server on Linux, falling back to spawn (with a warning) when a preload left
   * threads running; spawn elsewhere. @default 'auto'
   */
  startMethod?: StartMethod;
  /** ms an interpreter may take from spawn (or fork) to ready. @default 10000 */
  startTimeout?: number;
  /** Default per-call timeout in ms; `undefined` means none. @default undefined */
  callTimeout?: number;
  /** Calls that may wait for an interpreter; one more rejects with `QueueFullError`. @default 10000 */
  maxQueue?: number;
  /** Largest message, in bytes, either side accepts. @default 268435456 (256 MiB) */
  maxMessageSize?: number;
  /**
   * Queued calls to functions that have averaged under this many ms share a round trip (up to
   * 16 per trip, taken from the head of the queue); 0 turns this off. Must be 0 or left out with
   * `expose`. @default 2
   */
  batchCallsUnderMs?: number;
  /**
   * ms an interpreter is given to finish its call and exit when the pool stops; also how long
   * `stop({ drain: true })` and `drain()` wait for queued calls. @default 5000
   */
  shutdownTimeout?: number;
  /**
   * ms an open stream may go without being pulled before its generator is closed and its
   * interpreter freed (an iterator dropped without `break` would otherwise hold it for good);
   * `0` turns the limit off. @default 60000
   */
  streamIdleTimeout?: number;
  /** When a healthy interpreter is replaced by a fresh one. @default never */
  recycle?: RecycleOptions;
  /** How the pool's supervisors treat interpreters that fail to start (README, "The crash policy"). */
  supervision?: SupervisionOptions;
  /** What may be called besides the functions of modules under `path` (SECURITY.md, section 3). @default nothing more */
  allow?: AllowOptions;
  /** Interpreters on other hosts (README, "More than one machine"). @default none */
  remote?: RemoteOptions;
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
   * Calls (and streams) each interpreter runs at once, interleaved on its event loop: `async def`
   * functions overlap while they await; a sync function runs on the loop's thread and holds the
   * whole interpreter while it runs, as at `concurrency: 1` (README, "async def and concurrency").
   * The pool's capacity is its interpreters × `concurrency`. An integer from 1 to 10000. @default 1
   */
  concurrency?: number;
  /**
   * ms an `async def` call that timed out or was aborted is given to end once its task was
   * cancelled in Python (`CancelledError` is raised where it awaits; its `finally` runs). Past it,
   * or at once when the call runs sync code (which nothing but a kill stops), its interpreter is
   * killed and replaced, and the other calls in flight on it reject with `InterpreterExitedError`.
   * An integer from 0 to Node's timer limit. @default 1000
   */
  cancelGrace?: number;
}

/** An elastic pool's bounds on its local interpreters. */
export interface SizeLimits {
  /** Interpreters kept even when idle; 0 lets an idle pool stop them all. */
  min: number;
  /** Interpreters the pool may grow to while calls wait. At least 1 and at least `min`. */
  max: number;
}

/** The environment of one interpreter slot, asked on every start of it. */
export type EnvForSlot = (index: number) => Record<string, string | undefined>;

/** How interpreters are made: see {@link PoolOptions.startMethod}. */
export type StartMethod = 'auto' | 'forkserver' | 'spawn';

/**
 * When a healthy interpreter is replaced by a fresh one, for Python code that leaks. Each recycle
 * costs one interpreter start. Named for what triggers it: the count is per interpreter (its
 * replacement starts from 0), not per worker.
 */
export interface RecycleOptions {
  /** Calls an interpreter serves before it is replaced. @default undefined (never) */
  afterCalls?: number;
  /**
   * Resident memory (RSS, bytes) an interpreter may hold after a call; above it the interpreter is
   * replaced once the call has returned (Linux: read from /proc). @default undefined (no limit)
   */
  aboveMemory?: number;
}

/**
 * How the pool's supervisors treat interpreters that fail to start. A crash of an interpreter that
 * had served is replaced at once and counts toward neither (README, "The crash policy"); only
 * failed starts (an interpreter that could not start, or died before it was given any work) do.
 * The names are core's supervisor flags and child-spec `backoff`, which these become.
 */
export interface SupervisionOptions {
  /** More than `intensity` failed interpreter starts within `period` ms: the pool gives up. @default 10 */
  intensity?: number;
  /** The window of `intensity`, in ms. @default 10000 */
  period?: number;
  /**
   * Delay before retrying a failed start: `min` ms, doubling while starts keep failing, up to
   * `max`; so a start that keeps failing never spins hot while `intensity` bounds how long it
   * goes on. Crashes after serving are not delayed. `false` retries at once.
   * @default { min: 1, max: 1000 }
   */
  backoff?: { min: number; max: number } | false;
}

/** What may be called besides the functions of modules under `path` (SECURITY.md, section 3). */
export interface AllowOptions {
  /** Modules outside `path` whose functions may be called (e.g. `['math']`). @default [] */
  modules?: string[];
  /** Allow calling module and function names that start with `_`. @default false */
  private?: boolean;
  /**
   * A callable name must be defined in a module that is itself callable: a path module's
   * `from os import system` does not make `system` callable. `true` lifts this for every module,
   * a list for the modules named. @default false
   */
  reexports?: boolean | string[];
}

export interface ResolvedPoolOptions {
  /** Local interpreters: `min` started with the pool, up to `max` (both 0 when every interpreter is remote). */
  size: SizeLimits;
  idleTimeout: number;
  /** Interpreters on other hosts, if any. */
  remote: ResolvedRemoteOptions | undefined;
  path: string[];
  python: string | undefined;
  /** The environment every interpreter shares. */
  env: Record<string, string | undefined>;
  /** The slot's own, asked on each start, if `env` is a function. */
  envForSlot: EnvForSlot | undefined;
  cwd: string;
  preload: string[];
  startMethod: StartMethod;
  startTimeout: number;
  callTimeout: number | undefined;
  maxQueue: number;
  maxMessageSize: number;
  batchCallsUnderMs: number;
  shutdownTimeout: number;
  streamIdleTimeout: number | undefined;
  recycle: { afterCalls: number | undefined; aboveMemory: number | undefined };
  supervision: { intensity: number; period: number; backoff: { min: number; max: number } | undefined };
  /** What may be called besides the modules under `path`. */
  allow: AllowRules;
  onOutput: ((output: InterpreterOutput) => void) | false | undefined;
  events: ((event: PoolEvent) => void) | undefined;
  /** Undefined when nothing is exposed. */
  expose: Readonly<Record<string, ExposedFunction>> | undefined;
  /** Calls in flight per interpreter (its lanes). */
  concurrency: number;
  cancelGrace: number;
}

/** The defaults of the options that have one; `size` defaults to `os.availableParallelism()`. */
export const defaults = {
  startMethod: 'auto',
  startTimeout: 10_000,
  maxQueue: 10_000,
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  batchCallsUnderMs: 2,
  shutdownTimeout: 5_000,
  streamIdleTimeout: 60_000,
  supervision: { intensity: 10, period: 10_000, backoff: { min: 1, max: 1_000 } },
  idleTimeout: 30_000,
  concurrency: 1,
  cancelGrace: 1_000,
} as const;

/** The most calls one interpreter may run at once (each is a lane: a socket on both sides). */
export const MAX_CONCURRENCY = 10_000;

/** Options of `call` (and, but for `retries`, `timeout`, `onProgress` and `transfer`, of `stream`). */
export interface CallOptions {
  /** Keyword arguments: `f(*args, **kwargs)`. */
  kwargs?: Record<string, unknown>;
  /**
   * ms before the call rejects with `CallTimeoutError`. A running `async def` call is cancelled
   * (its task gets `CancelledError`; the pool's `cancelGrace` bounds how long it may take to end);
   * a call running sync code has its interpreter replaced. @default the pool's callTimeout
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
  /**
   * Application values the call's Python reads as `piton.context().values` (a request id, a
   * tenant): a plain object of JSON-like values (strings, finite numbers, booleans, null, arrays
   * and plain objects of them), at most {@link MAX_CALL_CONTEXT_BYTES} bytes as JSON. It travels
   * with the call (PROTOCOL.md, "Call context"), as the caller's OpenTelemetry trace context does.
   */
  context?: Readonly<Record<string, unknown>>;
}

/** The largest `context` a call may carry, in bytes of its JSON form. */
export const MAX_CALL_CONTEXT_BYTES = 4096;

/** Options of `stream`. */
export interface StreamOptions extends Omit<CallOptions, 'retries' | 'timeout' | 'onProgress' | 'transfer'> {
  /** Items the interpreter computes per round trip, so at most this many ahead of the consumer. @default 1 */
  batch?: number;
  /**
   * ms to wait for an interpreter to take the stream; past it the stream rejects with
   * `CallTimeoutError`. It bounds the wait only (a call's `timeout` bounds the whole call);
   * `idleTimeout` bounds the stream once open. @default none
   */
  waitTimeout?: number;
  /**
   * ms an open stream may go without being pulled: then its generator is closed, its interpreter
   * freed, and a later pull rejects with `CallTimeoutError`. Bounds what an iterator that was
   * dropped without `break` or `return()` holds. @default the pool's streamIdleTimeout
   */
  idleTimeout?: number;
}
