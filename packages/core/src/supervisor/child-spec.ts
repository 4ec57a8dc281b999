import type { ChildId, StartFn } from '../child.js';
import { InvalidSpecError } from '../errors.js';
import {
  checkBoolean,
  checkFunction,
  checkNonEmptyString,
  checkNumber,
  checkOneOf,
  checkOptions,
  checkTimeout,
  names,
} from '../validation.js';
import type { AutoShutdown } from './flags.js';

/** `permanent`: always restarted; `transient`: only after an abnormal exit; `temporary`: never. */
export type Restart = 'permanent' | 'transient' | 'temporary';
/** ms to wait for an orderly stop before a brutal kill; `'brutal_kill'`; or `'infinity'`. */
export type Shutdown = number | 'brutal_kill' | 'infinity';
export type ChildType = 'worker' | 'supervisor';

/** Exponential restart delay: `min * factor^attempt`, capped at `max`, less up to `jitter` of it. */
export interface Backoff {
  /** First delay in ms. Minimum 0. */
  readonly min: number;
  /** Largest delay in ms. Minimum `min`. */
  readonly max: number;
  /** Growth per consecutive attempt. Minimum 1. @default 2 */
  readonly factor?: number;
  /** Fraction (0..1) of each delay taken off at random, to spread restarts of many children. @default 0 */
  readonly jitter?: number;
  /** A child that ran at least this many ms before exiting starts again from `min`. @default max */
  readonly resetAfter?: number;
}

export type ResolvedBackoff = Required<Backoff>;

/**
 * A child specification, as in OTP's `child_spec()`. `Extra` is what a simple_one_for_one
 * supervisor's `startChild(extraArgs)` passes to this template's start; any other child is started
 * with none.
 */
export interface ChildSpec<R = unknown, Extra extends readonly unknown[] = []> {
  /** Unique among the supervisor's children. Mandatory. */
  readonly id: ChildId;
  /** Starts the child: `worker(...)`, `supervisor(...)` or any `StartFn`. Mandatory. */
  readonly start: StartFn<R, Extra>;
  /** @default 'permanent' */
  readonly restart?: Restart;
  /** @default 5000 for workers, 'infinity' for supervisors */
  readonly shutdown?: Shutdown;
  /**
   * ms the start may take; past it the start fails with `StartChildError` (reason `'timeout'`),
   * the start function's `ctx.signal` is aborted, and whatever it starts after that is killed.
   * A supervisor's own start is the sum of its children's, each bounded by theirs.
   * @default 5000 for workers, 'infinity' for supervisors
   */
  readonly startTimeout?: number | 'infinity';
  /** @default 'worker' */
  readonly type?: ChildType;
  /** Counts for the supervisor's `autoShutdown`. Not with `restart: 'permanent'`. @default false */
  readonly significant?: boolean;
  /** Registers the running child under this name for `system.whereis(name)`. */
  readonly name?: string;
  /** Delay restarts of this child exponentially. */
  readonly backoff?: Backoff;
}

/** A child spec whatever extra arguments its start takes (a simple_one_for_one template, or any other child). */
export type AnyChildSpec<R = unknown> = ChildSpec<R, never>;

export interface ResolvedChildSpec<R = unknown> {
  readonly id: ChildId;
  readonly start: StartFn<R>;
  readonly restart: Restart;
  readonly shutdown: Shutdown;
  readonly startTimeout: number | 'infinity';
  readonly type: ChildType;
  readonly significant: boolean;
  readonly name: string | undefined;
  readonly backoff: ResolvedBackoff | undefined;
}

export const CHILD_DEFAULTS = {
  restart: 'permanent',
  workerShutdown: 5_000,
  supervisorShutdown: 'infinity',
  workerStartTimeout: 5_000,
  supervisorStartTimeout: 'infinity',
  type: 'worker',
  significant: false,
  backoffFactor: 2,
  backoffJitter: 0,
} as const;

/** The keys of a child spec; anything else is refused with "did you mean" (see supervisor.ts). */
export const CHILD_SPEC_KEYS = names<ChildSpec>()(['id', 'start', 'restart', 'shutdown', 'startTimeout', 'type', 'significant', 'name', 'backoff']);
export const BACKOFF_KEYS = names<Backoff>()(['min', 'max', 'factor', 'jitter', 'resetAfter']);
export const AUTO_SHUTDOWNS = ['never', 'any_significant', 'all_significant'] as const satisfies readonly AutoShutdown[];

// One validator per field; each names the field (with its position) and the bad value.

function validRestart(field: string, v: unknown): Restart {
  return v === undefined ? CHILD_DEFAULTS.restart : checkOneOf(field, v, ['permanent', 'transient', 'temporary']);
}

function validType(field: string, v: unknown): ChildType {
  return v === undefined ? CHILD_DEFAULTS.type : checkOneOf(field, v, ['worker', 'supervisor']);
}

/** A `Shutdown`: a timeout by the one rule, `'infinity'`, or `'brutal_kill'`. */
export function checkShutdown(field: string, v: unknown): Shutdown {
  if (v === 'brutal_kill') return v;
  if (typeof v === 'string' && v !== 'infinity') throw new InvalidSpecError(field, v, "a finite number of ms >= 0, 'brutal_kill' or 'infinity'");
  return checkTimeout(field, v, { infinity: true });
}

function validShutdown(field: string, v: unknown, type: ChildType): Shutdown {
  if (v === undefined) return type === 'supervisor' ? CHILD_DEFAULTS.supervisorShutdown : CHILD_DEFAULTS.workerShutdown;
  return checkShutdown(field, v);
}

function validStartTimeout(field: string, v: unknown, type: ChildType): number | 'infinity' {
  if (v === undefined) return type === 'supervisor' ? CHILD_DEFAULTS.supervisorStartTimeout : CHILD_DEFAULTS.workerStartTimeout;
  return checkTimeout(field, v, { infinity: true });
}

function validSignificant(field: string, v: unknown, restart: Restart, autoShutdown: AutoShutdown): boolean {
  if (v === undefined) return CHILD_DEFAULTS.significant;
  const significant = checkBoolean(field, v);
  if (significant && restart === 'permanent') {
    throw new InvalidSpecError(field, v, "false for a 'permanent' child (a significant child must be transient or temporary)");
  }
  if (significant && autoShutdown === 'never') {
    throw new InvalidSpecError(field, v, "false when the supervisor's autoShutdown is 'never'");
  }
  return significant;
}

function validBackoff(field: string, v: unknown): ResolvedBackoff | undefined {
  if (v === undefined) return undefined;
  const b = checkOptions(field, v, BACKOFF_KEYS);
  const min = checkNumber(`${field}.min`, b.min, { min: 0 });
  const max = checkNumber(`${field}.max`, b.max, { min });
  const factor = b.factor === undefined ? CHILD_DEFAULTS.backoffFactor : checkNumber(`${field}.factor`, b.factor, { min: 1 });
  const jitter = b.jitter === undefined ? CHILD_DEFAULTS.backoffJitter : checkNumber(`${field}.jitter`, b.jitter, { min: 0, max: 1 });
  const resetAfter = b.resetAfter === undefined ? max : checkNumber(`${field}.resetAfter`, b.resetAfter, { min: 0 });
  return { min, max, factor, jitter, resetAfter };
}

/** Checks one spec and fills in OTP's defaults. `field` is how to name it in errors, e.g. `children[2]`. */
export function resolveChildSpec(spec: unknown, field: string, autoShutdown: AutoShutdown): ResolvedChildSpec {
  const s = checkOptions(field, spec, CHILD_SPEC_KEYS);
  const id = checkNonEmptyString(`${field}.id`, s.id);
  const start = checkFunction<StartFn>(`${field}.start`, s.start);
  const restart = validRestart(`${field}.restart`, s.restart);
  const type = validType(`${field}.type`, s.type);
  const shutdown = validShutdown(`${field}.shutdown`, s.shutdown, type);
  const startTimeout = validStartTimeout(`${field}.startTimeout`, s.startTimeout, type);
  const significant = validSignificant(`${field}.significant`, s.significant, restart, autoShutdown);
  const name = s.name === undefined ? undefined : checkNonEmptyString(`${field}.name`, s.name);
  const backoff = validBackoff(`${field}.backoff`, s.backoff);
  return { id, start, restart, shutdown, startTimeout, type, significant, name, backoff };
}

/** Checks every spec, duplicate ids and names included, before anything starts. */
export function resolveChildSpecs(specs: unknown, autoShutdown: AutoShutdown): ResolvedChildSpec[] {
  if (specs === undefined) return [];
  if (!Array.isArray(specs)) throw new InvalidSpecError('children', specs, 'an array of child specs');
  const seenIds = new Set<string>();
  const seenNames = new Set<string>();
  return specs.map((spec: unknown, i) => {
    const resolved = resolveChildSpec(spec, `children[${i}]`, autoShutdown);
    if (seenIds.has(resolved.id)) throw new InvalidSpecError(`children[${i}].id`, resolved.id, 'an id not used by an earlier child');
    seenIds.add(resolved.id);
    if (resolved.name !== undefined) {
      if (seenNames.has(resolved.name)) throw new InvalidSpecError(`children[${i}].name`, resolved.name, 'a name not used by an earlier child');
      seenNames.add(resolved.name);
    }
    return resolved;
  });
}

/**
 * OTP's `check_childspecs`: validates `specs` as a supervisor's `children` without starting
 * anything. Throws `InvalidSpecError` naming the first bad field (e.g. `children[1].restart`).
 * `autoShutdown` is the supervisor's flag, which decides whether `significant: true` is allowed.
 */
export function checkChildSpecs(specs: readonly AnyChildSpec[], autoShutdown: AutoShutdown = 'never'): void {
  resolveChildSpecs(specs, checkOneOf('autoShutdown', autoShutdown, AUTO_SHUTDOWNS));
}
