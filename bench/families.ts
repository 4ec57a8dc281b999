/** Every benchmark family, in the order of the table. */
import { runCodec } from './codec.js';
import type { BenchContext } from './lib/context.js';
import type { Row } from './lib/report.js';

export interface Family {
  name: string;
  /** Skipped by a full run, run only when named by --only. */
  optional?: boolean;
  run(ctx: BenchContext): Promise<Row[]>;
}

export const families: Family[] = [
  { name: 'codec', run: runCodec },
];
