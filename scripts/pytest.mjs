// Runs the Python runtime's tests with the project's .venv.
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const res = spawnSync(join(root, '.venv', 'bin', 'python'),
  ['-m', 'pytest', '-q', join(root, 'python', 'tests'), ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: root });
process.exit(res.status ?? 1);
