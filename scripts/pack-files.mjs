// npm's prepack and postpack of each package (run in the package's directory): puts into the
// package what its tarball must carry but git keeps in one place only, then takes it out again.
//   node ../../scripts/pack-files.mjs add      builds, copies LICENSE (and, for the bridge, the
//                                              worker runtime python/src/piton → python/piton)
//   node ../../scripts/pack-files.mjs remove   removes the copies, so a checkout never runs a
//                                              stale runtime (the packaged one is looked for first)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = process.cwd();
const action = process.argv[2];
const runtime = basename(pkg) === 'python-bridge' ? { from: join(root, 'python', 'src', 'piton'), to: join(pkg, 'python') } : undefined;

function remove() {
  rmSync(join(pkg, 'LICENSE'), { force: true });
  if (runtime) rmSync(runtime.to, { recursive: true, force: true });
}

if (action === 'remove') {
  remove();
} else if (action === 'add') {
  const built = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', pkg], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
  remove();
  cpSync(join(root, 'LICENSE'), join(pkg, 'LICENSE'));
  if (runtime) {
    cpSync(runtime.from, join(runtime.to, 'piton'), {
      recursive: true,
      filter: (source) => !source.includes('__pycache__') && !source.endsWith('.pyc'),
    });
    if (!existsSync(join(runtime.to, 'piton', 'worker.py'))) throw new Error(`pack-files: ${runtime.from} was not copied`);
  }
} else {
  console.error('usage: node scripts/pack-files.mjs add|remove');
  process.exit(2);
}
