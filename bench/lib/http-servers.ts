/**
 * The three prediction services the `service` family compares, each started the way it would be
 * deployed, on a loopback port of its own, serving the same iris model behind `POST /predict`
 * with 2 Python processes:
 *
 * - `piton`: examples/http-service as it is, compiled to JavaScript as a deployment runs it
 *   (example-build.ts: `node index.js`, no tsx), its default pool of 2, with the benchmark's Python
 *   environment as `PITON_PYTHON`;
 * - `flask`: gunicorn with 2 sync workers and `--preload` (the app imported once, then forked, as
 *   the pool's fork server does), bench/python/service/flask_app.py;
 * - `fastapi`: uvicorn with 2 workers (uvloop and httptools, as `uvicorn[standard]` installs them),
 *   bench/python/service/fastapi_app.py.
 *
 * A service is watched through what it says: its Python workers' pids once each is ready to serve
 * (the pool's `interpreter replaced` log line, or the `ready <pid>` line the Python apps write),
 * so that the fault round can kill a ready worker and tell when a replacement is serving.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { exited, ROOT, type BenchContext, type Stoppable } from './context.js';
import { httpRequest } from './http.js';
import { processStartTime, stillRuns } from './internals.js';
import { buildServiceExample } from './example-build.js';
import { cmdlineOf, commOf, parentOf, processTree, rollup, uniquePageBytes } from './procfs.js';
import { SERVICE_PY_DIR, type ServiceEnvironment } from './service-env.js';
import { nowMs } from './stats.js';

export type ServerKind = 'piton' | 'flask' | 'fastapi';

export interface ServerSpec {
  kind: ServerKind;
  /** How the table names it. */
  label: string;
  /** Whether it keeps a connection open across requests (autocannon mis-times servers that close every one). */
  keepAlive: boolean;
}

export const SERVERS: Record<ServerKind, ServerSpec> = {
  piton: { kind: 'piton', label: 'this project (examples/http-service, pool of 2)', keepAlive: true },
  flask: { kind: 'flask', label: 'gunicorn+Flask (2 sync workers, --preload)', keepAlive: false },
  fastapi: { kind: 'fastapi', label: 'uvicorn+FastAPI (2 workers)', keepAlive: true },
};

/** Python processes serving each service. */
export const WORKERS = 2;

/** Processes of a service's tree that are not the service: tsx's esbuild, which a deployment of compiled JavaScript does not run. */
const NOT_THE_SERVICE = new Set(['esbuild']);

/** A free loopback port (taken from the kernel, then released for the server to bind). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function command(kind: ServerKind, env: ServiceEnvironment, port: number): { file: string; args: string[]; cwd: string; vars: NodeJS.ProcessEnv } {
  const bin = (name: string) => join(env.venv, 'bin', name);
  switch (kind) {
    case 'piton':
      return {
        file: process.execPath,
        args: [buildServiceExample()],
        cwd: ROOT,
        vars: { PORT: String(port), HOST: '127.0.0.1', PITON_PYTHON: env.python },
      };
    case 'flask':
      return {
        file: bin('gunicorn'),
        args: ['--workers', String(WORKERS), '--worker-class', 'sync', '--preload', '--no-control-socket', '--bind', `127.0.0.1:${port}`, '--config', 'gunicorn_conf.py', 'flask_app:app'],
        cwd: SERVICE_PY_DIR,
        vars: {},
      };
    case 'fastapi':
      return {
        file: bin('uvicorn'),
        args: ['fastapi_app:app', '--workers', String(WORKERS), '--host', '127.0.0.1', '--port', String(port), '--no-access-log', '--log-level', 'warning'],
        cwd: SERVICE_PY_DIR,
        vars: {},
      };
  }
}

/** What a process is to its service, for the per-process breakdown of its memory. */
export type ProcessRole = 'Node' | 'fork server' | 'interpreter' | 'spare' | 'guard' | 'master' | 'supervisor' | 'worker' | 'other';

export interface ProcessShare {
  pid: number;
  role: ProcessRole;
  /** PSS and private memory, in bytes (procfs.ts: rollup). */
  pss: number;
  private: number;
}

export interface Memory {
  /** PSS of every process of the service, in bytes. */
  bytes: number;
  processes: number;
  /** PSS of the processes not counted (see NOT_THE_SERVICE). */
  excludedBytes: number;
  /** Each process counted, with its role. */
  byProcess: ProcessShare[];
  /** Each physical page of the counted processes once, shared libraries whole (procfs.ts: uniquePageBytes); undefined when the kernel hides page frames. */
  uniqueBytes: number | undefined;
}

export class HttpService implements Stoppable {
  readonly spec: ServerSpec;
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  /** From spawn to the first 200 answer to `POST /predict`. */
  coldStartMs = Number.NaN;
  readonly #child: ChildProcess;
  /** Workers known to be ready to serve, with when they were seen ready (ms, nowMs clock). */
  readonly #ready = new Map<number, number>();
  readonly #killed = new Set<number>();
  /** Every process seen in the service's tree (pid → start time): what is killed at the end if it is still there. */
  readonly #seen = new Map<number, string>();
  readonly #log: string[] = [];
  readonly #forget: () => void;

  private constructor(ctx: BenchContext, spec: ServerSpec, base: string, child: ChildProcess) {
    this.spec = spec;
    this.base = base;
    this.#child = child;
    this.#forget = ctx.atKill(() => this.#killLeftovers());
    createInterface({ input: child.stderr! }).on('line', (line) => this.#onLine(line));
    child.stdout!.resume();
  }

  /** Starts `kind` and resolves once it has answered `checkBody` and all its workers are ready. */
  static async start(ctx: BenchContext, kind: ServerKind, env: ServiceEnvironment, checkBody: string): Promise<HttpService> {
    const port = await freePort();
    const { file, args, cwd, vars } = command(kind, env, port);
    const t0 = nowMs();
    const child = ctx.spawn(file, args, { cwd, env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
    const service = new HttpService(ctx, SERVERS[kind], `http://127.0.0.1:${port}`, child);
    try {
      await service.#firstAnswer(checkBody, t0);
      if (kind === 'piton') await service.#readPoolWorkers();
      await service.untilFullStrength(120_000);
    } catch (error) {
      await service.stop();
      throw error;
    }
    return ctx.own(service);
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** The last lines the service wrote on stderr, for error messages. */
  get logTail(): string {
    return this.#log.slice(-15).join('\n');
  }

  #onLine(line: string): void {
    this.#log.push(line);
    if (this.#log.length > 200) this.#log.splice(0, 100);
    const python = /^ready (\d+)$/.exec(line);
    if (python) {
      this.#ready.set(Number(python[1]), nowMs());
      return;
    }
    if (this.spec.kind === 'piton' && line.includes('"interpreter replaced"')) {
      let pid: unknown;
      try {
        ({ pid } = JSON.parse(line) as { pid?: unknown });
      } catch {
        return; // not one of the example's JSON log lines
      }
      if (typeof pid === 'number') this.#ready.set(pid, nowMs());
    }
  }

  async #firstAnswer(body: string, t0: number): Promise<void> {
    const deadline = t0 + 120_000;
    for (;;) {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`${this.spec.kind} exited (${this.#child.exitCode ?? this.#child.signalCode}) before answering:\n${this.logTail}`);
      }
      const reply = await httpRequest(`${this.base}/predict`, 'POST', body, 10_000).catch(() => undefined);
      if (reply?.status === 200) {
        this.coldStartMs = nowMs() - t0;
        return;
      }
      if (nowMs() > deadline) throw new Error(`${this.spec.kind}: no answer within 120 s:\n${this.logTail}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The pool's interpreters, from the example's supervision tree (their replacements are logged). */
  async #readPoolWorkers(): Promise<void> {
    interface Node { id?: string; info?: { pid?: number }; children: Node[] }
    const deadline = nowMs() + 120_000;
    while ((await httpRequest(`${this.base}/readyz`, 'GET')).status !== 200) {
      if (nowMs() > deadline) throw new Error(`piton: not ready within 120 s:\n${this.logTail}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const tree = JSON.parse((await httpRequest(`${this.base}/debug/tree`, 'GET')).body) as { children: Node[] };
    const all = (nodes: readonly Node[]): Node[] => nodes.flatMap((n) => [n, ...all(n.children)]);
    for (const node of all(tree.children)) {
      if (node.id?.startsWith('python-') && typeof node.info?.pid === 'number') this.#ready.set(node.info.pid, nowMs());
    }
  }

  /** Ready workers still running, the longest-ready first. */
  readyWorkers(): number[] {
    return [...this.#ready.entries()]
      .filter(([pid]) => !this.#killed.has(pid) && stillRuns(pid))
      .sort((a, b) => a[1] - b[1])
      .map(([pid]) => pid);
  }

  /** SIGKILL of one of the service's workers. */
  kill(pid: number): void {
    this.#see(pid);
    this.#killed.add(pid);
    process.kill(pid, 'SIGKILL');
  }

  /** Resolves when all the workers are ready again, with when (nowMs clock); rejects after `timeoutMs`. */
  async untilFullStrength(timeoutMs: number): Promise<number> {
    const deadline = nowMs() + timeoutMs;
    for (;;) {
      if (this.readyWorkers().length >= WORKERS) return nowMs();
      if (nowMs() > deadline) throw new Error(`${this.spec.kind}: not back to ${WORKERS} ready workers within ${timeoutMs} ms:\n${this.logTail}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** PSS of every process of the service, process by process, and the pages they hold together. */
  memory(): Memory {
    let bytes = 0, excludedBytes = 0;
    const byProcess: ProcessShare[] = [];
    for (const pid of processTree(this.pid)) {
      this.#see(pid);
      const { pss, private: own } = rollup(pid);
      if (NOT_THE_SERVICE.has(commOf(pid) ?? '')) excludedBytes += pss;
      else {
        bytes += pss;
        byProcess.push({ pid, role: this.#role(pid), pss, private: own });
      }
    }
    return { bytes, processes: byProcess.length, excludedBytes, byProcess, uniqueBytes: uniquePageBytes(byProcess.map((p) => p.pid))?.bytes };
  }

  #role(pid: number): ProcessRole {
    const root = ({ piton: 'Node', flask: 'master', fastapi: 'supervisor' } as const)[this.spec.kind];
    if (pid === this.pid) return root;
    if (commOf(pid) === 'piton-guard') return 'guard';
    if (this.spec.kind !== 'piton') return this.#ready.has(pid) ? 'worker' : 'other';
    if (cmdlineOf(pid)?.includes('piton.forkserver') && parentOf(pid) === this.pid) return 'fork server';
    if (this.#ready.has(pid)) return 'interpreter';
    const parent = parentOf(pid);
    return parent !== undefined && parentOf(parent) === this.pid ? 'spare' : 'other';
  }

  /** SIGTERM (each of the three stops gracefully on it), then SIGKILL of whatever of its tree is left. */
  async stop(): Promise<void> {
    for (const pid of processTree(this.pid)) this.#see(pid);
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 20_000);
      await exited(this.#child);
      clearTimeout(timer);
    }
    // Workers exit with their parent; give them a moment, then make sure.
    const deadline = nowMs() + 5_000;
    while (this.#leftovers().length > 0 && nowMs() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.#killLeftovers();
    this.#forget();
  }

  #see(pid: number): void {
    const started = processStartTime(pid);
    if (started !== undefined) this.#seen.set(pid, started);
  }

  /** Processes of the service still running (the same process: same pid and start time). */
  #leftovers(): number[] {
    return [...this.#seen].filter(([pid, started]) => stillRuns(pid, started)).map(([pid]) => pid);
  }

  #killLeftovers(): void {
    for (const pid of this.#leftovers()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}
