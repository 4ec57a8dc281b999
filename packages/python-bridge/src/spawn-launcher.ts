/**
 * The spawn launcher: each worker is a fresh `python -m piton.worker` process, started cold.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerArgs, type LaunchedProcess, type Launcher, type LaunchSpec } from './launcher.js';
import { ChildProcessHandle } from './process.js';

/** The worker runtime's own sources, appended to PYTHONPATH so an interpreter without `pip install piton` works. */
export const RUNTIME_SRC = ((): string | undefined => {
  // From dist/ and from src/ alike: packages/python-bridge/<dir>/ → <repo>/python/src.
  const dir = fileURLToPath(new URL('../../../python/src', import.meta.url));
  return existsSync(join(dir, 'piton')) ? dir : undefined;
})();

/** The worker's environment: the caller's, `spec.env` applied, unbuffered output, the runtime importable. */
export function workerEnv(spec: Pick<LaunchSpec, 'env'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  env.PYTHONUNBUFFERED = '1';
  if (RUNTIME_SRC !== undefined) {
    const parts = (env.PYTHONPATH ?? '').split(delimiter).filter((p) => p !== '');
    if (!parts.includes(RUNTIME_SRC)) parts.push(RUNTIME_SRC);
    env.PYTHONPATH = parts.join(delimiter);
  }
  return env;
}

export class SpawnLauncher implements Launcher {
  readonly kind = 'spawn';

  launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    return Promise.resolve(
      new ChildProcessHandle({
        command: spec.python,
        args: ['-m', 'piton.worker', ...workerArgs(spec)],
        env: workerEnv(spec),
        cwd: spec.cwd,
        onLine: spec.onOutput,
        group: true,
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
