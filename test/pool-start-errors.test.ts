// A pool that cannot start says why, naming the real cause, within its startTimeout, and leaves
// nothing running: a python that hangs, a python that is not one, a cwd that does not exist.
import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolStartError, PythonPool } from '@piton/python-bridge';
import { isAlive } from './helpers.js';
import { until } from './support.js';

async function startError(options: Parameters<typeof PythonPool.start>[0]): Promise<PoolStartError> {
  const error = await PythonPool.start(options).then(
    async (pool) => {
      await pool.stop();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(PoolStartError);
  return error as PoolStartError;
}

describe('PythonPool.start: what keeps it from starting, named', function () {
  this.timeout(30_000);
  let scratch: string;

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'piton-start-errors-'));
  });

  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it('a python wrapper that hangs is given up at startTimeout, and it and its child are killed', async () => {
    const pidFile = join(scratch, 'child.pid');
    const hangs = join(scratch, 'python');
    writeFileSync(hangs, `#!/bin/sh\nsleep 600 &\necho $! > "${pidFile}"\nwait\n`);
    chmodSync(hangs, 0o755);
    const started = performance.now();
    const error = await startError({ size: 1, python: hangs, startTimeout: 800 });
    expect(performance.now() - started, 'given up at startTimeout, not after a fixed probe time').to.be.below(5_000);
    expect(error.message).to.contain(`"${hangs}": it did not answer within 800 ms (startTimeout)`);
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    await until(() => !isAlive(sleeper), `the wrapper's child ${sleeper} to be gone`, 5_000);
  });

  it("python: '/bin/echo' names the binary, not what it printed", async () => {
    const error = await startError({ size: 1, python: '/bin/echo' });
    expect(error.message).to.contain('cannot run Python "/bin/echo": it is not a Python interpreter');
  });

  it('a cwd that does not exist is named as such', async () => {
    const missing = join(scratch, 'gone');
    const error = await startError({ size: 1, cwd: missing });
    expect(error.message).to.contain(`the working directory "${missing}" does not exist (options.cwd)`);
    expect(error.message).to.not.contain('not found');
  });
});
