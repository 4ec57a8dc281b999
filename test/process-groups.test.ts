// Each interpreter leads a process group of its own: whatever a call starts (a subprocess, a fork)
// ends with its interpreter, whether it is timed out, stopped, or its Node process is SIGKILLed;
// and signals sent to Node's process group (a terminal's SIGHUP, a process manager's SIGTERM) do
// not reach the interpreters: Node decides.
import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { CallTimeoutError, PythonPool, type StartMethod } from '@piton/python-bridge';
import { fixtures, isAlive } from './helpers.js';
import { until } from './support.js';

const START_METHODS: readonly StartMethod[] = ['spawn', 'forkserver'];
/** The most PSS an interpreter's guard may have (python/src/piton/group.py). */
const GUARD_PSS_LIMIT_KIB = 2048;

function processGroupOf(pid: number): number {
  // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** The live members of process group `pgid` named `comm` (/proc/PID/comm). */
function groupMembersNamed(pgid: number, comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (processGroupOf(Number(entry)) === pgid && readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm && isAlive(Number(entry))) {
        found.push(Number(entry));
      }
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function pssKib(pid: number): number {
  const kib = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1];
  if (kib === undefined) throw new Error(`no Pss in /proc/${pid}/smaps_rollup`);
  return Number(kib);
}

/** A pool's call starts a subprocess and a fork; returns their pids, both alive. */
async function startChildren(pool: PythonPool): Promise<number[]> {
  const children = [await pool.call<number>('runaways', 'spawn_child'), await pool.call<number>('runaways', 'fork_child')];
  for (const pid of children) expect(isAlive(pid), `child ${pid}`).to.equal(true);
  return children;
}

describe('process groups: nothing a call starts outlives its interpreter', function () {
  this.timeout(30_000);
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures });
  });

  afterEach(() => pool.stop());

  it('each interpreter leads a process group of its own, not Node\'s', () => {
    const { pid } = pool.interpreters()[0]!;
    expect(processGroupOf(pid)).to.equal(pid);
    expect(processGroupOf(pid)).to.not.equal(processGroupOf(process.pid));
  });

  it('a subprocess and a fork started by a call end when a later call times out', async () => {
    const interpreter = pool.interpreters()[0]!.pid;
    const children = await startChildren(pool);
    const error = await pool.call('calls', 'sleep', [60], { timeout: 300 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CallTimeoutError);
    await until(() => !isAlive(interpreter), `interpreter ${interpreter} to be gone`);
    await until(() => children.every((pid) => !isAlive(pid)), `children ${children.join(', ')} to be gone`);
    await pool.whenReady();
    expect(await pool.call('runaways', 'pid')).to.equal(pool.interpreters()[0]!.pid);
  });

  it('the subprocess and fork a call started end when that call times out', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'piton-groups-'));
    try {
      const pidFile = join(scratch, 'children');
      const error = await pool.call('runaways', 'start_children_then_hang', [pidFile], { timeout: 3_000 }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(CallTimeoutError);
      expect(existsSync(pidFile), 'the call started its children before it timed out').to.equal(true);
      const children = readFileSync(pidFile, 'utf8').split(' ').map(Number);
      expect(children).to.have.length(2);
      await until(() => children.every((pid) => !isAlive(pid)), `children ${children.join(', ')} to be gone`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('a subprocess and a fork started by a call end with pool.stop()', async () => {
    const interpreter = pool.interpreters()[0]!.pid;
    const children = await startChildren(pool);
    await pool.stop();
    expect(isAlive(interpreter)).to.equal(false);
    await until(() => children.every((pid) => !isAlive(pid)), `children ${children.join(', ')} to be gone`);
  });

  it('a fork ends when its interpreter dies on its own', async () => {
    const interpreter = pool.interpreters()[0]!.pid;
    const children = await startChildren(pool);
    process.kill(interpreter, 'SIGKILL'); // the interpreter alone, as a crash would
    await until(() => children.every((pid) => !isAlive(pid)), `children ${children.join(', ')} to be gone`);
  });

  it('what escapes (SECURITY.md): a grandchild that leaves the group with setsid', async () => {
    const escaped = await pool.call<number>('runaways', 'spawn_detached_child');
    try {
      await pool.stop();
      expect(isAlive(escaped), 'a setsid() grandchild survives the pool').to.equal(true);
    } finally {
      process.kill(escaped, 'SIGKILL');
    }
  });
});

describe('process groups: each interpreter\'s guard', function () {
  this.timeout(30_000);

  for (const startMethod of START_METHODS) {
    it(`is a /bin/sh of at most 2 MiB PSS, one per interpreter (${startMethod})`, async () => {
      const pool = await PythonPool.start({ size: 2, path: fixtures, startMethod });
      try {
        expect(pool.stats().startMethod).to.equal(startMethod);
        for (const { pid } of pool.interpreters()) {
          const guards = groupMembersNamed(pid, 'piton-guard');
          expect(guards, `the guards of interpreter ${pid}`).to.have.length(1);
          expect(realpathSync(`/proc/${guards[0]!}/exe`)).to.equal(realpathSync('/bin/sh'));
          expect(pssKib(guards[0]!), `the PSS of guard ${guards[0]!}, KiB`).to.be.at.most(GUARD_PSS_LIMIT_KIB);
        }
      } finally {
        await pool.stop();
      }
    });
  }
});

describe('process groups: the Node process and its group', function () {
  this.timeout(30_000);
  let child: ChildProcessWithoutNullStreams | undefined;
  let lines: AsyncIterableIterator<string>;
  let reader: Interface | undefined;

  async function next(): Promise<unknown> {
    const { value, done } = await lines.next();
    expect(done, 'the Node process ended early').to.not.equal(true);
    return JSON.parse(value as string);
  }

  /** Starts test/fixtures/hold-children.ts, its pool with `startMethod` (else the default). */
  function holdChildren(startMethod?: StartMethod): ChildProcessWithoutNullStreams {
    // In a process group of its own, so that the test can signal that group as a terminal would.
    const started = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'hold-children.ts'), ...(startMethod ? [startMethod] : [])], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    }) as unknown as ChildProcessWithoutNullStreams;
    reader = createInterface({ input: started.stdout });
    lines = reader[Symbol.asyncIterator]();
    child = started;
    return started;
  }

  afterEach(async () => {
    reader?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    child = undefined;
  });

  for (const startMethod of START_METHODS) {
    it(`a subprocess and a fork started by a call end when the Node process is SIGKILLed (${startMethod})`, async () => {
      const node = holdChildren(startMethod);
      const { interpreter, children } = (await next()) as { interpreter: number; children: number[] };
      for (const pid of [interpreter, ...children]) expect(isAlive(pid)).to.equal(true);
      node.kill('SIGKILL');
      await once(node, 'exit');
      await until(() => [interpreter, ...children].every((pid) => !isAlive(pid)), 'the interpreter and its children to be gone');
    });
  }

  it("SIGHUP, SIGTERM and SIGUSR1 sent to Node's process group do not reach its interpreters", async () => {
    const node = holdChildren();
    const { interpreter, children } = (await next()) as { interpreter: number; children: number[] };
    for (const signal of ['SIGHUP', 'SIGTERM', 'SIGUSR1'] as const) {
      node.stdin.write('call\n');
      expect(await next()).to.equal('calling');
      process.kill(-node.pid!, signal); // the whole group, as a terminal or a process manager does
      // Node hears the signal; the call that was running when it came completes, on the same
      // interpreter (in either order: they are independent).
      expect([await next(), await next()]).to.have.deep.members([{ signal }, { result: 'slept', pid: interpreter }]);
    }
    for (const pid of children) expect(isAlive(pid), `child ${pid}`).to.equal(true);
    // Node decides: it stops the pool, and everything goes.
    node.stdin.write('stop\n');
    const [code] = (await once(node, 'exit')) as [number | null];
    expect(code).to.equal(0);
    await until(() => [interpreter, ...children].every((pid) => !isAlive(pid)), 'the interpreter and its children to be gone');
  });
});
