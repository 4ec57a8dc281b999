import type { ChildId, StartFn } from '../child.js';
import { InvalidSpecError } from '../errors.js';
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

/** A child specification, as in OTP's `child_spec()`. */
export interface ChildSpec<R = unknown> {
  /** Unique among the supervisor's children. Mandatory. */
  readonly id: ChildId;
  /** Starts the child: `worker(...)`, `supervisor(...)` or any `StartFn`. Mandatory. */
  readonly start: StartFn<R>;
  /** @default 'permanent' */
  readonly restart?: Restart;
  /** @default 5000 for workers, 'infinity' for supervisors */
  readonly shutdown?: Shutdown;
  /** @default 'worker' */
  readonly type?: ChildType;
  /** Counts for the supervisor's `autoShutdown`. Not with `restart: 'permanent'`. @default false */
  readonly significant?: boolean;
  /** Registers the running child under this name for `system.whereis(name)`. */
  readonly name?: string;
  /** Delay restarts of this child exponentially. */
  readonly backoff?: Backoff;
}

export interface ResolvedChildSpec<R = unknown> {
  readonly id: ChildId;
  readonly start: StartFn<R>;
  readonly restart: Restart;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
  readonly significant: boolean;
  readonly name: string | undefined;
  readonly backoff: ResolvedBackoff | undefined;
}

export const CHILD_DEFAULTS = {
  restart: 'permanent',
  workerShutdown: 5_000,
  supervisorShutdown: 'infinity',
  type: 'worker',
  significant: false,
  backoffFactor: 2,
  backoffJitter: 0,
} as const;

// One validator per field; each names the field (with its position) and the bad value.

function validId(field: string, v: unknown): ChildId {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidSpecError(field, v, 'a non-empty string');
  return v;
}

function validStart(field: string, v: unknown): StartFn {
  if (typeof v !== 'function') throw new InvalidSpecError(field, v, 'a start function (worker(...), supervisor(...) or a StartFn)');
  return v as StartFn;
}

function validRestart(field: string, v: unknown): Restart {
  if (v === undefined) return CHILD_DEFAULTS.restart;
  if (v !== 'permanent' && v !== 'transient' && v !== 'temporary') {
    throw new InvalidSpecError(field, v, "'permanent', 'transient' or 'temporary'");
  }
  return v;
}

function validType(field: string, v: unknown): ChildType {
  if (v === undefined) return CHILD_DEFAULTS.type;
  if (v !== 'worker' && v !== 'supervisor') throw new InvalidSpecError(field, v, "'worker' or 'supervisor'");
  return v;
}

function validShutdown(field: string, v: unknown, type: ChildType): Shutdown {
  if (v === undefined) return type === 'supervisor' ? CHILD_DEFAULTS.supervisorShutdown : CHILD_DEFAULTS.workerShutdown;
  if (v === 'brutal_kill' || v === 'infinity') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw new InvalidSpecError(field, v, "an integer number of ms >= 0, 'brutal_kill' or 'infinity'");
}

function validSignificant(field: string, v: unknown, restart: Restart, autoShutdown: AutoShutdown): boolean {
  if (v === undefined) return CHILD_DEFAULTS.significant;
  if (typeof v !== 'boolean') throw new InvalidSpecError(field, v, 'a boolean');
  if (v && restart === 'permanent') {
    throw new InvalidSpecError(field, v, "false for a 'permanent' child (a significant child must be transient or temporary)");
  }
  if (v && autoShutdown === 'never') {
    throw new InvalidSpecError(field, v, "false when the supervisor's autoShutdown is 'never'");
  }
  return v;
}

function validName(field: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new InvalidSpecError(field, v, 'a non-empty string');
  return v;
}

function validMs(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidSpecError(field, v, `a finite number >= ${min}`);
  return v;
}

function validBackoff(field: string, v: unknown): ResolvedBackoff | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) throw new InvalidSpecError(field, v, '{ min, max, factor?, jitter?, resetAfter? }');
  const b = v as Record<string, unknown>;
  const min = validMs(`${field}.min`, b.min, 0);
  const max = validMs(`${field}.max`, b.max, min);
  const factor = b.factor === undefined ? CHILD_DEFAULTS.backoffFactor : validMs(`${field}.factor`, b.factor, 1);
  const jitter = b.jitter === undefined ? CHILD_DEFAULTS.backoffJitter : validMs(`${field}.jitter`, b.jitter, 0);
  if (jitter > 1) throw new InvalidSpecError(`${field}.jitter`, jitter, 'a fraction between 0 and 1');
  const resetAfter = b.resetAfter === undefined ? max : validMs(`${field}.resetAfter`, b.resetAfter, 0);
  return { min, max, factor, jitter, resetAfter };
}

/** Checks one spec and fills in OTP's defaults. `field` is how to name it in errors, e.g. `children[2]`. */
export function resolveChildSpec(spec: unknown, field: string, autoShutdown: AutoShutdown): ResolvedChildSpec {
  if (typeof spec !== 'object' || spec === null) throw new InvalidSpecError(field, spec, 'a child spec object');
  const s = spec as Record<string, unknown>;
  const id = validId(`${field}.id`, s.id);
  const start = validStart(`${field}.start`, s.start);
  const restart = validRestart(`${field}.restart`, s.restart);
  const type = validType(`${field}.type`, s.type);
  const shutdown = validShutdown(`${field}.shutdown`, s.shutdown, type);
  const significant = validSignificant(`${field}.significant`, s.significant, restart, autoShutdown);
  const name = validName(`${field}.name`, s.name);
  const backoff = validBackoff(`${field}.backoff`, s.backoff);
  return { id, start, restart, shutdown, type, significant, name, backoff };
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
export function checkChildSpecs(specs: readonly ChildSpec[], autoShutdown: AutoShutdown = 'never'): void {
  resolveChildSpecs(specs, autoShutdown);
}
