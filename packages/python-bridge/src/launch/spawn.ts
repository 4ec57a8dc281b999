/**
 * The spawn launcher: each worker is a fresh Python process running `piton.worker`, started cold
 * (PROTOCOL.md, "The worker process"), by the launch contract of command-line.ts.
 */
import type { LaunchedProcess, Launcher, LaunchSpec } from './launcher.js';
import { ChildProcessHandle } from './child-process.js';
import { launcherCode, workerArgs, workerEnv } from './command-line.js';

export class SpawnLauncher implements Launcher {
  readonly kind = 'spawn';

  launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    return Promise.resolve(
      new ChildProcessHandle({
        command: spec.python,
        args: ['-c', launcherCode('piton.worker'), ...workerArgs(spec, spec.endpoint)],
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
