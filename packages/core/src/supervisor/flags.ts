import { InvalidSpecError } from '../errors.js';
import { resolveChildSpecs, type ChildSpec, type ResolvedChildSpec } from './child-spec.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

/** Supervisor flags and children, as OTP's `init/1` returns them. */
export interface SupervisorFlags {
  /** @default 'one_for_one' */
  readonly strategy?: Strategy;
  /** Most restarts allowed within `period`. Minimum 0. @default 1 */
  readonly intensity?: number;
  /** Window in ms for `intensity`. Minimum 1. @default 5000 */
  readonly period?: number;
  /** @default 'never' */
  readonly autoShutdown?: AutoShutdown;
  /** Started in order, stopped in reverse. For `simple_one_for_one`: exactly one template. */
  readonly children?: readonly ChildSpec[];
}

export interface ResolvedFlags {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly autoShutdown: AutoShutdown;
  readonly children: readonly ResolvedChildSpec[];
}

export const FLAG_DEFAULTS = { strategy: 'one_for_one', intensity: 1, period: 5_000, autoShutdown: 'never' } as const;

function validStrategy(v: unknown): Strategy {
  if (v === undefined) return FLAG_DEFAULTS.strategy;
  if (v === 'one_for_one' || v === 'one_for_all' || v === 'rest_for_one' || v === 'simple_one_for_one') return v;
  throw new InvalidSpecError('strategy', v, "'one_for_one', 'one_for_all', 'rest_for_one' or 'simple_one_for_one'");
}

function validIntensity(v: unknown): number {
  if (v === undefined) return FLAG_DEFAULTS.intensity;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw new InvalidSpecError('intensity', v, 'an integer >= 0');
}

function validPeriod(v: unknown): number {
  if (v === undefined) return FLAG_DEFAULTS.period;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
  throw new InvalidSpecError('period', v, 'an integer number of ms >= 1');
}

function validAutoShutdown(v: unknown): AutoShutdown {
  if (v === undefined) return FLAG_DEFAULTS.autoShutdown;
  if (v === 'never' || v === 'any_significant' || v === 'all_significant') return v;
  throw new InvalidSpecError('autoShutdown', v, "'never', 'any_significant' or 'all_significant'");
}

/** Validates flags and every child spec, filling defaults; throws InvalidSpecError naming the field. */
export function resolveFlags(flags: unknown): ResolvedFlags {
  if (typeof flags !== 'object' || flags === null) throw new InvalidSpecError('flags', flags, 'a supervisor flags object');
  const f = flags as Record<string, unknown>;
  const strategy = validStrategy(f.strategy);
  const intensity = validIntensity(f.intensity);
  const period = validPeriod(f.period);
  const autoShutdown = validAutoShutdown(f.autoShutdown);
  const children = resolveChildSpecs(f.children, autoShutdown);
  if (strategy === 'simple_one_for_one' && children.length !== 1) {
    throw new InvalidSpecError('children', f.children, 'exactly one child spec (the template) for simple_one_for_one');
  }
  return { strategy, intensity, period, autoShutdown, children };
}
