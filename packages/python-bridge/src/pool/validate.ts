/**
 * Checking and resolving the options of options.ts: each option is checked by itself, naming the
 * one that is wrong, by the rule and message form of validation.ts (a TypeError for a wrong name
 * or type, a RangeError for a number out of range), and the defaults are filled in. Unknown names
 * are refused with "did you mean", and names of 0.1 with their new spelling (option-names.ts).
 */
import { checkCallContext } from './call-context.js';
import { availableParallelism } from 'node:os';
import { MAX_TIMER_DELAY } from '@piton/core';
import { isAbsolute, resolve } from 'node:path';
import { resolveRemoteOptions } from '../remote/options.js';
import {
  ALLOW_OPTION_NAMES,
  CALL_OPTION_NAMES,
  POOL_OPTION_NAMES,
  RECYCLE_OPTION_NAMES,
  rejectRenamedKeys,
  RENAMED_POOL_OPTIONS,
  RENAMED_STREAM_OPTIONS,
  SIZE_LIMIT_NAMES,
  STREAM_OPTION_NAMES,
  SUPERVISION_OPTION_NAMES,
} from './option-names.js';
import type { AllowRules } from '../launch/command-line.js';
import { checkNumber, describe, rejectUnknownKeys } from '../validation.js';
import type { ExposedFunction } from '../interpreter/callbacks.js';
import {
  defaults,
  MAX_CONCURRENCY,
  type AllowOptions,
  type CallOptions,
  type PoolOptions,
  type RecycleOptions,
  type ResolvedPoolOptions,
  type SizeLimits,
  type StartMethod,
  type StreamOptions,
  type SupervisionOptions,
} from './options.js';

/** An integer >= `min` (a TypeError for what is not a number, a RangeError for one out of range). */
function integer(name: string, value: unknown, min: number): number {
  return checkNumber(`options.${name}`, value, { min, integer: true });
}

function nonNegative(name: string, value: unknown): number {
  return checkNumber(`options.${name}`, value, { min: 0 });
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
    if (name === '') throw new TypeError(`options.expose must not have an empty name, got ${describe(fn)} under ""`);
    functions[name] = fn as ExposedFunction;
  }
  return Object.keys(functions).length === 0 ? undefined : Object.freeze(functions);
}

/** A family of options (`allow`, `recycle`, …): undefined, or an object of known names. */
function family<T extends object>(name: string, value: unknown, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`options.${name} must be an object { ${known.join(', ')} }, got ${describe(value)}`);
  }
  rejectUnknownKeys(`options.${name}`, value, known);
  return value as Partial<T>;
}

function backoff(value: SupervisionOptions['backoff']): ResolvedPoolOptions['supervision']['backoff'] {
  if (value === false) return undefined;
  if (value === undefined) return { ...defaults.supervision.backoff };
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`options.supervision.backoff must be { min, max } or false, got ${describe(value)}`);
  }
  const min = integer('supervision.backoff.min', value.min, 1);
  const max = integer('supervision.backoff.max', value.max, min);
  // The one cap of a time option: the supervisor waits a backoff out in one Node timer, which
  // beyond its limit would fire after 1 ms (timeouts have no cap: setLongTimeout chains timers).
  if (max > MAX_TIMER_DELAY) {
    throw new RangeError(`options.supervision.backoff.max must be at most ${MAX_TIMER_DELAY} ms (Node's timer limit, ~24.8 days), got ${describe(max)}`);
  }
  return { min, max };
}

function supervision(value: unknown): ResolvedPoolOptions['supervision'] {
  const given = family<SupervisionOptions>('supervision', value, SUPERVISION_OPTION_NAMES);
  return {
    intensity: integer('supervision.intensity', given.intensity ?? defaults.supervision.intensity, 0),
    period: integer('supervision.period', given.period ?? defaults.supervision.period, 1),
    backoff: backoff(given.backoff),
  };
}

function recycle(value: unknown): ResolvedPoolOptions['recycle'] {
  const given = family<RecycleOptions>('recycle', value, RECYCLE_OPTION_NAMES);
  return {
    afterCalls: optionalInteger('recycle.afterCalls', given.afterCalls, 1),
    aboveMemory: optionalInteger('recycle.aboveMemory', given.aboveMemory, 1),
  };
}

function allow(value: unknown): AllowRules {
  const given = family<AllowOptions>('allow', value, ALLOW_OPTION_NAMES);
  if (given.private !== undefined && typeof given.private !== 'boolean') {
    throw new TypeError(`options.allow.private must be a boolean, got ${describe(given.private)}`);
  }
  return { modules: stringList('allow.modules', given.modules), private: given.private ?? false, reexports: reexports(given.reexports) };
}

function reexports(value: AllowOptions['reexports']): string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return ['*'];
  if (!Array.isArray(value)) {
    throw new TypeError(`options.allow.reexports must be a boolean or an array of module names, got ${describe(value)}`);
  }
  return stringList('allow.reexports', value);
}

const START_METHODS: readonly StartMethod[] = ['auto', 'forkserver', 'spawn'];

function startMethod(value: unknown): StartMethod {
  if (value === undefined) return defaults.startMethod;
  if (!START_METHODS.includes(value as StartMethod)) {
    throw new TypeError(`options.startMethod must be 'auto', 'forkserver' or 'spawn', got ${describe(value)}`);
  }
  if (value === 'forkserver' && process.platform !== 'linux') {
    throw new TypeError(`options.startMethod 'forkserver' needs Linux (fork and PR_SET_PDEATHSIG); use 'spawn' or 'auto' on ${process.platform}`);
  }
  return value as StartMethod;
}

/**
 * The local interpreters' bounds: a number is a fixed size; `{ min, max }` an elastic one.
 * `where` names the value in errors (`options.size`, `resize(size)`); `least` is a fixed size's
 * minimum (0 for a pool with remote hosts, else 1).
 */
export function sizeLimits(where: string, value: unknown, least: number): SizeLimits {
  if (typeof value === 'number') {
    const n = checkNumber(where, value, { min: least, integer: true });
    return { min: n, max: n };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${where} must be a number or { min, max }, got ${describe(value)}`);
  }
  rejectUnknownKeys(where, value, SIZE_LIMIT_NAMES);
  const { min, max } = value as Record<string, unknown>;
  const lower = checkNumber(`${where}.min`, min, { min: 0, integer: true });
  const upper = checkNumber(`${where}.max`, max, { min: Math.max(1, lower), integer: true });
  return { min: lower, max: upper };
}

/** Checks every option, naming the one that is wrong, and fills in the defaults. */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  rejectRenamedKeys('options', options, RENAMED_POOL_OPTIONS);
  rejectUnknownKeys('options', options, POOL_OPTION_NAMES);
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
  if (options.env !== undefined && typeof options.env !== 'function' && (typeof options.env !== 'object' || options.env === null || Array.isArray(options.env))) {
    throw new TypeError(`options.env must be an object of strings or a function of the slot's index, got ${describe(options.env)}`);
  }
  if (options.onOutput !== undefined && options.onOutput !== false && typeof options.onOutput !== 'function') {
    throw new TypeError(`options.onOutput must be a function or false, got ${describe(options.onOutput)}`);
  }
  if (options.events !== undefined && typeof options.events !== 'function') {
    throw new TypeError(`options.events must be a function, got ${describe(options.events)}`);
  }
  const remote = resolveRemoteOptions(options.remote);
  return {
    size: sizeLimits('options.size', options.size === undefined ? (remote ? 0 : availableParallelism()) : options.size, remote ? 0 : 1),
    idleTimeout: integer('idleTimeout', options.idleTimeout ?? defaults.idleTimeout, 1),
    remote,
    path: stringList('path', options.path).map((dir) => (isAbsolute(dir) ? dir : resolve(cwd, dir))),
    python: options.python,
    env: typeof options.env === 'function' ? {} : { ...options.env },
    envForSlot: typeof options.env === 'function' ? options.env : undefined,
    cwd: resolve(cwd),
    preload: stringList('preload', options.preload),
    startMethod: startMethod(options.startMethod),
    startTimeout: integer('startTimeout', options.startTimeout ?? defaults.startTimeout, 1),
    callTimeout: optionalInteger('callTimeout', options.callTimeout, 1),
    maxQueue: integer('maxQueue', options.maxQueue ?? defaults.maxQueue, 0),
    maxMessageSize: integer('maxMessageSize', options.maxMessageSize ?? defaults.maxMessageSize, 1024),
    batchCallsUnderMs: expose ? 0 : nonNegative('batchCallsUnderMs', options.batchCallsUnderMs ?? defaults.batchCallsUnderMs),
    shutdownTimeout: integer('shutdownTimeout', options.shutdownTimeout ?? defaults.shutdownTimeout, 0),
    streamIdleTimeout: integer('streamIdleTimeout', options.streamIdleTimeout ?? defaults.streamIdleTimeout, 0) || undefined,
    recycle: recycle(options.recycle),
    supervision: supervision(options.supervision),
    allow: allow(options.allow),
    onOutput: options.onOutput,
    events: options.events,
    expose,
    // `null` is a wrong type here, not "the default".
    concurrency:
      options.concurrency === undefined ? defaults.concurrency : checkNumber('options.concurrency', options.concurrency, { min: 1, max: MAX_CONCURRENCY, integer: true }),
    cancelGrace:
      options.cancelGrace === undefined ? defaults.cancelGrace : checkNumber('options.cancelGrace', options.cancelGrace, { min: 0, max: MAX_TIMER_DELAY, integer: true }),
  };
}

function checkName(what: string, name: unknown): void {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`the ${what} name must be a non-empty string, got ${describe(name)}`);
  }
}

/** What `call` and `stream` share: names, args, kwargs, signal, unknown options. */
function checkRequest(
  module: unknown,
  fn: unknown,
  args: unknown,
  options: unknown,
  known: readonly string[],
  renamed?: Readonly<Record<string, string>>,
): void {
  checkName('module', module);
  checkName('function', fn);
  if (!Array.isArray(args)) throw new TypeError(`args must be an array, got ${describe(args)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  if (renamed !== undefined) rejectRenamedKeys('options', options, renamed);
  rejectUnknownKeys('options', options, known);
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
  return { timeout, retries, transfer: options.transfer ?? false, context: checkCallContext(options.context) };
}

/** Checks a stream's module, function, args and options, as {@link checkCall} does a call's. */
export function checkStream(module: unknown, fn: unknown, args: unknown, options: StreamOptions, poolIdleTimeout: number | undefined) {
  checkRequest(module, fn, args, options, STREAM_OPTION_NAMES, RENAMED_STREAM_OPTIONS);
  const waitTimeout = options.waitTimeout === undefined ? undefined : integer('waitTimeout', options.waitTimeout, 1);
  const batch = integer('batch', options.batch ?? 1, 1);
  const idleTimeout = options.idleTimeout === undefined ? poolIdleTimeout : integer('idleTimeout', options.idleTimeout, 1);
  return { waitTimeout, batch, idleTimeout, context: checkCallContext(options.context) };
}
