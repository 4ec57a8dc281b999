// Hosts that change while the pool runs, for real: agents in network namespaces (as
// remote.test.ts makes them), added and removed at runtime, and found by a DNS name that a real
// DNS server (dnsmasq on loopback) resolves to them, whose records the tests change: hosts join,
// leave (drained: no call lost or run twice) and the name fails to resolve. And a host that
// refuses us says so at once, naming the key.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentConnectError, curveKeyPair, PoolStartError, PythonPool, type HostEvent, type InterpreterEvent, type PoolOptions } from '@piton/python-bridge';
import { fixtures, isAlive } from './helpers.js';
import { until } from './support.js';
import { namespacesUnavailable, TestHosts, type TestHost } from './remote/test-hosts.js';
import { ensureDnsmasq, TestDns } from './remote/test-dns.js';

const NAME = 'agents.piton.test';
/** The agents' port (test-hosts.ts). */
const PORT = 7100;

/** Resolves with the first event on the pool's `'host'` channel that `match` accepts. */
function hostEvent<E extends HostEvent>(pool: PythonPool, match: (event: HostEvent) => event is E): Promise<E>;
function hostEvent(pool: PythonPool, match: (event: HostEvent) => boolean): Promise<HostEvent>;
function hostEvent(pool: PythonPool, match: (event: HostEvent) => boolean): Promise<HostEvent> {
  return new Promise((resolve) => {
    const listener = (event: HostEvent) => {
      if (!match(event)) return;
      pool.system.events.off('host', listener);
      resolve(event);
    };
    pool.system.events.on('host', listener);
  });
}

/** Where each of `n` calls ran (the network namespace's inode). */
async function inodes(pool: PythonPool, n: number): Promise<Set<number>> {
  const seen = await Promise.all(Array.from({ length: n }, () => pool.call<[number, number]>('remote_calls', 'net_inode')));
  return new Set(seen.map(([inode]) => inode));
}

describe('hosts that change: added, removed, and found by DNS (namespaces, dnsmasq)', function () {
  this.timeout(60_000);
  let hosts: TestHosts;
  let dns: TestDns;

  before(async function () {
    this.timeout(360_000); // may install dnsmasq
    const why = namespacesUnavailable();
    if (why !== undefined) {
      console.log(`      (skipped: network namespaces cannot be made here: ${why})`);
      this.skip();
    }
    const dnsmasq = ensureDnsmasq();
    if (dnsmasq === undefined) {
      console.log('      (skipped: dnsmasq is missing and cannot be installed here)');
      this.skip();
    }
    // All agents behind one name share one key pair.
    hosts = await TestHosts.create(3, { sharedKey: true });
    dns = await TestDns.start(dnsmasq);
  });

  after(async () => {
    await dns?.stop();
    await hosts?.destroy();
  });

  function dnsPool(extra: Partial<PoolOptions> = {}, serverKey = hosts.hosts[0]!.serverKey): Promise<PythonPool> {
    return PythonPool.start({
      remote: {
        hosts: [{ dns: NAME, port: PORT, serverKey, size: 1, interval: 200 }],
        dns: { servers: [dns.server] },
        keys: hosts.client,
      },
      path: fixtures,
      onOutput: false,
      ...extra,
    });
  }

  it('hosts join as their records appear, and the pool serves on each', async () => {
    const [a, b] = hosts.hosts as [TestHost, TestHost];
    await dns.set(NAME, [a.address]);
    const pool = await dnsPool();
    try {
      await until(() => pool.stats().hosts.some((h) => h.agent === a.agent && h.serving === 1), 'the first host to serve');
      expect(await inodes(pool, 4)).to.deep.equal(new Set([a.netInode]));
      const joined = hostEvent(pool, (e) => e.type === 'host' && e.agent === b.agent && e.state === 'connected');
      await dns.set(NAME, [a.address, b.address]);
      const event = await joined;
      expect(event).to.include({ dns: NAME, state: 'connected' });
      await until(() => pool.stats().hosts.every((h) => h.serving === 1) && pool.stats().hosts.length === 2, 'both hosts to serve');
      expect(await inodes(pool, 12)).to.deep.equal(new Set([a.netInode, b.netInode]));
      expect(pool.stats().size).to.equal(2);
      expect(pool.stats().minimum).to.equal(2);
    } finally {
      await pool.stop();
    }
  });

  it('a host whose record goes is drained: its calls in flight finish, none is lost or run twice, nothing counts as lost', async () => {
    const [a, b] = hosts.hosts as [TestHost, TestHost];
    await dns.set(NAME, [a.address, b.address]);
    const dir = mkdtempSync(join(tmpdir(), 'piton-drain-'));
    const ledger = join(dir, 'ledger');
    const exits: InterpreterEvent[] = [];
    const pool = await dnsPool({ events: (e) => e.type === 'exited' && exits.push(e as InterpreterEvent) });
    try {
      await until(() => pool.stats().hosts.length === 2 && pool.stats().hosts.every((h) => h.serving === 1), 'both hosts to serve');
      const onA = pool.interpreters().find((i) => TestHosts.runsIn(i.pid, a))!.pid;
      // A steady stream of calls of 50 ms, across both hosts, while the name drops one.
      const calls = Array.from({ length: 60 }, (_, i) => pool.call<number>('remote_calls', 'record', [ledger, i, 0.05]));
      await until(() => pool.interpreters().every((i) => i.busy), 'both hosts to run calls');
      const removed = hostEvent(pool, (e) => e.type === 'host' && e.agent === a.agent && e.state === 'removed');
      await dns.set(NAME, [b.address]);
      await removed;
      const results = await Promise.allSettled(calls);
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).to.deep.equal([]);
      const lines = readFileSync(ledger, 'utf8').trim().split('\n');
      expect(lines).to.have.length(60);
      expect(new Set(lines).size, 'a call ran twice').to.equal(60);
      // The drained host's interpreter was stopped (its agent lives on), as a shrink, not a loss.
      await until(() => !isAlive(onA), 'the drained host\'s interpreter to stop');
      expect(a.process!.exitCode).to.equal(null);
      const aExit = exits.find((e) => e.type === 'exited' && e.pid === onA);
      expect(aExit, JSON.stringify(exits)).to.include({ cause: 'shrink' });
      expect(pool.stats().errors).to.deep.equal({});
      expect(pool.stats().hosts.map((h) => h.agent)).to.deep.equal([b.agent]);
      expect(await inodes(pool, 4)).to.deep.equal(new Set([b.netInode]));
    } finally {
      await pool.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a name that fails to resolve keeps the hosts found last, says so in an event, and is followed again when it answers', async () => {
    const [a, , c] = hosts.hosts as [TestHost, TestHost, TestHost];
    await dns.set(NAME, [a.address]);
    const pool = await dnsPool();
    try {
      await until(() => pool.stats().hosts.some((h) => h.serving === 1), 'the host to serve');
      const failed = hostEvent(pool, (e) => e.type === 'dns' && !e.ok);
      dns.pause();
      const event = await failed;
      expect(event).to.include({ type: 'dns', name: NAME, ok: false });
      expect(event.type === 'dns' && event.agents).to.deep.equal([a.agent]);
      expect(event.type === 'dns' && event.error).to.match(/keeping the 1 host/);
      // Still served by the host it had.
      expect(await inodes(pool, 3)).to.deep.equal(new Set([a.netInode]));
      expect(pool.stats().hosts.map((h) => h.state)).to.deep.equal(['connected']);
      dns.resume();
      const joined = hostEvent(pool, (e) => e.type === 'host' && e.agent === c.agent && e.state === 'connected');
      await dns.set(NAME, [a.address, c.address]);
      await joined;
      // A name with no record at all (NXDOMAIN) is a failure too: nothing is drained.
      const nx = hostEvent(pool, (e) => e.type === 'dns' && !e.ok);
      await dns.set(NAME, []);
      expect((await nx).type === 'dns' && (await nx as { error?: string }).error).to.match(/ENOTFOUND/);
      expect(pool.stats().hosts.map((h) => h.state)).to.deep.equal(['connected', 'connected']);
    } finally {
      dns.resume();
      await pool.stop();
    }
  });

  it('a host found by DNS whose agent holds another key is reported refused at once, naming the key, in an event and stats()', async () => {
    const [a] = hosts.hosts as [TestHost];
    await dns.set(NAME, [a.address]);
    const wrong = curveKeyPair().publicKey;
    let reportRefusal: (event: HostEvent) => void = () => undefined;
    const refused = new Promise<HostEvent>((resolve) => (reportRefusal = resolve));
    const began = Date.now();
    // `events` sees the pool's events from its first moment: the refusal may come during start().
    const pool = await dnsPool({
      startTimeout: 30_000,
      events: (e) => e.type === 'host' && e.state === 'refused' && reportRefusal(e),
    }, wrong);
    try {
      const event = await refused;
      // Long before the 30 s startTimeout: the handshake said it.
      expect(Date.now() - began).to.be.lessThan(10_000);
      expect(event.type === 'host' && event.error).to.include(wrong).and.match(/not the serverKey we pinned/);
      expect(pool.stats().hosts[0]).to.include({ agent: a.agent, state: 'refused', serving: 0 });
      expect(pool.stats().hosts[0]!.error).to.include(wrong);
    } finally {
      await pool.stop();
    }
  });

  it('a pool whose key is not on the agent\'s allow list fails its start at once, naming our key', async () => {
    const stranger = curveKeyPair();
    const host = hosts.hosts[2]!;
    const began = Date.now();
    const error = await PythonPool.start({
      remote: { hosts: [{ agent: host.agent, serverKey: host.serverKey, size: 1 }], keys: stranger },
      path: fixtures,
      startTimeout: 30_000,
      onOutput: false,
    }).then(() => undefined, (e: unknown) => e);
    expect(Date.now() - began).to.be.lessThan(10_000);
    expect(error).to.be.instanceOf(PoolStartError);
    let cause: unknown = error;
    while (cause !== undefined && !(cause instanceof AgentConnectError)) cause = (cause as Error).cause;
    expect(cause, String(error)).to.be.instanceOf(AgentConnectError);
    expect((cause as AgentConnectError).refused).to.equal('client-key');
    expect((cause as AgentConnectError).message).to.include(stranger.publicKey).and.match(/allow list/);
  });

  it('nothing is lost or run twice while the pool changes shape: resize, addHost and removeHost under a steady load', async () => {
    const [a, b] = hosts.hosts as [TestHost, TestHost];
    const dir = mkdtempSync(join(tmpdir(), 'piton-shape-'));
    const ledger = join(dir, 'ledger');
    const pool = await PythonPool.start({
      size: { min: 1, max: 3 }, idleTimeout: 200, remote: { keys: hosts.client }, path: fixtures, onOutput: false,
    });
    try {
      // Eight calls in flight at all times (each records its id, then holds its interpreter 20 ms),
      // until every change below has been made and settled.
      const results: Promise<number>[] = [];
      let changing = true;
      const load = (async () => {
        const inFlight = new Set<Promise<unknown>>();
        for (let id = 0; changing || id < 40; id++) {
          const call = pool.call<number>('remote_calls', 'record', [ledger, id, 0.02]);
          results.push(call);
          const settled = call.then(() => undefined, () => undefined).finally(() => inFlight.delete(settled));
          inFlight.add(settled);
          if (inFlight.size >= 8) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      })();
      const served = (n: number) => until(() => results.length >= n, `${n} calls submitted`);
      const shapes: string[] = [];
      const shape = () => shapes.push(`${pool.stats().size}:${pool.stats().hosts.map((h) => h.agent).join(',')}`);
      await served(20);
      await pool.resize(3);
      shape();
      await served(results.length + 20);
      await pool.addHost({ agent: a.agent, serverKey: a.serverKey, size: 1 });
      shape();
      await served(results.length + 20);
      await pool.resize({ min: 1, max: 1 }); // two local interpreters stop, busy ones once their call returns
      shape();
      await pool.addHost({ agent: b.agent, serverKey: b.serverKey, size: 1 });
      await served(results.length + 20);
      await pool.removeHost(a.agent); // drained while it runs calls
      shape();
      await served(results.length + 20);
      await pool.resize({ min: 1, max: 3 }); // grows again while calls wait, shrinks after idleTimeout
      await served(results.length + 40);
      await pool.removeHost(b.agent);
      expect(pool.stats().hosts).to.deep.equal([]);
      await served(results.length + 20);
      changing = false;
      await load;
      const settled = await Promise.allSettled(results);
      expect(settled.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).to.deep.equal([]);
      expect(settled.map((r) => (r as PromiseFulfilledResult<number>).value)).to.deep.equal(results.map((_, id) => id));
      // Every call ran exactly once: one line per id in the ledger, none twice, none missing.
      const lines = readFileSync(ledger, 'utf8').trim().split('\n').map(Number);
      const counts = new Map<number, number>();
      for (const id of lines) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect([...counts].filter(([, n]) => n !== 1), 'calls run more than once').to.deep.equal([]);
      expect(counts.size, 'calls never run').to.equal(results.length);
      expect(shapes).to.deep.equal(['3:', `4:${a.agent}`, `2:${a.agent}`, `2:${b.agent}`]);
      expect(pool.stats().errors).to.deep.equal({});
      expect(pool.stats()).to.include({ crashes: 0, startFailures: 0 });
    } finally {
      await pool.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('addHost and removeHost at runtime: an added host serves; a removed one finishes its call in flight, takes no new one, and stops', async () => {
    const [a, b] = hosts.hosts as [TestHost, TestHost];
    const pool = await PythonPool.start({ remote: { keys: hosts.client }, path: fixtures, onOutput: false });
    try {
      expect(pool.stats().size).to.equal(0);
      await pool.addHost({ agent: a.agent, serverKey: a.serverKey, size: 1 });
      await pool.addHost({ agent: b.agent, serverKey: b.serverKey, size: 1 });
      expect(pool.stats().hosts.map((h) => [h.agent, h.state, h.serving])).to.deep.equal([[a.agent, 'connected', 1], [b.agent, 'connected', 1]]);
      await pool.whenReady();
      expect(await inodes(pool, 8)).to.deep.equal(new Set([a.netInode, b.netInode]));
      const onA = pool.interpreters().find((i) => TestHosts.runsIn(i.pid, a))!;
      // Both busy, one call on each; then a is removed while its call runs.
      const running = [pool.call('remote_calls', 'sleep', [0.6, 'done']), pool.call('remote_calls', 'sleep', [0.6, 'done'])];
      await until(() => pool.interpreters().every((i) => i.busy), 'both calls to run');
      const removal = pool.removeHost(a.agent);
      expect(pool.stats().hosts.find((h) => h.agent === a.agent)?.state).to.equal('draining');
      // New calls go to b only, while a's call finishes there.
      const after = pool.call<[number, number]>('remote_calls', 'net_inode');
      expect(await Promise.all(running)).to.deep.equal(['done', 'done']);
      expect((await after)[0]).to.equal(b.netInode);
      await removal;
      expect(isAlive(onA.pid)).to.equal(false);
      expect(pool.stats().hosts.map((h) => h.agent)).to.deep.equal([b.agent]);
      expect(pool.stats().errors).to.deep.equal({});
      await pool.removeHost(a.agent).then(() => expect.fail('removed twice'), (e: unknown) => expect(e).to.be.instanceOf(TypeError));
      await pool.addHost({ agent: b.agent, serverKey: b.serverKey, size: 1 }).then(() => expect.fail('added twice'), (e: unknown) => expect(e).to.be.instanceOf(TypeError));
      await pool.addHost({ agent: 'tcp://x:1', serverKey: 'short', size: 1 }).then(() => expect.fail('a bad key'), (e: unknown) => expect(e).to.be.instanceOf(TypeError));
    } finally {
      await pool.stop();
    }
  });
});
