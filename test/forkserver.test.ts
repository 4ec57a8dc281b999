// The fork server: one per pool, interpreters forked from it, every guarantee of spawn kept.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, type SupervisorEvent } from '@piton/core';
import {
  CallTimeoutError,
  PoolStartError,
  PythonPool,
  pythonPool,
  InterpreterExitedError,
  type InterpreterEvent,
  type InterpreterExitedEvent,
  type InterpreterOutput,
  type PoolRef,
  type StartMethod,
} from '@piton/python-bridge';
import { fixtures, isAlive, workersOf } from './helpers.js';
import { until } from './support.js';

/** Parent pid and process group of `pid`, from /proc/PID/stat. */
function stat(pid: number): { ppid: number; pgid: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), pgid: Number(fields[2]) };
}

/** The pool's fork server: the one process of ours that is not an interpreter. */
function serverOf(pool: PythonPool): number {
  const interpreters = new Set(pool.interpreters().map((i) => i.pid));
  const servers = workersOf().filter((pid) => !interpreters.has(pid) && stat(pid).ppid === process.pid);
  expect(servers, 'fork servers of this process').to.have.length(1);
  return servers[0]!;
}

function record(pool: PythonPool): InterpreterEvent[] {
  const events: InterpreterEvent[] = [];
  pool.system.events.on('interpreter', (event) => events.push(event));
  return events;
}

describe('forkserver: interpreters forked from one server per pool', function () {
  this.timeout(60_000);
  let pool: PythonPool | undefined;

  afterEach(async () => {
    await pool?.stop();
    pool = undefined;
  });

  it('is the default on Linux, and serves calls from interpreters forked by the server, each leading its own process group', async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'] });
    expect(pool.stats().startMethod).to.equal('forkserver');
    const server = serverOf(pool);
    for (const { pid } of pool.interpreters()) {
      expect(stat(pid), `interpreter ${pid}`).to.deep.equal({ ppid: server, pgid: pid });
    }
    expect(await Promise.all([pool.call('calls', 'add', [1, 2]), pool.call('calls', 'add', [3, 4])])).to.deep.equal([3, 7]);
    const lines: InterpreterOutput[] = [];
    pool.system.events.on('output', (output) => lines.push(output));
    await pool.call('calls', 'shout', ['from a forked interpreter', 'stderr']);
    await until(() => lines.length > 0, 'the printed line');
    expect(lines[0]).to.deep.include({ stream: 'stderr', line: 'from a forked interpreter' });
    expect(lines[0]!.worker).to.match(/^python-[12]$/);
  });

  it('reports an exit with its code, and one by a signal, in the call’s error and in the events', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, startMethod: 'forkserver' });
    const events = record(pool);
    const byCode = await pool.call('calls', 'exit_hard', [3]).catch((e: unknown) => e);
    expect(byCode).to.be.instanceOf(InterpreterExitedError).and.to.include({ exitCode: 3, signal: null });
    await pool.whenReady();
    const bySignal = await pool.call('calls', 'kill_self').catch((e: unknown) => e);
    expect(bySignal).to.be.instanceOf(InterpreterExitedError).and.to.include({ exitCode: null, signal: 'SIGKILL' });
    await pool.whenReady();
    expect(await pool.call('calls', 'add', [2, 2])).to.equal(4);
    const exits = events.filter((e): e is InterpreterExitedEvent => e.type === 'exited');
    expect(exits.map(({ cause, code, signal }) => ({ cause, code, signal }))).to.deep.equal([
      { cause: 'crash', code: 3, signal: null },
      { cause: 'crash', code: null, signal: 'SIGKILL' },
    ]);
    expect(pool.stats()).to.include({ crashes: 2, startFailures: 0, restarts: 2 });
  });

  it('kills a timed-out call’s interpreter with the processes it started (its process group)', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, startMethod: 'forkserver' });
    const sleeper = new Promise<number>((resolve) =>
      pool!.system.events.on('output', ({ line }) => {
        const match = /^sleeper (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      }),
    );
    const victim = pool.interpreters()[0]!.pid;
    const error = await pool.call('process_group', 'sleeper_then_block', [], { timeout: 3_000 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CallTimeoutError);
    const pid = await sleeper;
    await until(() => !isAlive(pid) && !isAlive(victim), 'the interpreter and its sleep to be gone', 5_000);
    await pool.whenReady();
    expect(pool.interpreters()[0]!.pid).to.not.equal(victim);
  });

  it('recycles an interpreter after recycle.afterCalls calls, forking its replacement', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, startMethod: 'forkserver', recycle: { afterCalls: 2 } });
    const events = record(pool);
    const server = serverOf(pool);
    const pids: number[] = [];
    for (let i = 0; i < 6; i++) pids.push(await pool.call<number>('calls', 'pid'));
    expect(new Set(pids).size).to.equal(3);
    await pool.whenReady();
    for (const { pid } of pool.interpreters()) expect(stat(pid).ppid).to.equal(server);
    await until(() => events.filter((e) => e.type === 'exited').length >= 2, 'two recycled interpreters');
    expect(events.filter((e) => e.type === 'exited').every((e) => (e as InterpreterExitedEvent).cause === 'recycle')).to.equal(true);
    expect(pool.stats()).to.include({ crashes: 0, startFailures: 0 });
  });

  it('when the server is SIGKILLed, its interpreters die with it, and the pool restarts the server, then them', async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'] });
    const supervision: SupervisorEvent[] = [];
    pool.system.events.on('event', (event) => supervision.push(event));
    const server = serverOf(pool);
    const before = pool.interpreters().map((i) => i.pid);
    const ready = new Promise<void>((resolve) => {
      let seen = 0;
      pool!.system.events.on('interpreter', (event) => event.type === 'ready' && ++seen === 2 && resolve());
    });
    process.kill(server, 'SIGKILL');
    await until(() => before.every((pid) => !isAlive(pid)), 'the forked interpreters to die with their server', 5_000);
    await ready;
    await pool.whenReady();
    const after = pool.interpreters().map((i) => i.pid);
    expect(after).to.have.length(2);
    expect(after.some((pid) => before.includes(pid))).to.equal(false);
    const newServer = serverOf(pool);
    expect(newServer).to.not.equal(server);
    for (const pid of after) expect(stat(pid).ppid).to.equal(newServer);
    expect(await pool.call('calls', 'add', [20, 22])).to.equal(42);
    // OTP's account: the server exited, was restarted, and so were the interpreters after it.
    expect(supervision.some((e) => e.type === 'exited' && e.id === 'forkserver')).to.equal(true);
    expect(supervision.some((e) => e.type === 'started' && e.id === 'forkserver')).to.equal(true);
    // (the interpreters' supervisor is reported started once all its children are: just after they serve)
    await until(() => supervision.some((e) => e.type === 'started' && e.id === 'interpreters'), 'the interpreters restarted');
  });

  it('ends a kill even when the server does not answer (stopped): the pool kills the group itself and confirms the exit', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, startMethod: 'forkserver' });
    const server = serverOf(pool);
    const victim = pool.interpreters()[0]!.pid;
    const exited = new Promise<InterpreterExitedEvent>((resolve) =>
      pool!.system.events.on('interpreter', (event) => event.type === 'exited' && resolve(event)),
    );
    process.kill(server, 'SIGSTOP');
    try {
      const error = await pool.call('calls', 'sleep', [30], { timeout: 300 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(CallTimeoutError);
      expect(await exited).to.include({ pid: victim, cause: 'crash', signal: 'SIGKILL' });
      expect(isAlive(victim)).to.equal(false);
    } finally {
      process.kill(server, 'SIGCONT');
    }
    // The server, running again, forks the replacement.
    await pool.whenReady();
    expect(await pool.call('calls', 'add', [1, 1])).to.equal(2);
  });

  it('falls back to spawn, saying why, when a preload leaves a thread running (default start method)', async function () {
    if (process.platform !== 'linux') this.skip();
    let listener: ((warning: Error) => void) | undefined;
    const warned = new Promise<Error>((resolve) => {
      listener = (warning) => (warning as Error & { code?: string }).code === 'PITON_FORKSERVER_FALLBACK' && resolve(warning);
      process.on('warning', listener);
    }).finally(() => process.off('warning', listener!));
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['starts_thread'] });
    expect(pool.stats().startMethod).to.equal('spawn');
    const warning = await warned;
    expect(warning.message).to.contain('preload-ticker').and.to.contain("startMethod 'spawn'");
    expect(await pool.call('starts_thread', 'ping')).to.equal('pong');
  });

  it('refuses an explicit forkserver whose preload leaves a thread running, naming the thread', async () => {
    const error = await PythonPool.start({ size: 1, path: fixtures, preload: ['starts_thread'], startMethod: 'forkserver' }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(PoolStartError);
    expect((error as Error).message).to.contain('preload-ticker').and.to.contain('thread');
    await until(() => workersOf().length === 0, 'no process left');
  });

  it('rejects an unknown startMethod, naming the option', () => {
    expect(() => pythonPool({ startMethod: 'fork' as StartMethod })).to.throw(TypeError, /options\.startMethod/);
  });
});

describe('interpreters start in parallel', function () {
  this.timeout(60_000);

  for (const startMethod of ['forkserver', 'spawn'] as const) {
    it(`launches every interpreter before the first is ready (${startMethod})`, async () => {
      const system = new ActorSystem({ name: `parallel-${startMethod}` });
      const events: InterpreterEvent[] = [];
      system.events.on('interpreter', (event) => events.push(event));
      try {
        const pool = (await system.start(pythonPool({ size: 4, path: fixtures, startMethod }))) as PoolRef;
        expect(pool.stats().startMethod).to.equal(startMethod);
        const types = events.map((e) => e.type);
        expect(types.filter((t) => t === 'launching')).to.have.length(4);
        expect(types.filter((t) => t === 'ready')).to.have.length(4);
        expect(types.lastIndexOf('launching'), types.join(', ')).to.be.lessThan(types.indexOf('ready'));
      } finally {
        await system.stop();
      }
    });
  }

  it('runs the spawned interpreters’ start-ups side by side (a preload that waits for all of them)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piton-barrier-'));
    try {
      const pool = await PythonPool.start({
        size: 3,
        path: fixtures,
        preload: ['start_barrier'],
        startMethod: 'spawn',
        env: { PITON_BARRIER_DIR: dir, PITON_BARRIER_N: '3' },
      });
      await pool.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
