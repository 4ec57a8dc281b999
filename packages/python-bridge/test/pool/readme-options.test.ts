/**
 * The README's options tables summarise the options' TSDoc (pool/options.ts, the one source of
 * their documentation). This holds the tables to the names the pool accepts: an option added,
 * renamed or removed in one place and not the other fails here.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ALLOW_OPTION_NAMES,
  CALL_OPTION_NAMES,
  POOL_OPTION_NAMES,
  RECYCLE_OPTION_NAMES,
  STREAM_OPTION_NAMES,
  SUPERVISION_OPTION_NAMES,
} from '../../src/pool/option-names.js';
import { REMOTE_OPTION_NAMES } from '../../src/remote/options.js';

const README = readFileSync(fileURLToPath(new URL('../../../../README.md', import.meta.url)), 'utf8');

/** The first column's names of the first table after the line `after` (each a `code` span). */
function tableNames(after: string): string[] {
  const start = README.indexOf(after);
  expect(start, `README has "${after}"`).to.be.greaterThan(-1);
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows = lines.slice(first + 2);
  const end = rows.findIndex((line) => !line.startsWith('|'));
  return rows.slice(0, end).flatMap((row) => [...row.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

const sorted = (names: readonly string[]) => [...names].sort();

describe("README's options tables", () => {
  it('list every pool option, and no other', () => {
    expect(sorted(tableNames('### `PythonPool.start(options)`'))).to.deep.equal(sorted(POOL_OPTION_NAMES));
  });

  it('list every option of each family, and no other', () => {
    const families = { recycle: RECYCLE_OPTION_NAMES, supervision: SUPERVISION_OPTION_NAMES, allow: ALLOW_OPTION_NAMES, remote: REMOTE_OPTION_NAMES };
    const expected = Object.entries(families).flatMap(([family, names]) => names.map((name) => `${family}.${name}`));
    expect(sorted(tableNames('The option families:'))).to.deep.equal(sorted(expected));
    for (const family of Object.keys(families)) expect(POOL_OPTION_NAMES).to.include(family);
  });

  it('list every call option and every stream option, and no other', () => {
    expect(sorted(tableNames('| call option |'))).to.deep.equal(sorted(CALL_OPTION_NAMES));
    expect(sorted(tableNames('| stream option |'))).to.deep.equal(sorted(STREAM_OPTION_NAMES));
  });
});
