// Interpreters on other hosts, for real: hosts are network namespaces joined by veth pairs, each
// running a real agent; the pool reaches their interpreters over tcp with CURVE. Links are cut,
// interpreters and agents killed and stopped, and the pool must keep its promises.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import {
  AgentConnectError,
  curveKeyPair,
  HostLostError,
  PoolStartError,
  PythonPool,
  InterpreterExitedError,
  type PoolOptions,
  type RemoteOptions,
} from '@piton/python-bridge';
import { fixtures, isAlive, repoRoot } from './helpers.js';
import { until } from './support.js';
import { namespacesUnavailable, TestHosts, type TestHost } from './remote/test-hosts.js';

/** A pool of `size` interpreters on each of `which`, with the default heartbeat (1 s / 3 s). */
function startPool(hosts: TestHosts, which: TestHost[], size = 2, extra: PoolOptions = {}, remote: Partial<RemoteOptions> = {}): Promise<PythonPool> {
  return PythonPool.start({
    remote: { hosts: which.map((h) => ({ agent: h.agent, serverKey: h.serverKey, size })), keys: hosts.client, ...remote },
    path: fixtures,
    onOutput: false,
    ...extra,
  });
}

describe('interpreters on other hosts (network namespaces, tcp + CURVE)', function () {
  this.timeout(60_000);
  let hosts: TestHosts;

  before(async function () {
    const why = namespacesUnavailable();
    if (why !== undefined) {
      console.log(`      (skipped: network namespaces cannot be made here: ${why})`);
      this.skip();
    }
    hosts = await TestHosts.create(2);
  });

  after(async () => {
    await hosts?.destroy();
  });

  it('a pool spanning two hosts serves calls on both, each interpreter in its host', async () => {
    const pool = await startPool(hosts, hosts.hosts);
    try {
      const seen = await Promise.all(Array.from({ length: 16 }, () => pool.call<[number, number]>('remote_calls', 'net_inode')));
      const inodes = new Set(seen.map(([inode]) => inode));
      expect(inodes).to.deep.equal(new Set(hosts.hosts.map((h) => h.netInode)));
      for (const [, pid] of seen) expect(hosts.hosts.some((h) => TestHosts.runsIn(pid, h))).to.equal(true);
      expect(pool.interpreters()).to.have.length(4);
      expect(await pool.call('calls', 'add', [2, 3])).to.equal(5);
    } finally {
      await pool.stop();
    }
    for (const i of hosts.hosts) expect(i.process!.exitCode).to.equal(null);
  });

  it('lanes reach a remote interpreter too: concurrency calls run at once there, and callbacks from each', async () => {
    const pool = await startPool(hosts, [hosts.hosts[0]!], 1, { concurrency: 4, expose: { echo: async (v: unknown) => v } });
    try {
      // Four calls that return only once all four have arrived at the one interpreter.
      expect(await Promise.all([0, 1, 2, 3].map((i) => pool.call('coroutines', 'rendezvous', ['remote', 4, i])))).to.deep.equal([0, 1, 2, 3]);
      expect(await Promise.all([0, 1, 2, 3].map((i) => pool.call('coroutines', 'ask', ['echo', i])))).to.deep.equal([[0, 0], [1, 1], [2, 2], [3, 3]]);
      const [interpreter] = pool.interpreters();
      expect(TestHosts.runsIn(interpreter!.pid, hosts.hosts[0]!)).to.equal(true);
    } finally {
      await pool.stop();
    }
  });

  it("modules planted in a remote interpreter's cwd never run (the agent starts workers as the pool does)", async () => {
    // What `python -m piton.worker` would import from its cwd first, and a package named like the runtime.
    const cwd = mkdtempSync(join(tmpdir(), 'piton-planted-'));
    const marker = join(cwd, 'planted-code-ran');
    const planted = `open(${JSON.stringify(marker)}, "a").write(__name__ + "\\n")\nraise ImportError("planted")\n`;
    for (const name of ['enum', 'random', 'typing', 'zmq']) writeFileSync(join(cwd, `${name}.py`), planted);
    mkdirSync(join(cwd, 'piton'));
    writeFileSync(join(cwd, 'piton', '__init__.py'), planted);
    try {
      const pool = await startPool(hosts, [hosts.hosts[0]!], 1, { cwd });
      try {
        const [inode] = await pool.call<[number, number]>('remote_calls', 'net_inode');
        expect(inode).to.equal(hosts.hosts[0]!.netInode);
        expect(await pool.call('security_probe', 'cwd')).to.equal(cwd);
      } finally {
        await pool.stop();
      }
      expect(existsSync(marker), `planted code ran: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`).to.equal(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('a remote SIGKILL rejects the call with its signal, and a replacement serves', async () => {
    const pool = await startPool(hosts, [hosts.hosts[0]!], 1);
    try {
      const [, pid] = await pool.call<[number, number]>('remote_calls', 'net_inode');
      const pending = pool.call('remote_calls', 'sleep', [30]);
      await until(() => pool.interpreters()[0]?.busy === true, 'the call to run');
      process.kill(pid, 'SIGKILL');
      const error = await pending.then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(InterpreterExitedError);
      expect(error).to.not.be.instanceOf(HostLostError);
      expect((error as InterpreterExitedError).signal).to.equal('SIGKILL');
      await pool.whenReady();
      expect(await pool.call('calls', 'add', [1, 1])).to.equal(2);
    } finally {
      await pool.stop();
    }
  });

  it('a cut link fails that host\'s calls with HostLostError, the other host serves, and the host comes back', async () => {
    const [cut, other] = hosts.hosts as [TestHost, TestHost];
    // A shorter heartbeat than the default, as a service that wants losses seen sooner would set.
    const pool = await startPool(hosts, hosts.hosts, 1, {}, { heartbeat: { interval: 100, timeout: 300 } });
    try {
      const pids = pool.interpreters().map((i) => i.pid);
      const onCut = pids.find((p) => TestHosts.runsIn(p, cut))!;
      // Both interpreters busy, so that one call surely runs on the host about to be cut.
      const calls = [pool.call('remote_calls', 'sleep', [1.5, 'done']), pool.call('remote_calls', 'sleep', [1.5, 'done'])];
      await until(() => pool.interpreters().every((i) => i.busy), 'both calls to run');
      hosts.setLink(cut, false);
      const outcomes = await Promise.allSettled(calls);
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).to.be.instanceOf(HostLostError);
      expect((lost.reason as HostLostError).agent).to.equal(cut.agent);
      expect(outcomes.some((o) => o.status === 'fulfilled' && o.value === 'done'), JSON.stringify(outcomes.map((o) => o.status === 'rejected' ? String(o.reason) : o.value))).to.equal(true);
      // The agent, no longer hearing us, kills what it ran for us: nothing runs unseen.
      await until(() => !isAlive(onCut), 'the cut host\'s interpreter to be killed by its agent', 10_000);
      const [inode] = await pool.call<[number, number]>('remote_calls', 'net_inode');
      expect(inode).to.equal(other.netInode);
      hosts.setLink(cut, true);
      await pool.whenReady();
      const back = await Promise.all(Array.from({ length: 8 }, () => pool.call<[number, number]>('remote_calls', 'net_inode')));
      expect(new Set(back.map(([i]) => i)).size).to.equal(2);
    } finally {
      hosts.setLink(cut, true);
      await pool.stop();
    }
  });

  it('SIGSTOP of an interpreter is seen through heartbeats; SIGKILL of an agent takes its interpreters', async () => {
    const host = hosts.hosts[0]!;
    const pool = await startPool(hosts, [host], 1);
    try {
      const [, pid] = await pool.call<[number, number]>('remote_calls', 'net_inode');
      const pending = pool.call('remote_calls', 'sleep', [30]);
      await until(() => pool.interpreters()[0]?.busy === true, 'the call to run');
      process.kill(pid, 'SIGSTOP');
      const stopped = await pending.then(() => undefined, (e: unknown) => e);
      expect(stopped).to.be.instanceOf(InterpreterExitedError);
      await until(() => !isAlive(pid), 'the stopped interpreter to be killed');
      await pool.whenReady();
      const [, second] = await pool.call<[number, number]>('remote_calls', 'net_inode');
      const agentPid = host.process!.pid!;
      host.process!.kill('SIGKILL');
      await until(() => !isAlive(second), 'the agent\'s interpreter to die with it');
      // Until the pool has seen it go, the dead interpreter still counts as ready, and a call given
      // to it fails with its exit: wait for the pool to know, as a caller reading events would.
      await until(() => !pool.interpreters().some((i) => i.pid === second), 'the pool to see the interpreter gone');
      // Back as systemd would bring it: the pool's host supervisor reconnects and starts anew.
      await hosts.startAgent(host);
      await pool.whenReady();
      expect(await pool.call('calls', 'add', [2, 2])).to.equal(4);
      expect(agentPid).to.not.equal(host.process!.pid);
    } finally {
      await pool.stop();
    }
  });

  it('SIGSTOP of an agent: its calls reject with HostLostError; resumed, it kills what it ran and the host comes back', async () => {
    const host = hosts.hosts[1]!;
    const pool = await startPool(hosts, [host], 1, {}, { heartbeat: { interval: 100, timeout: 300 } });
    try {
      const [, pid] = await pool.call<[number, number]>('remote_calls', 'net_inode');
      const pending = pool.call('remote_calls', 'sleep', [30], { retries: 3 });
      await until(() => pool.interpreters()[0]?.busy === true, 'the call to run');
      host.process!.kill('SIGSTOP');
      // Never retried, whatever retries says: the call may still be running there.
      expect(await pending.then(() => undefined, (e: unknown) => e)).to.be.instanceOf(HostLostError);
      host.process!.kill('SIGCONT');
      // The agent, back, finds the Node silent for longer than its timeout and kills what it ran.
      await until(() => !isAlive(pid), 'the stopped agent, resumed, to kill its interpreter', 10_000);
      await pool.whenReady();
      expect(await pool.call('calls', 'add', [3, 4])).to.equal(7);
    } finally {
      host.process?.kill('SIGCONT');
      await pool.stop();
    }
  });

  it('remote interpreters are gone soon after the Node process is SIGKILLed', async () => {
    const host = hosts.hosts[1]!;
    const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'hold-remote-pool.ts'),
      JSON.stringify({ agent: host.agent, serverKey: host.serverKey, keys: hosts.client, path: fixtures })], {
      cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as number[]);
      });
      child.once('exit', (code) => reject(new Error(`the pool holder exited with ${code}`)));
    });
    expect(pids).to.have.length(2);
    for (const pid of pids) expect(TestHosts.runsIn(pid, host)).to.equal(true);
    child.kill('SIGKILL');
    await until(() => pids.every((p) => !isAlive(p)), 'the remote interpreters of a dead Node to be killed', 10_000);
  });

  it('under random kills every call settles once and none runs twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piton-ledger-'));
    const ledger = join(dir, 'ledger');
    const pool = await startPool(hosts, hosts.hosts, 2);
    try {
      let kills = 0;
      const calls = Array.from({ length: 120 }, (_, i) => pool.call('remote_calls', 'record', [ledger, i, 0.01]));
      const killer = (async () => {
        while (kills < 6) {
          await new Promise((r) => setTimeout(r, 60));
          const victim = pool.interpreters().find((i) => i.busy);
          if (victim === undefined) break;
          try {
            process.kill(victim.pid, 'SIGKILL');
            kills++;
          } catch {
            // already replaced
          }
        }
      })();
      const results = await Promise.allSettled(calls);
      await killer;
      const lines = readFileSync(ledger, 'utf8').trim().split('\n');
      expect(new Set(lines).size, 'a call ran twice').to.equal(lines.length);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).to.be.instanceOf(InterpreterExitedError);
      }
      expect(kills).to.be.greaterThan(0);
      expect(results.filter((r) => r.status === 'fulfilled').length).to.be.greaterThan(60);
    } finally {
      await pool.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a client whose key is not allowed, and plaintext clients', async () => {
    const stranger = curveKeyPair();
    const host = hosts.hosts[0]!;
    const error = await PythonPool.start({
      remote: { hosts: [{ agent: host.agent, serverKey: host.serverKey, size: 1 }], keys: stranger },
      path: fixtures,
      startTimeout: 1_000,
      onOutput: false,
    }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(PoolStartError);
    let cause: unknown = error;
    while (cause !== undefined && !(cause instanceof AgentConnectError)) cause = (cause as Error).cause;
    expect(cause, String(error)).to.be.instanceOf(AgentConnectError);
    // A plaintext client gets no answer from the agent (the worker side is in python/tests/test_agent.py).
    const plain = new Dealer({ linger: 0, receiveTimeout: 500 });
    plain.connect(host.agent);
    await plain.send('["hello"]');
    await plain.receive().then(() => expect.fail('the agent answered a plaintext client'), () => undefined);
    plain.close();
  });
});
