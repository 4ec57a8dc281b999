import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterpreterStartError } from '../../src/errors.js';
import { choosePython, pythonCandidate, resolvePython } from '../../src/environment/python-executable.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const VENV_PYTHON = join(REPO, '.venv', 'bin', 'python');

describe('resolvePython', function () {
  this.timeout(30_000);
  let scratch: string;
  let savedEnv: string | undefined;

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'piton-python-test-'));
    savedEnv = process.env.PITON_PYTHON;
    delete process.env.PITON_PYTHON;
  });

  afterEach(() => {
    if (savedEnv === undefined) delete process.env.PITON_PYTHON;
    else process.env.PITON_PYTHON = savedEnv;
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('the choice', () => {
    it('takes the explicit option first', () => {
      process.env.PITON_PYTHON = '/from/env/python';
      expect(pythonCandidate('/explicit/python', REPO)).to.equal('/explicit/python');
    });

    it('then $PITON_PYTHON', () => {
      process.env.PITON_PYTHON = '/from/env/python';
      expect(pythonCandidate(undefined, REPO)).to.equal('/from/env/python');
    });

    it("then the project's environment if it exists, found from the package and not from the cwd", () => {
      // In a checkout the project is the repository, whose .venv `npm install` made.
      expect(choosePython(undefined, scratch)).to.deep.equal({ command: VENV_PYTHON, source: 'project environment' });
      expect(pythonCandidate(undefined, '/')).to.equal(VENV_PYTHON);
    });

    it('else python3 on PATH', () => {
      expect(choosePython(undefined, REPO, join(scratch, '.venv'))).to.deep.equal({ command: 'python3', source: 'PATH' });
    });

    it('says where the choice came from', () => {
      expect(choosePython('/explicit/python').source).to.equal('option');
      process.env.PITON_PYTHON = '/from/env/python';
      expect(choosePython().source).to.equal('PITON_PYTHON');
    });

    it('resolves a relative path against cwd and leaves a bare name to PATH', () => {
      expect(pythonCandidate('.venv/bin/python', REPO)).to.equal(VENV_PYTHON);
      expect(pythonCandidate('python3.11', REPO)).to.equal('python3.11');
    });
  });

  describe('resolution', () => {
    it("resolves to the interpreter's own sys.executable", async () => {
      const expected = execFileSync(VENV_PYTHON, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
      expect(await resolvePython(undefined, REPO)).to.equal(expected);
    });

    it('sees through a launcher script (as a pyenv shim) to the real executable', async () => {
      const shim = join(scratch, 'python-shim');
      writeFileSync(shim, `#!/bin/sh\nexec "${VENV_PYTHON}" "$@"\n`);
      chmodSync(shim, 0o755);
      const resolved = await resolvePython(shim, scratch);
      expect(resolved).to.not.equal(shim);
      expect(realpathSync(resolved)).to.equal(realpathSync(VENV_PYTHON));
    });

    it('resolves once per input (cached)', async () => {
      const bin = join(scratch, 'bin');
      mkdirSync(bin);
      symlinkSync(VENV_PYTHON, join(bin, 'python'));
      const first = resolvePython(join(bin, 'python'), scratch);
      expect(resolvePython(join(bin, 'python'), scratch)).to.equal(first);
      await first;
    });

    it('rejects with a clear error when the interpreter is missing, and does not cache the failure', async () => {
      const missing = join(scratch, 'no-such-python');
      const first = resolvePython(missing, scratch);
      let error: unknown;
      try {
        await first;
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(InterpreterStartError);
      expect((error as Error).message).to.equal(
        `cannot run Python "${missing}": not found; choose the interpreter with the \`python\` option or $PITON_PYTHON`,
      );
      // A fixed installation is picked up on the next try.
      symlinkSync(VENV_PYTHON, missing);
      expect(await resolvePython(missing, scratch)).to.be.a('string');
    });

    it('rejects with the stderr of an interpreter that fails to run', async () => {
      const broken = join(scratch, 'broken-python');
      writeFileSync(broken, '#!/bin/sh\necho "broken install: libpython missing" >&2\nexit 127\n');
      chmodSync(broken, 0o755);
      let error: unknown;
      try {
        await resolvePython(broken, scratch);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(InterpreterStartError);
      expect((error as Error).message).to.contain('broken install: libpython missing');
    });
  });

  describe('a probe that cannot succeed', () => {
    function alive(pid: number): boolean {
      try {
        process.kill(pid, 0);
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return false;
      }
    }

    it('gives up a wrapper that hangs at the given limit, and kills it and what it started', async () => {
      const pidFile = join(scratch, 'child.pid');
      const hangs = join(scratch, 'hanging-python');
      writeFileSync(hangs, `#!/bin/sh\nsleep 600 &\necho $! > "${pidFile}"\nwait\n`);
      chmodSync(hangs, 0o755);
      const started = performance.now();
      const error = await resolvePython(hangs, scratch, 500).catch((e: unknown) => e);
      expect(performance.now() - started).to.be.below(5_000);
      expect(error).to.be.instanceOf(InterpreterStartError);
      expect((error as Error).message).to.contain(`cannot run Python "${hangs}": it did not answer within 500 ms (startTimeout) and was killed`);
      const sleeper = Number(readFileSync(pidFile, 'utf8'));
      const deadline = Date.now() + 5_000;
      while (alive(sleeper) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(alive(sleeper), `the wrapper's child ${sleeper}`).to.equal(false);
    });

    it('names a program that is not a Python (it echoes its arguments), not what it printed', async () => {
      const error = await resolvePython('/bin/echo', scratch).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(InterpreterStartError);
      expect((error as Error).message).to.match(/^cannot run Python "\/bin\/echo": it is not a Python interpreter/);
    });

    it('names a working directory that does not exist, not the interpreter', async () => {
      const missing = join(scratch, 'no-such-dir');
      const error = await resolvePython(VENV_PYTHON, missing).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(InterpreterStartError);
      expect((error as Error).message).to.equal(
        `cannot start Python "${VENV_PYTHON}": the working directory "${missing}" does not exist (options.cwd)`,
      );
    });
  });
});
