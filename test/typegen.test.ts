// `npx piton types` run as a user runs it: the command line of the package, a real interpreter,
// real modules. What it writes is compiled by tsc in strict nodenext projects (ESM and CommonJS),
// where right uses must compile and wrong ones fail with the expected diagnostics, and the values
// real calls return are checked against the types it wrote.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncodeError, NdArray, PythonPool } from '@piton/python-bridge';
import { mismatch, parseDeclarations, type Declarations, type TypeNode } from './declared-types.js';
import { fixtures, isAlive, repoRoot } from './helpers.js';

const CLI = join(repoRoot, 'packages', 'python-bridge', 'dist', 'cli', 'main.js');
const TSC = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const python = join(repoRoot, '.venv', 'bin', 'python');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** `npx piton types ARGS`, with the repository's environment as the interpreter (as the pool uses it). */
function piton(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return run(process.execPath, [CLI, 'types', ...args], options);
}

function shown(what: string, result: Run): string {
  return `${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

interface Diagnostic {
  file: string;
  line: number;
  code: string;
}

/** Runs tsc on a project; its diagnostics as file, line and code. */
async function tsc(project: string): Promise<{ result: Run; diagnostics: Diagnostic[] }> {
  const result = await run(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { cwd: project });
  const diagnostics = [...result.stdout.matchAll(/^(\S+?)\((\d+),\d+\): error (TS\d+):/gm)].map((m) => ({ file: m[1]!, line: Number(m[2]), code: m[3]! }));
  return { result, diagnostics };
}

/** The `// error TSxxxx` markers of a file: where tsc must report what. */
function markers(file: string, name: string): Diagnostic[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((text, i) => [...text.matchAll(/\/\/ error (TS\d+)/g)].map((m) => ({ file: name, line: i + 1, code: m[1]! })));
}

const byPlace = (a: Diagnostic, b: Diagnostic) => a.file.localeCompare(b.file) || a.line - b.line || a.code.localeCompare(b.code);

/**
 * A TypeScript project outside the repository, as a user has it: the bridge and @types/node in its
 * node_modules (linked to this checkout's), strict nodenext, the generated file and `files`.
 */
function project(dir: string, type: 'module' | 'commonjs', files: string[]): void {
  mkdirSync(join(dir, 'node_modules', '@piton'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(repoRoot, 'packages', 'python-bridge'), join(dir, 'node_modules', '@piton', 'python-bridge'));
  symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  symlinkSync(join(repoRoot, 'node_modules', 'undici-types'), join(dir, 'node_modules', 'undici-types'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'typed-consumer', private: true, type }));
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'ESNext.Disposable'],
    types: ['node'],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    noEmit: true,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }, null, 2));
}

/** A call the round trip makes: positional and keyword arguments. */
interface Sample {
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

/**
 * Arguments for every callable name of typed_values.py (the test fails if one has none), and, for
 * the two whose result the wire refuses, `refused`: the call must fail with EncodeError, and the
 * generated type must be `unknown` saying so.
 */
const SAMPLES: Record<string, Sample[] | 'refused'> = {
  imported_echo: [{ args: [{ a: [1, 'b'] }] }],
  Color: [{ args: ['red'] }],
  Priority: [{ args: [2] }],
  Shape: 'refused',
  Point: [{ args: [1, 2.5] }],
  Line: [{ kwargs: { sku: 'a', quantity: 2 } }],
  Order: [{ kwargs: { id: 'x' } }, { kwargs: { id: 'x', lines: [], note: null } }],
  TreeNode: [{ kwargs: { name: 'n', children: [] } }],
  Shouter: 'refused',
  shout: [{ args: ['hi'] }],
  fib: [{ args: [20] }, { args: [0] }],
  mean: [{ args: [[1, 2.5]] }],
  greet: [{ args: ['bob'] }, { args: ['bob', '?'] }],
  is_even: [{ args: [3] }, { args: [4] }],
  nothing: [{}],
  maybe_half: [{ args: [4] }, { args: [3] }],
  raw: [{ args: [4] }, { args: [0] }],
  later: [{ args: [new Date(0), 1.5] }],
  pair: [{ args: [1, 'a'] }],
  counts: [{ args: [['a', 'b', 'a']] }, { args: [[]] }],
  by_length: [{ args: [['a', 'bb', 'cc']] }, { args: [[]] }],
  mixed: [{ args: ['int'] }, { args: ['str'] }, { args: ['list'] }],
  choose: [{ args: ['a'] }, { args: ['b'] }],
  paint: [{ args: ['green'] }],
  prioritize: [{ args: [1] }],
  shape_name: [{ args: ['circle'] }],
  midpoint: [{ args: [[0, 0], [2, 4]] }],
  order_total: [{ args: [{ id: 'x', lines: [{ sku: 'a', quantity: 2 }] }], kwargs: { discount: 0.5 } }, { args: [{ id: 'y' }] }],
  make_order: [{ args: ['x', 'a', 'b'], kwargs: { quantity: 3, gift: 'yes' } }, { args: ['y'] }],
  needs_key: [{ kwargs: { key: 'k' } }],
  tree: [{ args: [2] }],
  scaled: [{ args: [new Float64Array([1, 2]), 2] }, { args: [new NdArray(new Float64Array(4), [2, 2]), 2] }],
  vector: [{ args: [3] }],
  matrix: [{ args: [2, 3] }],
  column_sums: [{ args: [new NdArray(new Uint8Array([1, 2, 3, 4]), [2, 2])] }],
  count_up: [{ args: [3] }],
  chunks: [{ args: ['abcdef', 4] }],
  lengths: [{ args: ['abc'] }, { args: [''] }],
  anything: [{ args: [{ x: [1] }] }],
  untyped: [{ args: ['a'] }],
  label: [{}],
};

describe('npx piton types: TypeScript declarations from Python type hints', function () {
  this.timeout(60_000);
  let scratch: string;
  let generated: string;
  let declared: Declarations;
  let generation: Run;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'piton-typegen-'));
    generation = await piton(['--path', fixtures, '--module', 'typed_values', '--module', 'typed_async', '--out', join(scratch, 'piton-types.d.ts')]);
    expect(generation.code, shown('piton types', generation)).to.equal(0);
    generated = readFileSync(join(scratch, 'piton-types.d.ts'), 'utf8');
    declared = parseDeclarations(generated);
  });

  after(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('types each callable name as the wire carries its values, and says what it wrote', () => {
    expect(generation.stdout).to.match(/piton-types\.d\.ts: 44 functions in 2 modules, written/);
    const module = declared.modules.get('typed_values')!;
    expect([...module.keys()].sort()).to.deep.equal(Object.keys(SAMPLES).sort());
    for (const line of [
      'fib(n: number): number;',
      'greet: WithKwargs<(name: string, punctuation?: string) => string, { punctuation?: string }>;',
      'maybe_half(n: number): number | null;',
      'raw(size: number): Uint8Array;',
      'later(at: Date, hours: number): Date;',
      'by_length(words: string[]): Map<number, string[]> | Record<string, never>;',
      "choose(kind: 'a' | 'b'): 'a' | 'b' | 0;",
      "export type Color = 'red' | 'green';",
      "export type ShapeInput = 'circle' | 'square';",
      'export type Point = [x: number, y: number];',
      'order_total: WithKwargs<(order: Order) => number, { discount?: number }>;',
      'make_order: WithKwargs<(id: string, ...skus: string[]) => Order, { quantity?: number; [key: string]: string | number | undefined }>;',
      'needs_key: WithKwargs<() => string, { key: string }>;',
      'scaled(values: Float64Array | NdArray<Float64Array>, factor: number): Float64Array | NdArray<Float64Array>;',
      'vector(n: number): Int32Array;',
      'matrix(rows: number, cols: number): NdArray<Float32Array>;',
      'column_sums(image: NdArray<Uint8Array>): BigInt64Array | NdArray<BigInt64Array>;',
      'count_up(n: number): Iterator<number>;',
      'anything(value: unknown): unknown;',
      'lengths(words: string): number;',
      'fetch: WithKwargs<(url: string, retries?: number) => Promise<Uint8Array>, { retries?: number }>;',
      'ticks(n: number): AsyncIterator<number>;',
      'names(): Promise<string[]>;',
      'label: WithKwargs<(when?: unknown /* datetime.date: only datetime crosses the wire, not date */ | null) => string, { when?: unknown /* datetime.date: only datetime crosses the wire, not date */ | null }>;',
    ]) {
      expect(generated, line).to.contain(line);
    }
    expect(generated).to.contain('export interface Order {\n  id: string;\n  lines?: Line[];\n  note?: string | null;\n}');
    expect(generated).to.contain('export interface TreeNode {\n  name: string;\n  children: TreeNode[];\n}');
    // Never `any`; private names and names imported from outside the path are not callable.
    expect(generated).to.not.match(/[:<|,(]\s*any\b/);
    expect(generated).to.not.contain('_private_helper');
    expect(generated).to.not.contain('_OrderKeys');
  });

  for (const type of ['module', 'commonjs'] as const) {
    const ext = type === 'module' ? 'mts' : 'cts';
    it(`compiles a strict nodenext ${type === 'module' ? 'ESM' : 'CommonJS'} consumer that calls right, and reports each wrong call with its diagnostic`, async () => {
      const dir = join(scratch, type);
      mkdirSync(dir);
      copyFileSync(join(scratch, 'piton-types.d.ts'), join(dir, 'piton-types.d.ts'));
      // One source of each, compiled as the module system its extension says.
      for (const file of ['consumer', 'misuse']) copyFileSync(join(fixtures, 'typegen', `${file}.ts`), join(dir, `${file}.${ext}`));
      project(dir, type, ['piton-types.d.ts', `consumer.${ext}`, `misuse.${ext}`]);
      const { result, diagnostics } = await tsc(dir);
      const expected = markers(join(dir, `misuse.${ext}`), `misuse.${ext}`);
      expect(expected.length).to.be.greaterThan(20);
      expect(diagnostics.filter((d) => d.file === `consumer.${ext}`), result.stdout).to.deep.equal([]);
      expect(diagnostics.sort(byPlace), result.stdout).to.deep.equal(expected.sort(byPlace));
    });
  }

  it('round trip: what each function really returns satisfies the type written for it', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, onOutput: false });
    try {
      let checked = 0;
      for (const [name, signature] of declared.modules.get('typed_values')!) {
        const samples = SAMPLES[name];
        if (samples === undefined) throw new Error(`no sample arguments for typed_values.${name}`);
        if (samples === 'refused') {
          expect(resolveAlias(signature.result, declared), name).to.deep.equal({ kind: 'name', name: 'unknown', args: [] });
          const error = await pool.call('typed_values', name, name === 'Shape' ? ['circle'] : []).catch((e: unknown) => e);
          expect(error, name).to.be.instanceOf(EncodeError);
          continue;
        }
        for (const { args = [], kwargs } of samples) {
          const options = kwargs === undefined ? {} : { kwargs };
          const result = signature.result;
          if (result.kind === 'name' && result.name === 'Iterator') {
            const items: unknown[] = [];
            for await (const item of pool.stream('typed_values', name, args, options)) items.push(item);
            expect(items, name).to.not.deep.equal([]);
            for (const [i, item] of items.entries()) expect(mismatch(item, result.args[0]!, declared, `${name} item ${i}`)).to.equal(undefined);
          } else {
            const value = await pool.call('typed_values', name, args, options);
            expect(mismatch(value, result, declared, `${name}(${args.map(String).join(', ')})`)).to.equal(undefined);
          }
          checked++;
        }
      }
      expect(checked).to.be.greaterThan(45);
    } finally {
      await pool.stop();
    }
  });

  it('the round-trip validator rejects values that do not fit: it is not a check that cannot fail', () => {
    const module = declared.modules.get('typed_values')!;
    const result = (name: string) => module.get(name)!.result;
    expect(mismatch('20', result('fib'), declared)).to.match(/expected number/);
    expect(mismatch({ id: 1 }, result('make_order'), declared)).to.match(/id: expected string/);
    expect(mismatch({ lines: [] }, result('make_order'), declared)).to.match(/required field id is missing/);
    expect(mismatch({ id: 'x', extra: 1 }, result('make_order'), declared)).to.match(/extra is not declared/);
    expect(mismatch([1, 2, 3], result('midpoint'), declared)).to.match(/tuple of 2–2 items/);
    expect(mismatch(new Float32Array(2), result('scaled'), declared)).to.match(/no member of the union/);
    expect(mismatch(new Map([['a', ['x']]]), result('by_length'), declared)).to.match(/key: expected number/);
    expect(mismatch('blue', result('paint'), declared)).to.match(/no member of the union/);
    expect(mismatch(null, result('fib'), declared)).to.match(/expected number, got null/);
  });

  it('--check exits 0 when the file is current and 1, writing nothing, when it differs or is missing', async () => {
    const out = join(scratch, 'piton-types.d.ts');
    const args = ['--path', fixtures, '--module', 'typed_values', '--module', 'typed_async', '--out', out];
    const current = await piton([...args, '--check']);
    expect(current.code, shown('--check', current)).to.equal(0);
    expect(current.stdout).to.contain('is up to date (44 functions in 2 modules)');

    writeFileSync(out, generated.replace('fib(n: number): number;', 'fib(n: string): number;'));
    const stale = await piton([...args, '--check']);
    expect(stale.code, shown('--check (stale)', stale)).to.equal(1);
    expect(stale.stderr).to.match(/is out of date: it differs from line \d+; run `npx piton types --path .* --module typed_values --module typed_async --out .*` and commit it/);
    expect(readFileSync(out, 'utf8')).to.contain('fib(n: string): number;');

    const missing = await piton(['--path', fixtures, '--module', 'typed_values', '--out', join(scratch, 'none.d.ts'), '--check']);
    expect(missing.code, shown('--check (missing)', missing)).to.equal(1);
    expect(missing.stderr).to.contain('is out of date: it does not exist');

    const rewritten = await piton(args);
    expect(rewritten.code, shown('rewrite', rewritten)).to.equal(0);
    expect(rewritten.stdout).to.contain(', written');
    expect(readFileSync(out, 'utf8')).to.equal(generated);
    const again = await piton(args);
    expect(again.stdout).to.contain(', unchanged');
  });
});

/** An alias followed to what it names. */
function resolveAlias(type: TypeNode, declared: Declarations): TypeNode {
  while (type.kind === 'name' && declared.types.has(type.name)) type = declared.types.get(type.name)!;
  return type;
}

describe('npx piton types: which modules and names, in which interpreter', function () {
  this.timeout(60_000);
  let scratch: string;
  let py: string;

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'piton-typegen-'));
    py = join(scratch, 'py');
    mkdirSync(py);
  });

  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it('never fails on a module it can import: one that raises, kills its interpreter or hangs is left out with a warning', async () => {
    const pidFile = join(scratch, 'sleeper.pid');
    writeFileSync(join(py, 'good.py'), 'def ok(n: int) -> str:\n    return str(n)\n');
    writeFileSync(join(py, 'raises.py'), 'raise RuntimeError("not today")\n');
    writeFileSync(join(py, 'exits.py'), 'import os\nos._exit(3)\n');
    writeFileSync(join(py, 'broken.py'), 'def (:\n');
    // Hangs at import, having started a process that must not outlive the command.
    writeFileSync(
      join(py, 'hangs.py'),
      `import subprocess, time\np = subprocess.Popen(["sleep", "600"])\nopen(${JSON.stringify(pidFile)}, "w").write(str(p.pid))\ntime.sleep(3600)\n`,
    );
    writeFileSync(join(py, 'later.py'), 'def after(x: float) -> float:\n    return x\n');
    const result = await piton(['--path', py, '--timeout', '2000']);
    expect(result.code, shown('piton types', result)).to.equal(0);
    expect(result.stdout).to.contain('piton-types.d.ts: 2 functions in 2 modules, written');
    expect(result.stderr).to.contain('skipped module raises: RuntimeError: not today');
    expect(result.stderr).to.contain('skipped module exits: the interpreter exited with code 3');
    expect(result.stderr).to.match(/skipped module broken: SyntaxError/);
    expect(result.stderr).to.contain('skipped module hangs: it did not finish within 2000 ms (--timeout) and was killed');
    const text = readFileSync(join(py, 'piton-types.d.ts'), 'utf8');
    expect(text).to.contain('ok(n: number): string;');
    expect(text).to.contain('after(x: number): number;');
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    expect(isAlive(sleeper), `the sleep ${sleeper} started at import`).to.equal(false);
  });

  it('a module named with --module that cannot be read fails the command and leaves the file as it was', async () => {
    writeFileSync(join(py, 'raises.py'), 'raise RuntimeError("not today")\n');
    writeFileSync(join(py, 'piton-types.d.ts'), '// as it was\n');
    const result = await piton(['--path', py, '--module', 'raises']);
    expect(result.code, shown('piton types', result)).to.equal(1);
    expect(result.stderr).to.contain('raises could not be read');
    expect(readFileSync(join(py, 'piton-types.d.ts'), 'utf8')).to.equal('// as it was\n');
  });

  it('types only what a call could reach, under the allow options the pool has', async () => {
    writeFileSync(
      join(py, 'rules.py'),
      [
        'from os import system',
        'from json import loads',
        'from helpers import helper',
        'def own(x: int) -> int:',
        '    return x',
        'def _hidden() -> None: ...',
        'VALUE = 3',
        '',
      ].join('\n'),
    );
    writeFileSync(join(py, 'helpers.py'), 'def helper(text: str) -> str:\n    return text\n');
    writeFileSync(join(py, '_private_module.py'), 'def f() -> int:\n    return 1\n');
    const base = await piton(['--path', py]);
    expect(base.code, shown('piton types', base)).to.equal(0);
    let text = readFileSync(join(py, 'piton-types.d.ts'), 'utf8');
    const members = (module: string) => [...parseDeclarations(text).modules.get(module)!.keys()];
    expect([...parseDeclarations(text).modules.keys()]).to.deep.equal(['helpers', 'rules']);
    expect(members('rules')).to.deep.equal(['helper', 'own']);

    const open = await piton(['--path', py, '--allow-private', '--allow-reexports', 'rules', '--allow-module', 'json']);
    expect(open.code, shown('piton types (allowing)', open)).to.equal(0);
    text = readFileSync(join(py, 'piton-types.d.ts'), 'utf8');
    expect([...parseDeclarations(text).modules.keys()]).to.deep.equal(['_private_module', 'helpers', 'rules', 'json']);
    expect(members('rules')).to.deep.equal(['system', 'loads', 'helper', 'own', '_hidden']);
    expect(members('json')).to.include.members(['dumps', 'loads']);
  });

  it('runs the interpreter the pool would choose: $PITON_PYTHON, or --python', async () => {
    writeFileSync(join(py, 'm.py'), 'def f() -> int:\n    return 1\n');
    const marker = join(scratch, 'ran');
    const wrapper = join(scratch, 'python-wrapper');
    writeFileSync(wrapper, `#!/bin/sh\ntouch ${JSON.stringify(marker)}\nexec ${JSON.stringify(python)} "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PITON_PYTHON: wrapper };
    const viaEnv = await piton(['--path', py], { env });
    expect(viaEnv.code, shown('piton types', viaEnv)).to.equal(0);
    expect(readFileSync(marker, 'utf8')).to.equal('');
    rmSync(marker);
    const missing = join(scratch, 'no-python');
    const viaOption = await piton(['--path', py, '--python', missing], { env });
    expect(viaOption.code, shown('piton types --python', viaOption)).to.equal(1);
    expect(viaOption.stderr).to.contain(`${missing} could not read the modules: cannot run it: not found`);
    expect(() => readFileSync(marker)).to.throw();
  });

  it('refuses unknown options with a suggestion, a missing path and a bad --timeout, with exit code 2 or 1', async () => {
    const typo = await piton(['--moduel', 'x']);
    expect(typo.code).to.equal(2);
    expect(typo.stderr).to.contain("Unknown option '--moduel'; did you mean --module?");
    const timeout = await piton(['--timeout', '0']);
    expect(timeout.code).to.equal(2);
    expect(timeout.stderr).to.contain('--timeout must be a whole number of milliseconds >= 1, got "0"');
    const both = await piton(['--check', '--watch']);
    expect(both.code).to.equal(2);
    expect(both.stderr).to.contain('--check and --watch cannot be used together');
    const nowhere = await piton(['--path', join(scratch, 'nowhere')]);
    expect(nowhere.code).to.equal(1);
    expect(nowhere.stderr).to.contain(`--path "${join(scratch, 'nowhere')}" does not exist`);
    const empty = await piton(['--path', py]);
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.contain(`no Python module to read under ${py}`);
  });

  it('types a DataFrame as apache-arrow\'s Table when apache-arrow resolves from the output, else as unknown saying why', async () => {
    // Stand-ins named as pandas and pyarrow name theirs (neither is needed to read hints).
    writeFileSync(
      join(py, 'frames.py'),
      [
        'class DataFrame: ...',
        'DataFrame.__module__ = "pandas.core.frame"',
        'class Series: ...',
        'Series.__module__ = "pandas.core.series"',
        'def frame(rows: int) -> DataFrame: ...',
        'def column(frame: DataFrame) -> Series: ...',
        '',
      ].join('\n'),
    );
    const without = await piton(['--path', py]);
    expect(without.code, shown('piton types', without)).to.equal(0);
    let text = readFileSync(join(py, 'piton-types.d.ts'), 'utf8');
    expect(text).to.contain('frame(rows: number): unknown /* pandas.core.frame.DataFrame: an Arrow Table: install apache-arrow to have it typed */;');

    const app = join(scratch, 'app');
    mkdirSync(join(app, 'node_modules', 'apache-arrow'), { recursive: true });
    writeFileSync(join(app, 'node_modules', 'apache-arrow', 'package.json'), JSON.stringify({ name: 'apache-arrow', types: 'index.d.ts' }));
    writeFileSync(join(app, 'node_modules', 'apache-arrow', 'index.d.ts'), 'export declare class Table { readonly numRows: number }\nexport declare class Vector { readonly length: number }\n');
    const withArrow = await piton(['--path', py, '--out', join(app, 'piton-types.d.ts')]);
    expect(withArrow.code, shown('piton types', withArrow)).to.equal(0);
    text = readFileSync(join(app, 'piton-types.d.ts'), 'utf8');
    expect(text).to.contain("frame(rows: number): import('apache-arrow').Table;");
    expect(text).to.contain("column(frame: import('apache-arrow').Table): import('apache-arrow').Vector;");
    writeFileSync(
      join(app, 'use.mts'),
      "import type { PythonPool } from '@piton/python-bridge';\nexport async function rows(pool: PythonPool): Promise<number> {\n  return (await pool.module('frames').frame(3)).numRows;\n}\n",
    );
    project(app, 'module', ['piton-types.d.ts', 'use.mts']);
    const { result, diagnostics } = await tsc(app);
    expect(diagnostics, result.stdout).to.deep.equal([]);
  });

  it('--watch writes the file again when a module changes, and stops on SIGTERM leaving nothing running', async () => {
    writeFileSync(join(py, 'live.py'), 'def first(n: int) -> int:\n    return n\n');
    const out = join(py, 'piton-types.d.ts');
    const child = spawn(process.execPath, [CLI, 'types', '--path', py, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const lines: Array<(text: string) => void> = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const check of lines) check(stdout);
    });
    const printed = (pattern: RegExp, count: number) =>
      new Promise<void>((resolve) => {
        const check = (text: string) => {
          if ((text.match(new RegExp(pattern, 'g')) ?? []).length >= count) resolve();
        };
        lines.push(check);
        check(stdout);
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await printed(/watching .* for changes/, 1);
      await printed(/piton-types\.d\.ts: 1 function in 1 module, written/, 1);
      expect(readFileSync(out, 'utf8')).to.contain('first(n: number): number;');
      writeFileSync(join(py, 'live.py'), 'def first(n: int) -> int:\n    return n\n\ndef second(s: str) -> bool:\n    return bool(s)\n');
      await printed(/piton-types\.d\.ts: 2 functions in 1 module, written/, 1);
      expect(readFileSync(out, 'utf8')).to.contain('second(s: string): boolean;');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, `${stdout}\n${stderr}`).to.equal(0);
  });
});

describe('the examples use generated types', function () {
  this.timeout(60_000);

  // Each with the options of its pool: dataframes' imports pandas, so its pool's startTimeout is
  // 60 s, and so is the time its modules may take here. (http-service's pool waits as long for its
  // preload, which trains the classifier; model.py, the module typed, imports numpy only.)
  const examples: Record<string, string[]> = {
    fibonacci: [],
    numpy: [],
    callbacks: [],
    'http-service': [],
    dataframes: ['--timeout', '60000'],
    'observer/python': [],
    'streaming-chat': [],
  };
  for (const [example, options] of Object.entries(examples)) {
    it(`examples/${example}: the committed piton-types.d.ts is what \`npx piton types --check\` expects`, async () => {
      const dir = join(repoRoot, 'examples', example);
      const result = await piton(['--path', dir, ...options, '--check']);
      expect(result.code, shown(`piton types --check (${example})`, result)).to.equal(0);
      expect(result.stderr).to.equal('');
    });
  }

  it('the examples type-check against them (strict, no type arguments for typed modules)', async () => {
    const { result, diagnostics } = await tsc(join(repoRoot, 'examples'));
    expect(result.code, result.stdout).to.equal(0);
    expect(diagnostics).to.deep.equal([]);
  });
});
