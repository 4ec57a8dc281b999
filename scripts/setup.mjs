// Runs after `npm install`: builds the TypeScript packages and makes the Python
// environment (.venv) that the worker runtime needs, so that a fresh clone is ready
// with one command. Re-running is cheap: pip is only called when python/ changed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(root, '.venv');
const venvPython = join(venv, 'bin', 'python');
const stampFile = join(venv, '.piton-setup');

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (res.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(' ')}' failed (${res.error ?? `exit ${res.status}`})`);
    process.exit(1);
  }
}

// What the venv is built from: when none of these change, pip has nothing to do.
function pythonSourceDigest() {
  const hash = createHash('sha256');
  hash.update(readFileSync(join(root, 'python', 'pyproject.toml')));
  hash.update(readFileSync(join(root, 'python', 'requirements-dev.txt')));
  return hash.digest('hex');
}

function setupPython() {
  const base = process.env.PITON_SETUP_PYTHON ?? 'python3';
  if (!existsSync(venvPython)) {
    console.log(`setup: creating .venv with ${base}`);
    run(base, ['-m', 'venv', venv]);
  }
  const digest = pythonSourceDigest();
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === digest) return;
  console.log('setup: installing the worker runtime and its dependencies into .venv');
  // --retries 0: where only a local mirror is reachable, pip should not wait on the others.
  run(venvPython, ['-m', 'pip', 'install', '--retries', '0', '--quiet',
    '-r', join(root, 'python', 'requirements-dev.txt'),
    '-e', join(root, 'python')]);
  writeFileSync(stampFile, digest);
}

function buildTypeScript() {
  console.log('setup: building the TypeScript packages');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b']);
  // `npx piton` in the checkout runs the built command line. npm links a workspace's bin only if
  // it exists at install time, which is before this build on a fresh clone; and tsc writes it
  // without the x bit.
  const cli = join(root, 'packages', 'python-bridge', 'dist', 'cli', 'main.js');
  chmodSync(cli, 0o755);
  const bin = join(root, 'node_modules', '.bin', 'piton');
  if (!existsSync(bin)) {
    mkdirSync(dirname(bin), { recursive: true });
    rmSync(bin, { force: true }); // a dangling link
    symlinkSync(join('..', '@piton', 'python-bridge', 'dist', 'cli', 'main.js'), bin);
  }
}

if (process.env.PITON_SKIP_SETUP) process.exit(0);
setupPython();
buildTypeScript();
