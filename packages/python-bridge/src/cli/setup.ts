/**
 * `npx piton setup`: makes the project's Python environment, the one the pool uses by default.
 *
 * 1. `<project>/.venv` (runtime-location.ts says which directory is the project) is made with
 *    `--python`, else the first of `python3`, `python` that is Python >= 3.9; an existing one is kept.
 * 2. What is missing or too old among pyzmq and msgpack (and numpy with `--numpy`, pyarrow with
 *    `--arrow`, for DataFrames and Arrow tables) is installed with
 *    pip, which reads its index and mirrors from the user's pip configuration; `--requirements FILE`
 *    is installed when the file changed since the last setup (its digest is kept in the environment).
 *    So a second run installs nothing and takes about a second.
 * 3. The environment is checked as `doctor` checks it, down to a pool of one answering a call.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ARROW_REQUIREMENT, NUMPY_REQUIREMENT, RUNTIME_REQUIREMENTS, versionAtLeast, MINIMUM_PYTHON, type Requirement } from '../environment/requirements.js';
import { projectRoot, projectVenv, venvPython } from '../environment/runtime-location.js';
import { checkPython, failures, formatChecks } from './checks.js';
import { inspectPython, type PythonReport } from './inspect-python.js';
import { roundTrip } from './round-trip.js';

export interface SetupOptions {
  python: string | undefined;
  numpy: boolean;
  /** Install pyarrow: DataFrames and Arrow tables cross the wire. */
  arrow: boolean;
  requirements: string[];
}

/** A failure the user can act on: printed as is, exit code 1. */
export class SetupError extends Error {}

/** Where setup keeps the digests of the requirement files it installed. */
const STAMP = '.piton-setup.json';

type Log = (line: string) => void;

/** Runs setup; resolves with the exit code. */
export async function setup(options: SetupOptions, log: Log = console.log): Promise<number> {
  const project = projectRoot();
  const venv = projectVenv();
  const python = venvPython(venv);
  log(`piton setup: the project is ${project}; its Python environment is ${venv}`);

  if (existsSync(python)) {
    const current = await inspectPython(python).catch((error: Error) => {
      throw new SetupError(`${error.message}: ${venv} is broken; remove it and run \`npx piton setup\` again`);
    });
    log(`  using the existing environment (Python ${current.version})`);
    if (options.python !== undefined) await checkSameVersion(options.python, current, venv);
  } else if (existsSync(venv)) {
    throw new SetupError(`${venv} exists but is not a virtual environment (it has no bin/python); move it away and run \`npx piton setup\` again`);
  } else {
    const base = await choosePythonForVenv(options.python);
    log(`  creating it with ${base.executable} (Python ${base.version})`);
    await run(base.executable, ['-m', 'venv', venv], 'making the virtual environment');
  }

  const report = await inspectPython(python);
  const wanted = [...RUNTIME_REQUIREMENTS, ...(options.numpy ? [NUMPY_REQUIREMENT] : []), ...(options.arrow ? [ARROW_REQUIREMENT] : [])];
  const missing = wanted.filter((r) => !satisfied(report, r));
  const files = await changedRequirementFiles(venv, options.requirements);
  if (missing.length === 0 && files.length === 0) {
    log(`  ${wanted.map((r) => r.distribution).join(', ')}${options.requirements.length > 0 ? ' and the requirement files' : ''}: already installed, nothing to do`);
  } else {
    const what = [...missing.map((r) => r.spec), ...files.map((f) => `-r ${f.path}`)];
    log(`  installing ${what.join(' ')}`);
    // No index options: pip follows the user's configuration (mirrors, proxies). --retries 0: where
    // only a mirror is reachable, pip should not wait on the others.
    await run(
      python,
      ['-m', 'pip', 'install', '--retries', '0', '--disable-pip-version-check', ...missing.map((r) => r.spec), ...files.flatMap((f) => ['-r', f.path])],
      'pip install',
    );
    await recordRequirementFiles(venv, files);
  }

  const checks = checkPython(await inspectPython(python), { python, setupApplies: true });
  const trip = failures(checks).length === 0 ? await roundTrip(python) : { ok: false, detail: 'skipped: a required check failed' };
  log(formatChecks(checks));
  log(`  ${trip.ok ? '✔' : '✘'} round trip: ${trip.detail}`);
  if (failures(checks).length > 0 || !trip.ok) {
    log('piton setup: the environment is not usable yet; see the fixes above');
    return 1;
  }
  log(`piton setup: ready. The pool uses ${python} by default:`);
  log(`  @piton/python-bridge looks for <project>/.venv, the project being the directory whose`);
  log(`  node_modules hold it (${project}), whatever the working directory.`);
  log('  $PITON_PYTHON or the `python` option choose another interpreter.');
  return 0;
}

function satisfied(report: PythonReport, requirement: Requirement): boolean {
  const state = report.modules[requirement.distribution];
  return state !== undefined && 'version' in state && versionAtLeast(state.version, requirement.minimum);
}

/** `--python`, else the first usable of python3 and python on PATH. */
async function choosePythonForVenv(explicit: string | undefined): Promise<PythonReport> {
  const candidates = explicit !== undefined ? [explicit] : ['python3', 'python'];
  const problems: string[] = [];
  for (const candidate of candidates) {
    const report = await inspectPython(candidate).catch((error: Error) => {
      problems.push(error.message);
      return undefined;
    });
    if (report === undefined) continue;
    if (versionAtLeast(report.version, MINIMUM_PYTHON)) return report;
    problems.push(`${candidate} is Python ${report.version}, older than ${MINIMUM_PYTHON.join('.')}`);
  }
  throw new SetupError(`no usable Python: ${problems.join('; ')}. Install Python >= ${MINIMUM_PYTHON.join('.')} or name one with --python`);
}

/** `--python` against an existing environment: a different version would be silently ignored. */
async function checkSameVersion(explicit: string, current: PythonReport, venv: string): Promise<void> {
  const wanted = await inspectPython(explicit).catch((error: Error) => {
    throw new SetupError(error.message);
  });
  const minor = (version: string) => version.split('.').slice(0, 2).join('.');
  if (minor(wanted.version) !== minor(current.version)) {
    throw new SetupError(
      `${venv} runs Python ${current.version} but --python ${explicit} is Python ${wanted.version}; ` +
        `remove ${venv} and run setup again to remake it with ${explicit}`,
    );
  }
}

interface RequirementFile {
  path: string;
  digest: string;
}

async function readStamp(venv: string): Promise<Record<string, string>> {
  try {
    return (JSON.parse(await readFile(join(venv, STAMP), 'utf8')) as { requirements?: Record<string, string> }).requirements ?? {};
  } catch {
    return {};
  }
}

/** The requirement files whose content differs from what the last setup installed. */
async function changedRequirementFiles(venv: string, paths: readonly string[]): Promise<RequirementFile[]> {
  const stamp = await readStamp(venv);
  const files: RequirementFile[] = [];
  for (const given of paths) {
    const path = resolve(given);
    const content = await readFile(path).catch(() => {
      throw new SetupError(`--requirements ${given}: cannot read ${path}`);
    });
    const digest = createHash('sha256').update(content).digest('hex');
    if (stamp[path] !== digest) files.push({ path, digest });
  }
  return files;
}

async function recordRequirementFiles(venv: string, files: readonly RequirementFile[]): Promise<void> {
  if (files.length === 0) return;
  const stamp = await readStamp(venv);
  for (const file of files) stamp[file.path] = file.digest;
  await writeFile(join(venv, STAMP), JSON.stringify({ requirements: stamp }, null, 2) + '\n');
}

/** Runs a command with its output shown; a failure is a SetupError naming it. */
function run(command: string, args: readonly string[], what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (error) => reject(new SetupError(`${what} failed: ${error.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new SetupError(`${what} failed (${signal ?? `exit code ${code}`}): ${[command, ...args].join(' ')}`));
    });
  });
}
