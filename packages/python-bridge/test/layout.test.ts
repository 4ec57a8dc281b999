/**
 * The folders of src/ name the architecture, and imports go downward only, so the layers stay true
 * as the code grows: a folder imports only folders of a lower layer (launch/ and environment/ share
 * one), errors.ts and validation.ts (timing, within and the stop ladder, is @piton/core's). Entry points
 * (index.ts, metrics.ts) import anything. dispatch/ reaches
 * interpreters only through its Executor seam, never interpreter/ itself.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src', import.meta.url));
/** Upper layers first. */
const LAYER: Record<string, number> = { cli: 0, typegen: 1, pool: 1, remote: 2, supervision: 3, dispatch: 3, ops: 4, interpreter: 5, launch: 6, environment: 6, wire: 7 };
const SAME_LAYER_ALLOWED = new Set(['launch>environment', 'environment>launch']);
const NEVER = new Set(['dispatch>interpreter']);
/** The root modules every folder may import: the errors and the checking helpers. */
const ROOT_MODULES = new Set(['errors.ts', 'validation.ts']);

function allowed(from: string, to: string): boolean {
  if (from === to || ROOT_MODULES.has(to)) return true;
  const [a, b] = [LAYER[from]!, LAYER[to]];
  if (b === undefined || NEVER.has(`${from}>${to}`)) return false;
  return b > a || (b === a && SAME_LAYER_ALLOWED.has(`${from}>${to}`));
}

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) yield* sources(join(dir, entry.name));
    else if (entry.name.endsWith('.ts')) yield join(dir, entry.name);
  }
}

describe('layout of python-bridge/src', () => {
  it('every folder has a layer, and every import between folders goes downward', () => {
    const wrong: string[] = [];
    for (const file of sources(SRC)) {
      const [folder, ...rest] = relative(SRC, file).split('/');
      if (rest.length === 0) continue; // an entry point
      expect(LAYER, `folder ${folder} has no layer here`).to.have.property(folder!);
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^;]*?\bfrom '(\.[^']+)'/gms)) {
        const to = relative(SRC, resolve(dirname(file), target!)).split('/');
        if (!allowed(folder!, to.length === 1 ? to[0]!.replace(/\.js$/, '.ts') : to[0]!)) wrong.push(`${relative(SRC, file)} imports ${target}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });
});
