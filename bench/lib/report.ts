/**
 * The rows of the benchmark table and their rendering. A row holds one sample per trial; the
 * table shows the median and min–max. A comparison is a ratio taken within each trial, summarized
 * the same way, so that a slow trial moves both sides of a ratio together.
 */
import { summarize, type Summary } from './stats.js';

/**
 * Thrown by a family that cannot run here (say, it needs root): the run reports it after the table,
 * with `message` saying why, and it does not count as a failure.
 */
export class FamilySkipped extends Error {
  override name = 'FamilySkipped';
}

export interface Target {
  /** How the target reads in the table, e.g. `≤ 1.15× floor`. */
  text: string;
  /**
   * What the target is checked on: the median value or ratio, or every trial's value (for a bound
   * that must hold each time, not typically: one trial over it misses the target).
   */
  on: 'value' | 'ratio' | 'every';
  /** Whether a figure (the median, or each trial's value) meets the target. */
  met: (figure: number) => boolean;
}

export interface Row {
  benchmark: string;
  figure: string;
  unit: string;
  /** One sample per trial. */
  samples: number[];
  /** A ratio per trial against `label` (e.g. `× floor`), when the row is a comparison. */
  ratio?: { label: string; samples: number[] };
  target?: Target;
  /** A short remark shown after the figure (what the ratio is against, a caveat). */
  note?: string;
}

/** A row's `ratio`: `samples` over `base`, trial by trial (ratios are taken within each trial). */
export function ratioTo(label: string, samples: readonly number[], base: readonly number[]): { label: string; samples: number[] } {
  return { label, samples: samples.map((v, i) => v / base[i]!) };
}

export interface RowResult {
  benchmark: string;
  figure: string;
  unit: string;
  value: Summary;
  samples: number[];
  ratio?: { label: string } & Summary & { samples: number[] };
  target?: { text: string; met: boolean };
  note?: string;
}

export function resolveRow(row: Row): RowResult {
  const value = summarize(row.samples);
  const ratio = row.ratio && row.ratio.samples.length > 0
    ? { label: row.ratio.label, ...summarize(row.ratio.samples), samples: row.ratio.samples }
    : undefined;
  let target: RowResult['target'];
  if (row.target) {
    if (row.target.on === 'every') {
      target = { text: row.target.text, met: row.samples.every(row.target.met) };
    } else {
      const on = row.target.on === 'ratio' ? ratio?.median : value.median;
      target = { text: row.target.text, met: on !== undefined && row.target.met(on) };
    }
  }
  return {
    benchmark: row.benchmark, figure: row.figure, unit: row.unit, value, samples: row.samples,
    ...(ratio ? { ratio } : {}), ...(target ? { target } : {}), ...(row.note ? { note: row.note } : {}),
  };
}

/** Three significant digits, no exponent for the magnitudes that occur here. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  if (abs === 0) return '0';
  return n.toPrecision(2);
}

export function renderTable(rows: readonly RowResult[]): string {
  const lines = [
    '| benchmark | figure | median | min–max | ratio (min–max) | target | met? |',
    '|---|---|---:|---:|---|---|---|',
  ];
  for (const r of rows) {
    const figure = r.note ? `${r.figure} (${r.note})` : r.figure;
    const ratio = r.ratio ? `${fmt(r.ratio.median)}${r.ratio.label} (${fmt(r.ratio.min)}–${fmt(r.ratio.max)})` : '';
    const met = r.target ? (r.target.met ? 'yes' : '**no**') : '';
    lines.push(`| ${r.benchmark} | ${figure} | ${`${fmt(r.value.median)} ${r.unit}`.trim()} | ${fmt(r.value.min)}–${fmt(r.value.max)} | ${ratio} | ${r.target?.text ?? ''} | ${met} |`);
  }
  return lines.join('\n');
}
