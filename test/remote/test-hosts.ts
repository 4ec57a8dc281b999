/**
 * Simulated hosts for the remote tests: each a network namespace joined to this one by a veth
 * pair (made and removed here, as root), running a real agent. Links can be cut and restored,
 * agents killed, stopped and restarted, as a network or systemd would.
 *
 * No packet for a test host may ever leave this machine: the run's /24 has a blackhole route in
 * this namespace, under the hosts' own /30 routes, so that whatever happens to an interface the
 * test range is never routed to the default gateway. A cut is made the same way (a /32 blackhole
 * route on each side, interfaces left up): packets between the two ends are dropped, silently
 * for connections already open, as in a partition.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curveKeyPair, type CurveKeyPair } from '@piton/python-bridge';
import { repoRoot } from '../helpers.js';

const PYTHON = join(repoRoot, '.venv', 'bin', 'python');
const AGENT_PORT = 7100;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function namespacesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = `piton-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return undefined;
  } catch (error) {
    return `ip netns failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

export interface TestHost {
  name: string;
  /** This namespace's address on the host's link, and the host's. */
  localAddress: string;
  address: string;
  /** The agent's control endpoint, reachable from this namespace. */
  agent: string;
  serverKey: string;
  /** The veth end in this namespace: down = the host is cut off. */
  link: string;
  /** The namespace's net inode, to tell where a process runs. */
  netInode: number;
  process: ChildProcess | undefined;
}

export class TestHosts {
  readonly hosts: TestHost[] = [];
  /** The pool's keys, on every agent's allow-list. */
  readonly client: CurveKeyPair = curveKeyPair();
  readonly #dir = mkdtempSync(join(tmpdir(), 'piton-hosts-'));
  readonly #secrets = new Map<string, string>();
  #guard: string | undefined;

  /**
   * Makes `count` hosts and starts their agents; `sharedKey`: all agents hold one key pair, as the
   * agents behind one DNS name do.
   */
  static async create(count: number, { sharedKey = false }: { sharedKey?: boolean } = {}): Promise<TestHosts> {
    const hosts = new TestHosts();
    const shared = sharedKey ? curveKeyPair() : undefined;
    try {
      // A /24 per run, picked from the pid, so that two runs on one machine do not collide.
      const net = 10 + (process.pid % 200);
      hosts.#guard = `10.231.${net}.0/24`;
      ip('route', 'replace', 'blackhole', hosts.#guard);
      for (let i = 0; i < count; i++) {
        const name = `piton-${process.pid}-${i}`;
        const link = `pt${process.pid % 100_000}h${i}`;
        const peer = `${link}p`;
        ip('netns', 'add', name);
        ip('link', 'add', link, 'type', 'veth', 'peer', 'name', peer);
        ip('link', 'set', peer, 'netns', name);
        ip('addr', 'add', `10.231.${net}.${i * 4 + 1}/30`, 'dev', link);
        ip('link', 'set', link, 'up');
        ip('-n', name, 'addr', 'add', `10.231.${net}.${i * 4 + 2}/30`, 'dev', peer);
        ip('-n', name, 'link', 'set', peer, 'up');
        ip('-n', name, 'link', 'set', 'lo', 'up');
        const keys = shared ?? curveKeyPair();
        const secretFile = join(hosts.#dir, `${name}.key`);
        writeFileSync(secretFile, keys.secretKey, { mode: 0o600 });
        hosts.#secrets.set(name, secretFile);
        hosts.hosts.push({
          name,
          localAddress: `10.231.${net}.${i * 4 + 1}`,
          address: `10.231.${net}.${i * 4 + 2}`,
          agent: `tcp://10.231.${net}.${i * 4 + 2}:${AGENT_PORT}`,
          serverKey: keys.publicKey,
          link,
          netInode: statSync(`/run/netns/${name}`).ino,
          process: undefined,
        });
      }
      for (const host of hosts.hosts) await hosts.startAgent(host);
    } catch (error) {
      await hosts.destroy();
      throw error;
    }
    return hosts;
  }

  /**
   * Starts (or restarts) a host's agent, as systemd would; resolves once it listens and its zygote
   * is ready (its workers are forked from then on, as on a host that has run for a while).
   */
  async startAgent(host: TestHost, allow: string[] = [this.client.publicKey]): Promise<ChildProcess> {
    const bind = host.agent;
    const args = ['netns', 'exec', host.name, PYTHON, '-m', 'piton.agent', '--bind', bind, '--secret-key-file', this.#secrets.get(host.name)!];
    for (const key of allow) args.push(`--allow=${key}`); // a Z85 key may begin with '-'
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PYTHONPATH: join(repoRoot, 'python', 'src') } });
    host.process = child;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const onData = (chunk: Buffer) => {
        err += chunk.toString();
        if (err.includes('listening') && err.includes('forked from the zygote')) {
          child.stderr!.off('data', onData);
          child.stderr!.resume();
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`agent of ${host.name} exited (${code}): ${err}`)));
    });
    return child;
  }

  /** Cuts the host off (packets both ways are dropped) or joins it again. */
  setLink(host: TestHost, up: boolean): void {
    const verb = up ? 'del' : 'replace';
    try {
      ip('route', verb, 'blackhole', `${host.address}/32`);
      ip('-n', host.name, 'route', verb, 'blackhole', `${host.localAddress}/32`);
    } catch (error) {
      if (!up) throw error; // restoring a link that was not cut is fine
    }
  }

  /** Whether process `pid` runs in `host`'s network namespace. */
  static runsIn(pid: number, host: TestHost): boolean {
    try {
      return statSync(`/proc/${pid}/ns/net`).ino === host.netInode;
    } catch {
      return false;
    }
  }

  async destroy(): Promise<void> {
    for (const host of this.hosts) {
      const child = host.process;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    this.destroyNow();
  }

  /**
   * What {@link destroy} does, without waiting for the agents' exits: for a process about to exit
   * (a signal, `process.on('exit')`), which cannot wait but must not leave namespaces behind.
   * Idempotent.
   */
  destroyNow(): void {
    for (const host of this.hosts) {
      const child = host.process;
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    for (const host of this.hosts) {
      this.setLink(host, true); // a cut's blackhole route in this namespace would outlive the host
      try {
        // Interpreters are children of the agent and die with it; anything else left in the
        // namespace goes too, before the namespace does.
        for (const pid of execFileSync('ip', ['netns', 'pids', host.name], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // exited meanwhile
          }
        }
        ip('netns', 'del', host.name); // takes the veth pair with it
      } catch {
        // already gone
      }
    }
    if (this.#guard !== undefined) {
      try {
        ip('route', 'del', 'blackhole', this.#guard);
      } catch {
        // already gone
      }
      this.#guard = undefined;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
