/**
 * `npx piton types` on the repository's examples, each run as a user runs it (the package's
 * command line, a new Node process, `--check` so that nothing is written), against its floor: the
 * same interpreter importing the same modules and doing nothing else (`python -c 'import …'` with
 * the example's directory first on `sys.path`). Floor and command alternate within each trial, so
 * the machine's drift falls on both. The target: each example in under 2 s. What a run costs
 * beyond its floor is Node's start and the command (~0.3 s of CPU), the interpreter's start and
 * reading the signatures; the floor is whatever the modules do at import (http-service's imports
 * scikit-learn and trains its model).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type BenchContext } from './lib/context.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';

const EXAMPLES = ['fibonacci', 'numpy', 'callbacks', 'http-service', 'observer/python'];
/** The options of each example's pool that the command takes too: http-service's startTimeout. */
const OPTIONS: Record<string, string[]> = { 'http-service': ['--timeout', '60000'] };
const CLI = join(ROOT, 'packages', 'python-bridge', 'dist', 'cli', 'main.js');

/** Runs a command to its end; resolves with its wall time in ms, rejects unless it exits 0. */
function timed(ctx: BenchContext, command: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = ctx.adopt(spawn(command, [...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = nowMs() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

export async function runTypegen(ctx: BenchContext): Promise<Row[]> {
  const floors = new Map<string, number[]>(EXAMPLES.map((e) => [e, []]));
  const runs = new Map<string, number[]>(EXAMPLES.map((e) => [e, []]));
  const totals: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    let total = 0;
    for (const example of EXAMPLES) {
      const dir = join(ROOT, 'examples', example);
      const modules = readdirSync(dir).filter((f) => f.endsWith('.py') && !f.startsWith('_')).map((f) => f.slice(0, -3));
      const floor = await timed(ctx, ctx.python, ['-c', `import sys; sys.path[:0] = [${JSON.stringify(dir)}]; import ${modules.join(', ')}`]);
      const run = await timed(ctx, process.execPath, [CLI, 'types', '--path', dir, ...(OPTIONS[example] ?? []), '--check']);
      floors.get(example)!.push(floor);
      runs.get(example)!.push(run);
      total += run;
    }
    totals.push(total);
  }
  const rows: Row[] = EXAMPLES.map((example) => ({
    benchmark: 'typegen',
    figure: `npx piton types --check, examples/${example}`,
    unit: 'ms',
    samples: runs.get(example)!,
    ratio: ratioTo('× importing its modules', runs.get(example)!, floors.get(example)!),
    target: { text: '< 2 s', on: 'value', met: (ms) => ms < 2_000 },
  }));
  rows.push({
    benchmark: 'typegen',
    figure: 'the five examples, one after another',
    unit: 'ms',
    samples: totals,
    note: 'each is its own Node and Python process',
  });
  return rows;
}
