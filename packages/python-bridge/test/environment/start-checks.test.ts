import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterpreterStartError, PoolStartError } from '../../src/errors.js';
import { checkPathEntries, missingModules, poolStartError } from '../../src/environment/start-checks.js';

const traceback = (module: string) =>
  `Traceback (most recent call last):\n  File "worker.py", line 170, in main\n    import ${module}\nModuleNotFoundError: No module named '${module}'`;

/** A start failure as the supervisor reports it: the interpreter's error wrapped once. */
function failedStart(stderrTail: string): Error {
  const cause = new InterpreterStartError(`Python interpreter python-1 exited with code 1; stderr:\n${stderrTail}`, { exitCode: 1, stderrTail });
  return new Error('failed to start child python-1', { cause });
}

describe('start checks', () => {
  describe('checkPathEntries', () => {
    let scratch: string;
    beforeEach(() => (scratch = mkdtempSync(join(tmpdir(), 'piton-path-test-'))));
    afterEach(() => rmSync(scratch, { recursive: true, force: true }));

    it('passes directories', async () => {
      await checkPathEntries([scratch], '/');
    });

    it('rejects an entry that does not exist, naming it and the cwd relative entries resolve against', async () => {
      const missing = join(scratch, 'nope');
      const error = await checkPathEntries([scratch, missing], '/srv/app').catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PoolStartError);
      expect((error as Error).message).to.equal(
        `the Python pool could not start: options.path entry "${missing}" does not exist ` +
          '(relative entries resolve against the cwd option, else process.cwd(); here /srv/app)',
      );
    });

    it('rejects a file', async () => {
      const file = join(scratch, 'functions.py');
      writeFileSync(file, '');
      expect(((await checkPathEntries([file], '/').catch((e: unknown) => e)) as Error).message).to.contain(`"${file}" is not a directory`);
    });
  });

  it('reads the missing modules from a traceback', () => {
    expect(missingModules(traceback('zmq'))).to.deep.equal(['zmq']);
    expect(missingModules("No module named 'zmq.backend'")).to.deep.equal(['zmq']);
    expect(missingModules('SyntaxError: invalid syntax')).to.deep.equal([]);
  });

  describe('poolStartError', () => {
    it('names the interpreter that lacks a dependency and both fixes', () => {
      const error = poolStartError(failedStart(traceback('zmq')), '/usr/bin/python3.11');
      expect(error).to.be.instanceOf(PoolStartError);
      expect(error.message).to.equal(
        "the Python pool could not start: the interpreter /usr/bin/python3.11 lacks pyzmq, which the worker runtime needs (No module named 'zmq'). " +
          'Fix: run `npx piton setup` in your project to make the environment the pool uses by default, ' +
          "or install them into this interpreter: /usr/bin/python3.11 -m pip install 'pyzmq>=25' 'msgpack>=1.0'",
      );
      expect(error.cause).to.be.instanceOf(Error);
    });

    it('says where the runtime should be when piton itself is missing', () => {
      expect(poolStartError(failedStart(traceback('piton')), '/p').message).to.match(/cannot import the worker runtime \(the piton package\)/);
    });

    it('leaves other failures as they were', () => {
      const other = failedStart("ModuleNotFoundError: No module named 'pandas'");
      expect(poolStartError(other, '/p').message).to.equal(new PoolStartError(other).message);
      const already = new PoolStartError(undefined, 'the Python pool could not start: because');
      expect(poolStartError(already, '/p')).to.equal(already);
    });
  });
});
