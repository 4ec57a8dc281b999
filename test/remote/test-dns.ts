/**
 * A real DNS server for the tests: Debian's dnsmasq on loopback, on a port of its own, answering
 * for the names a test sets (A and AAAA records from a hosts file, re-read on SIGHUP; `piton.test`
 * is local: any other name there is NXDOMAIN, and nothing is forwarded anywhere). It can be
 * paused (SIGSTOP: queries time out, as with a server that is down) and resumed.
 *
 * dnsmasq is installed by `ensureDnsmasq()` when missing (apt-get, as root), as .ci/run installs
 * chromium for the observer's test; the DNS tests call it in their before() hook.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function which(command: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    try {
      execFileSync('test', ['-x', join(dir, command)]);
      return join(dir, command);
    } catch {
      // not there
    }
  }
  return undefined;
}

/** dnsmasq's path, installing Debian's dnsmasq-base (the server alone, no system service) if it is missing. */
export function ensureDnsmasq(): string | undefined {
  const found = which('dnsmasq');
  if (found !== undefined) return found;
  if (process.getuid?.() !== 0 || which('apt-get') === undefined) return undefined;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'dnsmasq-base'], { stdio: 'ignore', env, timeout: 300_000 });
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', 'dnsmasq-base'], { stdio: 'ignore', env, timeout: 300_000 });
  }
  return which('dnsmasq');
}

/** process.hrtime in ms (the benchmarks' clock). */
function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export class TestDns {
  /** `127.0.0.1:PORT`, for `dns: { servers: [...] }`. */
  readonly server: string;
  readonly #process: ChildProcess;
  readonly #dir: string;
  readonly #records = new Map<string, string[]>();

  private constructor(server: string, process: ChildProcess, dir: string) {
    this.server = server;
    this.#process = process;
    this.#dir = dir;
  }

  static async start(dnsmasq: string): Promise<TestDns> {
    const dir = mkdtempSync(join(tmpdir(), 'piton-dns-'));
    writeFileSync(join(dir, 'hosts'), '');
    const port = await freeUdpPort();
    const child = spawn(dnsmasq, [
      '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root',
      `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`, '--local=/piton.test/',
      '--local-ttl=0', '--no-negcache', '--cache-size=0',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const dns = new TestDns(`127.0.0.1:${port}`, child, dir);
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // Up once it answers (NXDOMAIN for a name it does not have).
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([dns.server]);
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited (${child.exitCode}): ${err}`);
      const answered = await resolver.resolve4('nothing.piton.test').then(() => true, (e: { code?: string }) => e.code === 'ENOTFOUND');
      if (answered) break;
      if (i > 100) throw new Error(`dnsmasq does not answer on ${dns.server}: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return dns;
  }

  /**
   * `name` resolves to `addresses` from now on (none: NXDOMAIN); resolves once the server answers
   * so, with when the new records appeared at the earliest (`process.hrtime` in ms): the moment the
   * last query that still got the old answer was sent (or the reload was asked, if the first query
   * got the new one). Queries go back to back, so that moment is within one query of the change.
   */
  async set(name: string, addresses: string[]): Promise<number> {
    this.#records.set(name, addresses);
    const lines = [...this.#records].flatMap(([n, list]) => list.map((a) => `${a} ${n}`));
    writeFileSync(join(this.#dir, 'hosts'), `${lines.join('\n')}\n`);
    const asked = hrMs();
    let notYet = asked;
    this.#process.kill('SIGHUP');
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([this.server]);
    const want = [...addresses].sort().join(',');
    for (;;) {
      const sent = hrMs();
      const got = await resolver.resolve4(name).then((list) => list.sort().join(','), () => '');
      if (got === want) return notYet;
      notYet = sent;
      if (hrMs() - asked > 10_000) throw new Error(`dnsmasq still answers ${got} for ${name}, not ${want}`);
    }
  }

  /** SIGSTOP: queries go unanswered (they time out), as with a server that is down. */
  pause(): void {
    this.#process.kill('SIGSTOP');
  }

  resume(): void {
    this.#process.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      const exited = new Promise((resolve) => this.#process.once('exit', resolve));
      this.#process.kill('SIGCONT');
      this.#process.kill('SIGKILL');
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
