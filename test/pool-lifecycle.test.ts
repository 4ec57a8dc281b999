import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, supervisor } from '@piton/core';
import { PoolStartError, PoolStoppedError, PythonPool, pythonPool, InterpreterExitedError, type InterpreterEvent, type InterpreterOutput, type PoolRef } from '@piton/python-bridge';
import { fixtures, isAlive, workersOf } from './helpers.js';
import { until } from './support.js';

describe('PythonPool: start, stop and the processes behind it', () => {
  it('stops every interpreter on stop(), letting the running call finish', async () => {
    const pool = await PythonPool.start({ size: 2, path: fixtures });
    const pids = pool.interpreters().map((i) => i.pid);
    expect(pids).to.have.length(2);
    const running = pool.call('calls', 'sleep', [0.3, 'finished']);
    await pool.stop();
    expect(await running).to.equal('finished');
    for (const pid of pids) expect(isAlive(pid), `interpreter ${pid}`).to.equal(false);
  });

  it('kills an interpreter that does not finish within shutdownTimeout', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, shutdownTimeout: 300 });
    const pid = pool.interpreters()[0]!.pid;
    const stuck = pool.call('calls', 'stuck').catch((e: unknown) => e);
    await pool.stop();
    expect(isAlive(pid)).to.equal(false);
    expect(await stuck).to.be.instanceOf(Error);
  });

  for (const how of ['SIGKILL', 'exit', 'throw'] as const) {
    it(`leaves no interpreter behind when its Node process ends by ${how}`, async function () {
      this.timeout(20_000);
      const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'hold-pool.ts'), how === 'SIGKILL' ? 'wait' : how], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const interpreters = JSON.parse(line) as number[];
      expect(interpreters).to.have.length(2);
      // Everything the pool runs: with the default start method, the fork server too, and the
      // spare interpreter it forks ahead of need once the pool has started (piton/forkserver.py).
      const pids = workersOf(child.pid!);
      expect(pids).to.include.members(interpreters);
      if (process.platform === 'linux') expect(pids.length).to.be.oneOf([3, 4]);
      if (how === 'SIGKILL') child.kill('SIGKILL');
      else child.stdin!.end('end now\n');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      await until(() => pids.every((pid) => !isAlive(pid)), 'the interpreters (and the fork server) to exit', 2_000);
    });
  }

  it('rejects whenReady() with PoolStoppedError when the pool gives up instead of healing', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, supervision: { intensity: 0, backoff: false } });
    try {
      // Killed before it served anything: a failed start, which counts toward intensity.
      const exited = new Promise<InterpreterEvent>((resolve) =>
        pool.system.events.on('interpreter', (event) => event.type === 'exited' && resolve(event)),
      );
      process.kill(pool.interpreters()[0]!.pid, 'SIGKILL');
      expect(await exited).to.include({ cause: 'start_failure', signal: 'SIGKILL' });
      // intensity 0: the first restart is one too many, so the pool stops rather than heals.
      const error = await pool.whenReady().then(() => 'ready', (e: unknown) => e);
      expect(error).to.be.instanceOf(PoolStoppedError);
      expect((error as Error).message).to.contain('more than 0 failed interpreter starts');
    } finally {
      await pool.stop();
    }
  });

  it('replaces an interpreter that dies in a call, however small the restart budget', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, supervision: { intensity: 0, backoff: false } });
    try {
      for (let kill = 0; kill < 3; kill++) {
        const doomed = pool.call('calls', 'sleep', [30]).catch((e: unknown) => e);
        await until(() => pool.interpreters().some((i) => i.busy), 'the call to run');
        process.kill(pool.interpreters()[0]!.pid, 'SIGKILL');
        expect(await doomed).to.be.instanceOf(InterpreterExitedError);
        await pool.whenReady();
        expect(await pool.call('calls', 'add', [kill, 1])).to.equal(kill + 1);
      }
      expect(pool.stats()).to.include({ crashes: 3, startFailures: 0, restarts: 3 });
    } finally {
      await pool.stop();
    }
  });

  it('rejects start with PoolStartError naming the cause when a preload raises', async () => {
    const error = await PythonPool.start({ size: 2, path: fixtures, preload: ['raises_on_import'] }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PoolStartError);
    expect((error as Error).message).to.contain('this module refuses to load');
    expect(workersOf()).to.deep.equal([]);
  });

  it('rejects start with PoolStartError for a module with a syntax error', async () => {
    const error = await PythonPool.start({ size: 1, path: fixtures, preload: ['broken_syntax'] }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PoolStartError);
    expect((error as Error).message).to.contain('SyntaxError');
  });

  it('rejects start with PoolStartError when the python executable does not exist', async () => {
    const error = await PythonPool.start({ size: 1, python: '/nonexistent/python3' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PoolStartError);
    expect((error as Error).message).to.contain('/nonexistent/python3');
  });

  it('rejects start with PoolStartError when the interpreter lacks pyzmq', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'piton-bare-venv-'));
    try {
      const made = spawn('python3', ['-m', 'venv', '--without-pip', dir], { stdio: 'ignore' });
      const [code] = (await once(made, 'exit')) as [number];
      expect(code).to.equal(0);
      expect(existsSync(join(dir, 'bin', 'python'))).to.equal(true);
      const python = join(dir, 'bin', 'python');
      const error = await PythonPool.start({ size: 1, python, path: fixtures }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PoolStartError);
      const message = (error as Error).message;
      expect(message).to.match(/No module named '(zmq|msgpack)'/);
      // It names the interpreter and both fixes: the project's environment, or pip for this interpreter.
      expect(message).to.contain(`the interpreter ${python} lacks pyzmq`);
      expect(message).to.contain('npx piton setup');
      expect(message).to.contain(`${python} -m pip install 'pyzmq>=25' 'msgpack>=1.0'`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sends the interpreters' printed lines to the system's events, tagged with the worker", async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures });
    try {
      const lines: InterpreterOutput[] = [];
      const heard = new Promise<void>((resolve) => {
        pool.system.events.on('output', (output: InterpreterOutput) => {
          lines.push(output);
          if (lines.length === 2) resolve();
        });
      });
      expect(await pool.call('calls', 'shout', ['hello from python'])).to.equal(17);
      expect(await pool.call('calls', 'shout', ['an error line', 'stderr'])).to.equal(13);
      await heard;
      // Each line also names the call that printed it (its callId); the two calls are two.
      const seen = lines.map(({ worker, stream, line }) => ({ worker, stream, line }));
      expect(seen).to.deep.include({ worker: 'python-1', stream: 'stdout', line: 'hello from python' });
      expect(seen).to.deep.include({ worker: 'python-1', stream: 'stderr', line: 'an error line' });
      const ids = lines.map((l) => l.callId);
      for (const id of ids) expect(id).to.match(/^\d+-\d+$/);
      expect(new Set(ids).size).to.equal(2);
    } finally {
      await pool.stop();
    }
  });

  for (const mode of ['default', 'silenced'] as const) {
    it(
      mode === 'default'
        ? "sends printed lines to the Node process's stderr, prefixed with the worker, when nothing listens for them"
        : 'drops printed lines with onOutput: false',
      async function () {
        this.timeout(20_000);
        const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'print-output.ts'), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        const [code] = (await once(child, 'close')) as [number | null];
        expect(code, stderr).to.equal(0);
        expect(stdout).to.equal('stopped\n');
        if (mode === 'default') {
          expect(stderr).to.contain('[python-1] printed to stdout\n');
          expect(stderr).to.contain('[python-1] printed to stderr\n');
        } else {
          expect(stderr).to.not.contain('printed to');
        }
      },
    );
  }

  it('rejects start with a TypeError naming an unknown option, and a likely intended one', async () => {
    const error = await PythonPool.start({ sise: 2, path: fixtures } as never).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.contain('options.sise is not an option; did you mean size?');
    expect(workersOf()).to.deep.equal([]);
  });

  it('rejects start with PoolStartError naming a path entry that does not exist, resolved against cwd', async () => {
    const error = await PythonPool.start({ size: 1, path: ['.', 'no-such-dir'], cwd: fixtures }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PoolStartError);
    expect((error as Error).message).to.contain(`options.path entry "${join(fixtures, 'no-such-dir')}" does not exist`);
    expect(workersOf()).to.deep.equal([]);
  });

  it('resolves relative path entries against the cwd option', async () => {
    const pool = await PythonPool.start({ size: 1, path: '.', cwd: fixtures });
    try {
      expect(await pool.call('calls', 'add', [2, 3])).to.equal(5);
    } finally {
      await pool.stop();
    }
  });

  it('stops at the end of an `await using` scope (Symbol.asyncDispose)', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures });
    const pid = pool.interpreters()[0]!.pid;
    await pool[Symbol.asyncDispose]();
    expect(isAlive(pid)).to.equal(false);
    expect(await pool.call('calls', 'add', [1, 2]).catch((e: unknown) => e)).to.be.instanceOf(PoolStoppedError);
  });

  it('mounts in a supervision tree, reachable by name across restarts of the pool', async () => {
    const system = new ActorSystem({ name: 'tree-with-pool' });
    try {
      await system.start(
        supervisor({
          strategy: 'one_for_one',
          children: [{ id: 'py', start: pythonPool({ size: 1, path: fixtures, supervision: { intensity: 0 } }), type: 'supervisor', name: 'py' }],
        }),
      );
      const py = system.whereis('py') as PoolRef;
      const firstPid = py.interpreters()[0]!.pid;
      // intensity 0: the death of an interpreter that never served makes the pool give up; its
      // supervisor restarts it.
      const restarted = new Promise<void>((resolve) =>
        system.events.on('event', (e) => e.type === 'started' && e.id === 'py' && resolve()),
      );
      process.kill(firstPid, 'SIGKILL');
      await restarted;
      expect(await py.call('calls', 'add', [1, 2])).to.equal(3);
      expect(py.interpreters()[0]!.pid).to.not.equal(firstPid);
    } finally {
      await system.stop();
    }
  });
});
