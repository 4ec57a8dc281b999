/**
 * `npx piton types` on the repository's examples, each run as a user runs it (the package's
 * command line, a new Node process, `--check` so that nothing is written), against its floor: the
 * same interpreter importing the same modules and doing nothing else (`python -c 'import …'` with
 * the example's directory first on `sys.path`). Floor and command alternate within each trial, so
 * the machine's drift falls on both.
 *
 * Each is timed twice: wall time, and CPU time (user + system of the process and everything it
 * started, from `getrusage(RUSAGE_CHILDREN)` of a small Python parent). The run is one process
 * waiting on another, so on an idle machine its wall time is its CPU time; on a shared one the wall
 * time also counts the neighbours' work, which is why the target (each example in under 2 s) is
 * checked on the CPU time. What a run costs beyond its floor is Node's start and the command, the
 * interpreter's start and reading the signatures; the floor is whatever the modules do at import
 * (dataframes' imports pandas). Modules with a private name (`_x.py`) are left out of both, as the
 * command leaves them out: http-service's `_classifier.py`, which imports scikit-learn and trains,
 * is the pool's preload, not a module it serves.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type BenchContext } from './lib/context.js';
import { ratioTo, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';

const EXAMPLES = ['fibonacci', 'numpy', 'callbacks', 'http-service', 'dataframes', 'observer/python'];
/** The options of each example's pool that the command takes too: the startTimeout of those whose modules import for long. */
const OPTIONS: Record<string, string[]> = { dataframes: ['--timeout', '60000'] };
const CLI = join(ROOT, 'packages', 'python-bridge', 'dist', 'cli', 'main.js');

/** Runs ARGV and prints the CPU seconds it and its descendants used; exits with its code. */
const CPU_OF_CHILD =
  'import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); ' +
  'r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime); sys.exit(code)';

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Runs a command to its end; rejects unless it exits 0. */
function timed(ctx: BenchContext, command: string, args: readonly string[]): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = ctx.adopt(spawn(ctx.python, ['-c', CPU_OF_CHILD, command, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = nowMs() - t0;
      const cpu = Number(stdout.trim().split('\n').pop());
      if (code === 0 && Number.isFinite(cpu)) resolve({ wallMs, cpuMs: cpu * 1000 });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

export async function runTypegen(ctx: BenchContext): Promise<Row[]> {
  const floors = new Map<string, Timing[]>(EXAMPLES.map((e) => [e, []]));
  const runs = new Map<string, Timing[]>(EXAMPLES.map((e) => [e, []]));
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    for (const example of EXAMPLES) {
      const dir = join(ROOT, 'examples', example);
      const modules = readdirSync(dir).filter((f) => f.endsWith('.py') && !f.startsWith('_')).map((f) => f.slice(0, -3));
      const floor = await timed(ctx, ctx.python, ['-c', `import sys; sys.path[:0] = [${JSON.stringify(dir)}]; import ${modules.join(', ')}`]);
      const run = await timed(ctx, process.execPath, [CLI, 'types', '--path', dir, ...(OPTIONS[example] ?? []), '--check']);
      floors.get(example)!.push(floor);
      runs.get(example)!.push(run);
    }
  }
  const rows: Row[] = [];
  for (const example of EXAMPLES) {
    const cpu = runs.get(example)!.map((t) => t.cpuMs);
    const wall = runs.get(example)!.map((t) => t.wallMs);
    rows.push({
      benchmark: 'typegen',
      figure: `npx piton types --check, examples/${example}: CPU time`,
      unit: 'ms',
      samples: cpu,
      ratio: ratioTo('× importing its modules', cpu, floors.get(example)!.map((t) => t.cpuMs)),
      target: { text: '< 2 s', on: 'value', met: (ms) => ms < 2_000 },
    });
    rows.push({
      benchmark: 'typegen',
      figure: `npx piton types --check, examples/${example}: wall time`,
      unit: 'ms',
      samples: wall,
      ratio: ratioTo('× importing its modules', wall, floors.get(example)!.map((t) => t.wallMs)),
    });
  }
  const total = (pick: (t: Timing) => number) =>
    Array.from({ length: ctx.settings.trials }, (_, trial) => EXAMPLES.reduce((sum, e) => sum + pick(runs.get(e)![trial]!), 0));
  rows.push(
    { benchmark: 'typegen', figure: 'the six examples, one after another: CPU time', unit: 'ms', samples: total((t) => t.cpuMs) },
    { benchmark: 'typegen', figure: 'the six examples, one after another: wall time', unit: 'ms', samples: total((t) => t.wallMs) },
  );
  return rows;
}
