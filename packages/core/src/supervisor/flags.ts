import { InvalidSpecError } from '../errors.js';
import { checkNumber, checkOneOf, checkOptions, names } from '../validation.js';
import { AUTO_SHUTDOWNS, resolveChildSpecs, type ChildSpec, type ResolvedChildSpec } from './child-spec.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

interface FlagsBase {
  /** Most restarts allowed within `period`. Minimum 0. @default 1 */
  readonly intensity?: number;
  /** Window in ms for `intensity`. Minimum 1. @default 5000 */
  readonly period?: number;
  /** @default 'never' */
  readonly autoShutdown?: AutoShutdown;
}

/** Flags of a supervisor with static children: each child is started without extra arguments. */
export interface StaticSupervisorFlags extends FlagsBase {
  /** @default 'one_for_one' */
  readonly strategy?: Exclude<Strategy, 'simple_one_for_one'>;
  /** Started in order, stopped in reverse. */
  readonly children?: readonly ChildSpec[];
}

/**
 * Flags of a simple_one_for_one supervisor: exactly one child spec, the template, whose start gets
 * the `extraArgs` of each `startChild(extraArgs)`; `Extra` types them.
 */
export interface SimpleSupervisorFlags<Extra extends readonly unknown[] = unknown[]> extends FlagsBase {
  readonly strategy: 'simple_one_for_one';
  readonly children: readonly [ChildSpec<unknown, Extra>];
}

/** Supervisor flags and children, as OTP's `init/1` returns them. */
export type SupervisorFlags = StaticSupervisorFlags | SimpleSupervisorFlags<never>;

export interface ResolvedFlags {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly autoShutdown: AutoShutdown;
  readonly children: readonly ResolvedChildSpec[];
}

export const FLAG_DEFAULTS = { strategy: 'one_for_one', intensity: 1, period: 5_000, autoShutdown: 'never' } as const;

/** The flag names; anything else is refused with "did you mean" (see supervisor.ts). */
export const FLAG_KEYS = names<StaticSupervisorFlags>()(['strategy', 'intensity', 'period', 'autoShutdown', 'children']);

/** Validates flags and every child spec, filling defaults; throws InvalidSpecError naming the field. */
export function resolveFlags(flags: unknown): ResolvedFlags {
  const f = checkOptions('flags', flags, FLAG_KEYS);
  const strategy = f.strategy === undefined ? FLAG_DEFAULTS.strategy : checkOneOf('strategy', f.strategy, ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one']);
  const intensity = f.intensity === undefined ? FLAG_DEFAULTS.intensity : checkNumber('intensity', f.intensity, { min: 0, integer: true });
  const period = f.period === undefined ? FLAG_DEFAULTS.period : checkNumber('period', f.period, { min: 1, integer: true });
  const autoShutdown = f.autoShutdown === undefined ? FLAG_DEFAULTS.autoShutdown : checkOneOf('autoShutdown', f.autoShutdown, AUTO_SHUTDOWNS);
  const children = resolveChildSpecs(f.children, autoShutdown);
  if (strategy === 'simple_one_for_one' && children.length !== 1) {
    throw new InvalidSpecError('children', f.children, 'exactly one child spec (the template) for simple_one_for_one');
  }
  return { strategy, intensity, period, autoShutdown, children };
}

