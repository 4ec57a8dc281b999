/**
 * `npx piton doctor`: checks the interpreter the pool would use from here (or `--python`) and
 * prints, for each problem, the command that fixes it. Exit code 1 when a required check fails.
 */
import { choosePython, type PythonSource } from '../environment/python-executable.js';
import { pipInstallCommand, RUNTIME_REQUIREMENTS } from '../environment/requirements.js';
import { projectVenv, RUNTIME_SRC, runtimeCandidates } from '../environment/runtime-location.js';
import { checkPython, failures, formatChecks } from './checks.js';
import { inspectPython } from './inspect-python.js';
import { roundTrip } from './round-trip.js';

type Log = (line: string) => void;

function explainSource(source: PythonSource, venv: string): string {
  switch (source) {
    case 'option':
      return 'given with --python';
    case 'PITON_PYTHON':
      return 'from $PITON_PYTHON, which the pool prefers to the project environment';
    case 'project environment':
      return `the project's environment ${venv}, made by \`npx piton setup\``;
    case 'PATH':
      return `python3 on PATH: there is no project environment at ${venv} (\`npx piton setup\` makes it)`;
  }
}

export async function doctor(options: { python: string | undefined }, log: Log = console.log): Promise<number> {
  const venv = projectVenv();
  const { command, source } = choosePython(options.python);
  log(`piton doctor: ${command}`);
  log(`  chosen as ${explainSource(source, venv)}`);
  log(`  worker runtime: ${RUNTIME_SRC ?? `not found (looked in ${runtimeCandidates().join(', ')})`}`);
  // setup fixes the interpreter the pool picks by default; one the user named is fixed in place.
  const setupApplies = source === 'project environment' || source === 'PATH';

  let report;
  try {
    report = await inspectPython(command);
  } catch (error) {
    log(`  ✘ Python: ${(error as Error).message}`);
    log(`      fix: ${setupApplies ? 'npx piton setup' : 'name an interpreter that runs (the `python` option, $PITON_PYTHON or --python)'}`);
    return 1;
  }
  const checks = checkPython(report, { python: report.executable, setupApplies });
  log(formatChecks(checks));
  const failed = failures(checks);
  const trip = failed.length === 0 ? await roundTrip(command) : undefined;
  if (trip !== undefined) log(`  ${trip.ok ? '✔' : '✘'} round trip: ${trip.detail}`);
  if (failed.length > 0 || trip?.ok === false) {
    const problems = failed.length + (trip?.ok === false ? 1 : 0);
    log(`piton doctor: ${problems} problem${problems === 1 ? '' : 's'}; run the fixes above`);
    const lacking = RUNTIME_REQUIREMENTS.filter((r) => failed.some((c) => c.name === r.distribution));
    if (lacking.length > 1) log(`  (or all at once: ${setupApplies ? 'npx piton setup' : pipInstallCommand(report.executable, lacking)})`);
    return 1;
  }
  log('piton doctor: this interpreter can run the pool');
  return 0;
}
