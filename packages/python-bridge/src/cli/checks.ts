/**
 * The verdict on an interpreter, as pure functions of its report (inspect-python.ts): one check
 * per need, each with what was found and, when it fails, the exact command that fixes it. `setup`
 * and `doctor` print the same checks; tests feed them made-up reports.
 */
import { ARROW_REQUIREMENT, MINIMUM_PYTHON, NUMPY_REQUIREMENT, pipInstallCommand, RUNTIME_REQUIREMENTS, versionAtLeast, type Requirement } from '../environment/requirements.js';
import type { PythonReport } from './inspect-python.js';

export interface Check {
  /** `Python`, `pyzmq`, `msgpack`, `numpy`, `worker runtime`. */
  name: string;
  ok: boolean;
  /** A failed optional check (numpy, pyarrow) is reported but does not fail `doctor`. */
  required: boolean;
  /** What an optional check gives when it passes, said when it does not. */
  optionalFor?: string;
  /** What was found: a version, or why it is missing. */
  detail: string;
  /** Commands that fix a failed check, best first. */
  fixes: string[];
}

/**
 * How to fix the interpreter: `setup` is offered when the interpreter is (or would be) the project's
 * environment; an interpreter the user chose is fixed in place with pip.
 */
export interface FixContext {
  python: string;
  /** The interpreter is the project's environment, or none was chosen: `npx piton setup` applies. */
  setupApplies: boolean;
}

/** What each optional requirement gives, and the setup flag that installs it. */
const OPTIONAL: Record<string, { gives: string; flag: string }> = {
  numpy: { gives: 'typed arrays then arrive as numpy arrays', flag: '--numpy' },
  pyarrow: { gives: 'DataFrames and Arrow tables then cross the wire', flag: '--arrow' },
};

function requirementCheck(report: PythonReport, requirement: Requirement, required: boolean, context: FixContext): Check {
  const state = report.modules[requirement.distribution];
  const found = state !== undefined && 'version' in state ? state.version : undefined;
  const ok = found !== undefined && versionAtLeast(found, requirement.minimum);
  const detail =
    found === undefined
      ? `missing (${state !== undefined && 'error' in state ? state.error : 'not inspected'})`
      : ok
        ? found
        : `${found} is older than ${requirement.spec}`;
  // setup is the fix for the project's environment; pip is the fix for an interpreter the user chose.
  const fixes = ok
    ? []
    : context.setupApplies
      ? [required ? 'npx piton setup' : `npx piton setup ${OPTIONAL[requirement.distribution]?.flag ?? ''}`.trim()]
      : [pipInstallCommand(context.python, [requirement])];
  const optional = required ? undefined : OPTIONAL[requirement.distribution]?.gives;
  return { name: requirement.distribution, ok, required, detail, fixes, ...(optional === undefined ? {} : { optionalFor: optional }) };
}

/** Every check, in the order they are printed. */
export function checkPython(report: PythonReport, context: FixContext): Check[] {
  const pythonOk = versionAtLeast(report.version, MINIMUM_PYTHON);
  const minimum = MINIMUM_PYTHON.join('.');
  const checks: Check[] = [
    {
      name: 'Python',
      ok: pythonOk,
      required: true,
      detail: pythonOk ? `${report.version} (${report.executable})` : `${report.version} is older than ${minimum}`,
      fixes: pythonOk ? [] : [`npx piton setup --python python3.X   (any Python >= ${minimum}; remove the old environment first)`],
    },
    ...RUNTIME_REQUIREMENTS.map((r) => requirementCheck(report, r, true, context)),
    requirementCheck(report, NUMPY_REQUIREMENT, false, context),
    requirementCheck(report, ARROW_REQUIREMENT, false, context),
  ];
  const runtime = report.runtime;
  checks.push(
    'version' in runtime
      ? { name: 'worker runtime', ok: true, required: true, detail: `piton ${runtime.version} (${runtime.file})`, fixes: [] }
      : {
          name: 'worker runtime',
          ok: false,
          required: true,
          detail: `cannot be imported (${runtime.error})`,
          // A missing dependency also stops the import; its own check names that fix.
          fixes: checks.some((c) => c.required && !c.ok) ? [] : ['npm install @piton/python-bridge   (reinstall: the runtime ships inside it)'],
        },
  );
  return checks;
}

/** The checks as printed: `✔ pyzmq 26.2.0`, `✘ msgpack missing (…)` with its fixes below. */
export function formatChecks(checks: readonly Check[]): string {
  const lines: string[] = [];
  for (const check of checks) {
    const mark = check.ok ? '✔' : check.required ? '✘' : '-';
    lines.push(`  ${mark} ${check.name}: ${check.detail}${check.ok || check.required ? '' : ` (optional: ${check.optionalFor ?? 'not needed to run calls'})`}`);
    for (const fix of check.fixes) lines.push(`      fix: ${fix}`);
  }
  return lines.join('\n');
}

/** The required checks that failed. */
export function failures(checks: readonly Check[]): Check[] {
  return checks.filter((c) => c.required && !c.ok);
}
