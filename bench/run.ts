/**
 * `npm run bench`: runs every benchmark family, prints one markdown table and writes the figures
 * to bench/results/latest.json.
 *
 *   npm run bench                  full run (a few minutes on 2 cores)
 *   npm run bench -- --quick       fewer trials and calls (~30 s)
 *   npm run bench -- --codec       only the codec micro-benchmark
 *   npm run bench -- --only=floor,latency   only the named families
 *   npm run bench -- --trials=7    trials per figure
 *   npm run bench -- --metrics     every pool with the Prometheus exporter attached
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, BenchContext, type Settings } from './lib/context.js';
import { describeMachine, renderMachine } from './lib/machine.js';
import { FamilySkipped, renderTable, resolveRow, type Row } from './lib/report.js';
import { nowMs } from './lib/stats.js';
import { families } from './families.js';

interface Cli {
  settings: Settings;
  only: string[] | undefined;
}

function parseArgs(argv: readonly string[]): Cli {
  let quick = false;
  let metrics = false;
  let trials: number | undefined;
  let only: string[] | undefined;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--metrics') metrics = true;
    else if (arg === '--codec') only = ['codec'];
    else if (arg.startsWith('--only=')) only = arg.slice('--only='.length).split(',').filter(Boolean);
    else if (arg.startsWith('--trials=')) {
      trials = Number(arg.slice('--trials='.length));
      if (!Number.isInteger(trials) || trials < 1) throw new RangeError(`--trials must be a positive integer, got ${arg}`);
    } else throw new RangeError(`unknown argument ${JSON.stringify(arg)} (expected --quick, --codec, --metrics, --only=a,b, --trials=N)`);
  }
  const known = families.map((f) => f.name);
  for (const name of only ?? []) {
    if (!known.includes(name)) throw new RangeError(`--only: unknown family ${JSON.stringify(name)} (known: ${known.join(', ')})`);
  }
  return { settings: { quick, trials: trials ?? (quick ? 3 : 5), metrics }, only };
}

async function main(): Promise<number> {
  const cli = parseArgs(process.argv.slice(2));
  const ctx = new BenchContext(cli.settings);
  const onSignal = (signal: NodeJS.Signals) => {
    ctx.killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => ctx.killAll());

  const machine = describeMachine(ctx.python);
  const started = nowMs();
  const rows: Row[] = [];
  const failures: { family: string; error: string }[] = [];
  const skipped: { family: string; why: string }[] = [];
  try {
    for (const family of families) {
      if (cli.only && !cli.only.includes(family.name)) continue;
      const t0 = nowMs();
      ctx.log(`${family.name}: running`);
      try {
        rows.push(...(await family.run(ctx)));
      } catch (error) {
        if (error instanceof FamilySkipped) {
          skipped.push({ family: family.name, why: error.message });
          ctx.log(`${family.name}: skipped: ${error.message}`);
          continue;
        }
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        failures.push({ family: family.name, error: message });
        ctx.log(`${family.name}: FAILED: ${message}`);
      }
      ctx.log(`${family.name}: ${((nowMs() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await ctx.cleanup();
  }
  const results = rows.map(resolveRow);
  const seconds = (nowMs() - started) / 1000;
  const mode = `${cli.settings.quick ? 'quick' : 'full'}${cli.settings.metrics ? ', every pool with metrics' : ''}`;
  console.log(renderMachine(machine));
  console.log(`Run: ${mode}, ${cli.settings.trials} trials per figure, ${seconds.toFixed(0)} s.\n`);
  console.log(renderTable(results));
  const targets = results.filter((r) => r.target);
  if (targets.length > 0) {
    console.log(`\nTargets met: ${targets.filter((r) => r.target!.met).length} of ${targets.length}.`);
  }
  for (const s of skipped) console.log(`\nSKIPPED: ${s.family}: ${s.why}`);
  for (const f of failures) console.log(`\nFAILED: ${f.family}: ${f.error.split('\n')[0]}`);

  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), mode, settings: cli.settings, seconds, machine, rows: results, skipped, failures }, null, 2)}\n`);
  ctx.log(`figures written to ${file}`);
  return failures.length === 0 ? 0 : 1;
}

/**
 * The run has stopped everything it started; if something still holds the event loop (a pool that
 * failed half-way through its start, say), say what it is and exit rather than hang.
 */
function exitWhenDone(code: number): void {
  process.exitCode = code;
  setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    process.stderr.write(`bench: still holding the event loop after the run: ${left.join(', ') || 'timers'}; exiting\n`);
    process.exit(code === 0 ? 3 : code);
  }, 5_000).unref();
}

main().then(
  exitWhenDone,
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  },
);
