/**
 * The spawn launcher: each worker is a fresh `python -m piton.worker` process, started cold.
 */
import { delimiter } from 'node:path';
import { workerArgs, type LaunchedProcess, type Launcher, type LaunchSpec } from './launcher.js';
import { ChildProcessHandle } from './process.js';
import { RUNTIME_SRC } from './runtime-location.js';

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
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
