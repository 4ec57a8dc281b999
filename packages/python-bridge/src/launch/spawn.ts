/**
 * The spawn launcher: each worker is a fresh Python process running `piton.worker`, started cold
 * (PROTOCOL.md, "The worker process").
 */
import { delimiter } from 'node:path';
import { workerArgs, type LaunchedProcess, type Launcher, type LaunchSpec } from './launcher.js';
import { ChildProcessHandle } from './child-process.js';
import { RUNTIME_SRC } from '../environment/runtime-location.js';

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

/**
 * The worker's start: `python -c WORKER_LAUNCHER ARGS…`, which runs `piton.worker` as
 * `python -m piton.worker` would, except that the working directory is never importable.
 * `-m` (and `-c`) put the cwd first on `sys.path`, so a planted `enum.py` or `piton/` there would
 * run in every interpreter; `-P` fixes that only from Python 3.11 on. The launcher drops that
 * first entry (unless safe-path mode already left it out) before anything is imported, and leaves
 * `PYTHONPATH` and `path` as they are. Nothing is set in the environment, so subprocesses of
 * user code see the ordinary `sys.path` rules. One line, so that `ps` shows it whole.
 */
export const WORKER_LAUNCHER =
  "import sys; sys.path[:1] == [''] and not getattr(sys.flags, 'safe_path', False) and sys.path.pop(0); " +
  'from piton.worker import main; main()';

export class SpawnLauncher implements Launcher {
  readonly kind = 'spawn';

  launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    return Promise.resolve(
      new ChildProcessHandle({
        command: spec.python,
        args: ['-c', WORKER_LAUNCHER, ...workerArgs(spec)],
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
