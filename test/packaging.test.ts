// What a user does, outside this repository: pack both packages, install the tarballs into a fresh
// project in the temp directory, `npx piton setup`, then the quick start from ESM, CommonJS and a
// strict TypeScript consumer, each run from another directory. Nothing is fetched from the npm
// registry: the project's lockfile pins the dependencies (zeromq, nact, @types/node) to the
// versions of this repository's lockfile, whose tarballs `npm install` of the repository already
// put in npm's cache, and npm runs with --offline. pip goes through the user's configuration.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtures, repoRoot, workersOf } from './helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number | undefined;
}

/** The environment of a user's shell: none of the variables `npm test` sets, no interpreter override. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'PITON_PYTHON' && key !== 'INIT_CWD') env[key] = value;
  }
  return { ...env, ...extra };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr, pid: child.pid });
    });
  });
}

function describeRun(what: string, result: Run): string {
  return `${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * A lockfile for the project: the two tarballs, and for everything they (and @types/node) need the
 * entries of the repository's own lockfile, so npm installs exactly what is in its cache.
 */
function projectLockfile(tarballs: Record<string, string>): { packageJson: object; lockfile: object } {
  const repoLock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, LockEntry> = {};
  const dependencies: Record<string, string> = {};
  const want = (names: Iterable<string>) => {
    for (const name of names) {
      const key = `node_modules/${name}`;
      if (name.startsWith('@piton/') || key in packages) continue;
      const entry = repoLock.packages[key];
      if (entry === undefined) throw new Error(`the repository's lockfile has no ${key}`);
      packages[key] = entry;
      want(Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
    }
  };
  for (const [name, tarball] of Object.entries(tarballs)) {
    const manifest = JSON.parse(
      readFileSync(join(repoRoot, 'packages', name.replace('@piton/', ''), 'package.json'), 'utf8'),
    ) as LockEntry & { bin?: Record<string, string>; engines?: Record<string, string> };
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    dependencies[name] = `file:${tarball}`;
    packages[`node_modules/${name}`] = {
      version: manifest.version,
      resolved: `file:${tarball}`,
      integrity,
      license: 'MIT',
      ...(manifest.dependencies && { dependencies: manifest.dependencies }),
      ...(manifest.bin && { bin: manifest.bin }),
      ...(manifest.engines && { engines: manifest.engines }),
    };
    want(Object.keys(manifest.dependencies ?? {}));
  }
  const typesVersion = repoLock.packages['node_modules/@types/node']?.version;
  const devDependencies = { '@types/node': typesVersion ?? '20' };
  want(['@types/node']);
  for (const key of Object.keys(packages)) if (key === 'node_modules/@types/node' || key === 'node_modules/undici-types') packages[key] = { ...packages[key], dev: true };
  const root = { name: 'piton-consumer', version: '1.0.0', dependencies, devDependencies };
  return {
    packageJson: { ...root, private: true },
    lockfile: { name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages: { '': root, ...packages } },
  };
}

describe('packaging: installed from the tarballs into a project outside the repository', function () {
  this.timeout(240_000);
  const consumer = join(fixtures, 'consumer');
  let scratch: string;
  let project: string;
  let elsewhere: string;
  let tarballs: Record<string, string>;
  let setupRun: Run;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'piton-packaging-'));
    project = join(scratch, 'app');
    elsewhere = join(scratch, 'elsewhere');
    mkdirSync(project);
    mkdirSync(elsewhere);

    const packed = await run('npm', ['pack', '--silent', '--pack-destination', scratch, '-w', 'packages/core', '-w', 'packages/python-bridge'], repoRoot);
    expect(packed.code, describeRun('npm pack', packed)).to.equal(0);
    tarballs = {
      '@piton/core': join(scratch, 'piton-core-0.1.0.tgz'),
      '@piton/python-bridge': join(scratch, 'piton-python-bridge-0.1.0.tgz'),
    };

    const { packageJson, lockfile } = projectLockfile(tarballs);
    writeFileSync(join(project, 'package.json'), JSON.stringify(packageJson, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockfile, null, 2));
    // --offline: npm answers from its cache only (metadata and tarballs the repository's install
    // fetched), and fails rather than touch the network.
    const installed = await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], project);
    expect(installed.code, describeRun('npm install --offline', installed)).to.equal(0);

    cpSync(consumer, project, { recursive: true });
    setupRun = await run(join(project, 'node_modules', '.bin', 'piton'), ['setup'], elsewhere);
  });

  after(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('packs README, LICENSE, the require() entry and (the bridge) the worker runtime, and leaves no copy in the checkout', async () => {
    const listing = await run('tar', ['-tzf', tarballs['@piton/python-bridge']!], scratch);
    const files = listing.stdout.split('\n');
    for (const file of ['LICENSE', 'README.md', 'cjs/index.cjs', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'python/piton/worker.py']) {
      expect(files, file).to.include(`package/${file}`);
    }
    expect(files.filter((f) => f.includes('__pycache__') || f.includes('/test/'))).to.deep.equal([]);
    const core = (await run('tar', ['-tzf', tarballs['@piton/core']!], scratch)).stdout.split('\n');
    for (const file of ['LICENSE', 'README.md', 'cjs/index.cjs', 'dist/index.js']) expect(core, file).to.include(`package/${file}`);
    // pack-files.mjs takes its copies out again after packing.
    expect(existsSync(join(repoRoot, 'packages', 'python-bridge', 'python'))).to.equal(false);
    expect(existsSync(join(repoRoot, 'packages', 'python-bridge', 'LICENSE'))).to.equal(false);
  });

  it('`piton setup`, run from another directory, makes <project>/.venv and checks it with a real call', () => {
    expect(setupRun.code, describeRun('piton setup', setupRun)).to.equal(0);
    expect(setupRun.stdout).to.contain(`its Python environment is ${join(project, '.venv')}`);
    expect(setupRun.stdout).to.match(/✔ pyzmq: \d/);
    expect(setupRun.stdout).to.match(/✔ round trip: a pool of one interpreter started and answered a call/);
    expect(setupRun.stdout).to.contain(`The pool uses ${join(project, '.venv', 'bin', 'python')} by default`);
  });

  it('`piton setup` again installs nothing; a requirements file is installed once, until it changes', async () => {
    const piton = join(project, 'node_modules', '.bin', 'piton');
    const again = await run(piton, ['setup'], project);
    expect(again.code, describeRun('piton setup (again)', again)).to.equal(0);
    expect(again.stdout).to.contain('using the existing environment');
    expect(again.stdout).to.contain('pyzmq, msgpack: already installed, nothing to do');

    writeFileSync(join(project, 'requirements.txt'), 'msgpack>=1.0\n');
    const withFile = await run(piton, ['setup', '--requirements', 'requirements.txt'], project);
    expect(withFile.code, describeRun('piton setup --requirements', withFile)).to.equal(0);
    expect(withFile.stdout).to.contain(`installing -r ${join(project, 'requirements.txt')}`);
    const unchanged = await run(piton, ['setup', '--requirements', 'requirements.txt'], project);
    expect(unchanged.code, describeRun('piton setup --requirements (again)', unchanged)).to.equal(0);
    expect(unchanged.stdout).to.contain('pyzmq, msgpack and the requirement files: already installed, nothing to do');
  });

  for (const script of ['quick-start.mjs', 'quick-start.cjs']) {
    it(`runs the quick start from ${script.endsWith('.mjs') ? 'ESM' : 'CommonJS'}, from another directory, on the project's environment`, async () => {
      const result = await run(process.execPath, [join(project, script)], elsewhere);
      expect(result.code, describeRun(script, result)).to.equal(0);
      expect(result.stdout).to.contain('fib(20) = 6765');
      expect(result.stdout).to.contain(`python: ${join(project, '.venv', 'bin', 'python')}`);
      if (script.endsWith('.cjs')) expect(result.stdout).to.contain('same classes: true');
      expect(result.stderr, 'nothing on stderr: no warning about require() of ES modules').to.equal('');
      expect(workersOf(result.pid)).to.deep.equal([]);
    });
  }

  it('type-checks a strict TypeScript consumer (module nodenext, ESM and CommonJS) and runs what it compiled to', async () => {
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const compiled = await run(process.execPath, [tsc, '-p', project], project);
    expect(compiled.code, describeRun('tsc', compiled)).to.equal(0);
    const esm = await run(process.execPath, [join(project, 'out', 'typed.mjs')], elsewhere);
    expect(esm.code, describeRun('typed.mjs', esm)).to.equal(0);
    expect(esm.stdout).to.equal('fib(20) = 6765\nafter the scope: PoolStoppedError\nsystem: empty\n');
    const cjs = await run(process.execPath, [join(project, 'out', 'typed.cjs')], elsewhere);
    expect(cjs.code, describeRun('typed.cjs', cjs)).to.equal(0);
    expect(cjs.stdout).to.equal('fib(20) = 6765\n');
  });

  it('`piton types`, run from another directory, reads the project\'s Python with the packed runtime and writes its declarations', async () => {
    const types = await run(join(project, 'node_modules', '.bin', 'piton'), ['types', '--path', join(project, 'py'), '--out', join(scratch, 'piton-types.d.ts')], elsewhere);
    expect(types.code, describeRun('piton types', types)).to.equal(0);
    expect(types.stdout).to.contain('piton-types.d.ts: 2 functions in 1 module, written');
    const text = readFileSync(join(scratch, 'piton-types.d.ts'), 'utf8');
    expect(text).to.contain("declare module '@piton/python-bridge' {");
    expect(text).to.contain('fib(n: unknown): unknown;');
  });

  it('a Python without pyzmq fails the start with PoolStartError naming it and the fix, and doctor says the same', async () => {
    const bare = join(scratch, 'bare');
    const made = await run('python3', ['-m', 'venv', '--without-pip', bare], scratch);
    expect(made.code, describeRun('python3 -m venv', made)).to.equal(0);
    const python = join(bare, 'bin', 'python');

    const result = await run(process.execPath, [join(project, 'quick-start.cjs')], elsewhere, userEnv({ PITON_PYTHON: python }));
    expect(result.code, describeRun('quick-start.cjs', result)).to.equal(1);
    expect(result.stderr).to.contain(`PoolStartError: the Python pool could not start: the interpreter ${python} lacks pyzmq`);
    expect(result.stderr).to.contain('npx piton setup');
    expect(result.stderr).to.contain(`${python} -m pip install 'pyzmq>=25' 'msgpack>=1.0'`);

    const doctor = await run(join(project, 'node_modules', '.bin', 'piton'), ['doctor', '--python', python], elsewhere);
    expect(doctor.code, describeRun('piton doctor', doctor)).to.equal(1);
    expect(doctor.stdout).to.contain("✘ pyzmq: missing (ModuleNotFoundError: No module named 'zmq')");
    expect(doctor.stdout).to.contain(`fix: ${python} -m pip install 'pyzmq>=25'`);
    expect(doctor.stdout).to.contain(`(or all at once: ${python} -m pip install 'pyzmq>=25' 'msgpack>=1.0')`);
  });

  it('`piton setup --arrow` installs pyarrow; without apache-arrow in Node a table is a MissingDependencyError naming the fix', async () => {
    const setupArrow = await run(join(project, 'node_modules', '.bin', 'piton'), ['setup', '--arrow'], elsewhere);
    expect(setupArrow.code, describeRun('piton setup --arrow', setupArrow)).to.equal(0);
    expect(setupArrow.stdout).to.match(/installing pyarrow>=16/);
    expect(setupArrow.stdout).to.match(/✔ pyarrow: \d/);
    expect(existsSync(join(project, 'node_modules', 'apache-arrow')), 'an optional peer dependency is not installed').to.equal(false);

    const result = await run(process.execPath, [join(project, 'tables.mjs')], elsewhere);
    expect(result.code, describeRun('tables.mjs', result)).to.equal(0);
    expect(result.stdout).to.contain('call: MissingDependencyError (apache-arrow, node, fix: npm install apache-arrow)');
    expect(result.stdout).to.contain(
      'message: apache-arrow is not installed in Node: cannot receive an Arrow table from Python; install it with: npm install apache-arrow',
    );
    expect(result.stdout).to.contain('callback: Node answered: MissingDependencyError: apache-arrow is not installed in Node');
    expect(result.stdout).to.contain('same interpreter: true');
    expect(workersOf(result.pid)).to.deep.equal([]);
  });

  it('doctor passes on the project environment, found from the package wherever it is run', async () => {
    const doctor = await run(join(project, 'node_modules', '.bin', 'piton'), ['doctor'], elsewhere);
    expect(doctor.code, describeRun('piton doctor', doctor)).to.equal(0);
    expect(doctor.stdout).to.contain(`chosen as the project's environment ${join(project, '.venv')}`);
    expect(doctor.stdout).to.contain(`worker runtime: ${join(project, 'node_modules', '@piton', 'python-bridge', 'python')}`);
    expect(doctor.stdout).to.contain('piton doctor: this interpreter can run the pool');
  });
});
