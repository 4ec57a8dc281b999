/**
 * `npx piton types`: TypeScript declarations from the type hints of the Python a pool calls.
 *
 * The modules are read by piton.typegen in the interpreter the pool would choose from here
 * (`--python`, `$PITON_PYTHON`, the project's `.venv`, `python3`), with the pool's `path` first on
 * `sys.path` and its allow rules, as the pool's own option resolution reads them: only names a
 * call could reach are typed. The file (typegen/declarations.ts) augments the bridge's
 * `PythonModules`, so that calls are checked with no type argument (typed-calls.ts).
 *
 * The file is written only when its text changes. `--check` writes nothing and exits 1 when the
 * file differs from what would be written, for CI; `--watch` rewrites it whenever a `.py` file
 * under the path changes, until SIGINT or SIGTERM.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, parse, relative, resolve } from 'node:path';
import { resolvePoolOptions } from '../pool/validate.js';
import { pythonCandidate } from '../environment/python-executable.js';
import { declarations } from '../typegen/declarations.js';
import { introspect, type IntrospectOptions } from '../typegen/introspect.js';

/** The options of `piton types`, as node:util parseArgs takes them. */
export const TYPES_OPTIONS = {
  path: { type: 'string', multiple: true },
  module: { type: 'string', multiple: true },
  out: { type: 'string' },
  check: { type: 'boolean' },
  watch: { type: 'boolean' },
  python: { type: 'string' },
  'allow-module': { type: 'string', multiple: true },
  'allow-private': { type: 'boolean' },
  'allow-reexports': { type: 'string', multiple: true },
  timeout: { type: 'string' },
} as const;

export interface TypesOptions {
  /** The pool's `path` (default: the current directory). */
  paths: string[];
  /** Only these modules (default: every module under the path, and the allowed ones). */
  modules: string[];
  /** Where to write (default: `piton-types.d.ts` in the first path). */
  out: string | undefined;
  check: boolean;
  watch: boolean;
  python: string | undefined;
  allowModules: string[];
  allowPrivate: boolean;
  allowReexports: string[];
  /** ms a module may take to import (default: the pool's `startTimeout`). */
  timeout: number | undefined;
}

type Parsed = { [K in keyof typeof TYPES_OPTIONS]?: (typeof TYPES_OPTIONS)[K]['type'] extends 'boolean' ? boolean : (typeof TYPES_OPTIONS)[K] extends { multiple: true } ? string[] : string };

/** Checks what parseArgs gave; throws an Error whose message is for the user. */
export function parseTypesOptions(values: Parsed): TypesOptions {
  if (values.check && values.watch) throw new Error('--check and --watch cannot be used together');
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    timeout = Number(values.timeout);
    if (!Number.isInteger(timeout) || timeout < 1) throw new Error(`--timeout must be a whole number of milliseconds >= 1, got ${JSON.stringify(values.timeout)}`);
  }
  return {
    paths: values.path ?? [],
    modules: values.module ?? [],
    out: values.out,
    check: values.check ?? false,
    watch: values.watch ?? false,
    python: values.python,
    allowModules: values['allow-module'] ?? [],
    allowPrivate: values['allow-private'] ?? false,
    allowReexports: values['allow-reexports'] ?? [],
    timeout,
  };
}

type Log = (line: string) => void;

/** How the generation is set up, resolved once. */
interface Plan {
  out: string;
  introspect: IntrospectOptions;
  /** How to run the command again, for messages. */
  again: string;
}

export async function types(options: TypesOptions, log: Log = console.log, warn: Log = console.error): Promise<number> {
  let plan: Plan;
  try {
    plan = await makePlan(options);
  } catch (error) {
    warn(`piton types: ${(error as Error).message}`);
    return 1;
  }
  const first = await generate(plan, options, log, warn);
  if (!options.watch) return first;
  return watchAndGenerate(plan, options, log, warn);
}

async function makePlan(options: TypesOptions): Promise<Plan> {
  const cwd = process.cwd();
  const pool = resolvePoolOptions({
    size: 1,
    path: options.paths.length > 0 ? options.paths : ['.'],
    ...(options.python !== undefined && { python: options.python }),
    allow: { modules: options.allowModules, private: options.allowPrivate, reexports: options.allowReexports },
    ...(options.timeout !== undefined && { startTimeout: options.timeout }),
  });
  for (const dir of pool.path) {
    const found = await stat(dir).catch(() => undefined);
    if (!found?.isDirectory()) throw new Error(`--path "${dir}" ${found ? 'is not a directory' : 'does not exist'}`);
  }
  const out = resolve(cwd, options.out ?? join(pool.path[0]!, 'piton-types.d.ts'));
  const again = ['npx piton types', ...process.argv.slice(3).filter((arg) => arg !== '--check' && arg !== '--watch')].join(' ');
  return {
    out,
    again,
    introspect: {
      python: pythonCandidate(pool.python, cwd),
      paths: pool.path,
      modules: options.modules,
      allowModules: pool.allow.modules,
      allowPrivate: pool.allow.private,
      allowReexports: pool.allow.reexports,
      cwd: pool.cwd,
      moduleTimeout: pool.startTimeout,
    },
  };
}

/** One generation: read, render, then write or check. Returns the exit code. */
async function generate(plan: Plan, options: TypesOptions, log: Log, warn: Log): Promise<number> {
  let read;
  try {
    read = await introspect(plan.introspect);
  } catch (error) {
    warn(`piton types: ${(error as Error).message}`);
    return 1;
  }
  for (const failure of read.failures) warn(`piton types: skipped module ${failure.module}: ${failure.error}`);
  const named = read.failures.filter((f) => options.modules.includes(f.module));
  if (named.length > 0) {
    warn(`piton types: ${named.map((f) => f.module).join(', ')} could not be read; ${plan.out} is left as it was`);
    return 1;
  }
  if (read.modules.length === 0) {
    warn(`piton types: no Python module to read under ${plan.introspect.paths.join(', ')}${read.failures.length > 0 ? ' that imports' : ''}`);
    return 1;
  }
  const { text, summary } = declarations(read.modules, { arrow: arrowResolves(dirname(plan.out)) });
  const near = relative(process.cwd(), plan.out);
  const shown = near === '' || near.startsWith('..') ? plan.out : near;
  const what = `${summary.functions} function${summary.functions === 1 ? '' : 's'} in ${summary.modules} module${summary.modules === 1 ? '' : 's'}`;
  const onDisk = await readFile(plan.out, 'utf8').catch(() => undefined);
  if (options.check) {
    if (onDisk === text) {
      log(`piton types: ${shown} is up to date (${what})`);
      return 0;
    }
    const why = onDisk === undefined ? 'it does not exist' : `it differs from line ${firstDifference(onDisk, text)}`;
    warn(`piton types: ${shown} is out of date: ${why}; run \`${plan.again}\` and commit it`);
    return 1;
  }
  if (onDisk !== text) {
    await mkdir(dirname(plan.out), { recursive: true });
    await writeFile(plan.out, text);
  }
  log(`piton types: ${shown}: ${what}${onDisk === text ? ', unchanged' : ', written'}`);
  return 0;
}

function firstDifference(a: string, b: string): number {
  const x = a.split('\n');
  const y = b.split('\n');
  let line = 0;
  while (line < x.length && line < y.length && x[line] === y[line]) line++;
  return line + 1;
}

/** Whether `import('apache-arrow')` resolves from `dir`: then tables are typed with its types. */
function arrowResolves(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules', 'apache-arrow', 'package.json'))) return true;
    if (at === parse(at).root) return false;
  }
}

/** Generates again whenever a `.py` file under the path changes; resolves with 0 on SIGINT/SIGTERM. */
function watchAndGenerate(plan: Plan, options: TypesOptions, log: Log, warn: Log): Promise<number> {
  return new Promise((done) => {
    const watchers: FSWatcher[] = [];
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> | undefined;
    let again = false;
    const run = () => {
      if (running) {
        again = true;
        return;
      }
      running = generate(plan, options, log, warn).finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
    };
    for (const dir of plan.introspect.paths) {
      const watcher = watch(dir, { recursive: true }, (_event, file) => {
        if (file !== null && !String(file).endsWith('.py')) return;
        // Editors write a file in several steps: wait for them to settle.
        clearTimeout(timer);
        timer = setTimeout(run, 100);
      });
      watcher.on('error', (error) => warn(`piton types: watching ${dir}: ${error.message}`));
      watchers.push(watcher);
    }
    log(`piton types: watching ${plan.introspect.paths.join(', ')} for changes (Ctrl-C stops)`);
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
      void Promise.resolve(running).then(() => done(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
