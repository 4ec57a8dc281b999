/**
 * HTTP load for the service benchmark: wrk and autocannon, each run as its own process against
 * `POST /predict` with a fixed JSON body for a fixed time and number of connections, read back
 * into one shape.
 *
 * The two count differently, which is why the family uses both: autocannon (9.x) times a request
 * from when it was written on a connection it keeps, and so mis-times a server that closes every
 * connection after its answer (gunicorn's sync workers), and a connection that the server drops
 * without an answer is not counted as an error; wrk reconnects and times such servers right, and
 * counts a dropped connection as a read error. So wrk's figures are the ones every server is
 * compared on, and autocannon's are a cross-check on the servers that keep connections open.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR, ROOT, type BenchContext } from './context.js';

export type LoadTool = 'wrk' | 'autocannon';

export interface LoadSpec {
  url: string;
  /** A file holding the JSON body. */
  bodyFile: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  tool: LoadTool;
  /** 2xx answers per second. */
  rate: number;
  /** Requests answered 2xx. */
  ok: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 2xx. */
  non2xx: number;
  /** Requests that got no answer: connections dropped or refused, timeouts (autocannon: its errors). */
  socketErrors: number;
}

function collect(ctx: BenchContext, file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = ctx.spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${file} ${args.join(' ')} exited (${code ?? signal}):\n${err.slice(-2000)}`));
    });
  });
}

/** The last line of `output` that parses as a JSON object. */
function lastJson(output: string, what: string): Record<string, unknown> {
  for (const line of output.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // not this line
    }
  }
  throw new Error(`${what}: no JSON result in its output:\n${output.slice(-2000)}`);
}

const num = (record: Record<string, unknown>, key: string): number => {
  const value = record[key];
  if (typeof value !== 'number') throw new Error(`load result: ${key} is ${JSON.stringify(value)}, not a number`);
  return value;
};

/** wrk with one thread (enough for these rates, and the least CPU taken from the servers). */
export async function runWrk(ctx: BenchContext, wrk: string, spec: LoadSpec): Promise<LoadResult> {
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--timeout', '10s', '-s', join(BENCH_DIR, 'lib', 'wrk-post.lua'), spec.url];
  const r = lastJson(await collect(ctx, wrk, args, { ...process.env, WRK_BODY_FILE: spec.bodyFile }), 'wrk');
  const status = num(r, 'status');
  const ok = num(r, 'requests') - status;
  return {
    tool: 'wrk',
    rate: ok / (num(r, 'duration_us') / 1e6),
    ok,
    p50Ms: num(r, 'p50_us') / 1000,
    p99Ms: num(r, 'p99_us') / 1000,
    non2xx: status,
    socketErrors: num(r, 'connect') + num(r, 'read') + num(r, 'write') + num(r, 'timeout'),
  };
}

/** autocannon 9 from the project's devDependencies, its JSON result. */
export async function runAutocannon(ctx: BenchContext, spec: LoadSpec): Promise<LoadResult> {
  const cli = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
  const args = [
    cli, '--json', '--connections', String(spec.connections), '--duration', String(spec.seconds), '--timeout', '10',
    '--method', 'POST', '--headers', 'content-type=application/json', '--input', spec.bodyFile, spec.url,
  ];
  const r = lastJson(await collect(ctx, process.execPath, args, process.env), 'autocannon');
  const latency = r.latency as Record<string, unknown>;
  const ok = num(r, '2xx');
  return {
    tool: 'autocannon',
    rate: ok / num(r, 'duration'),
    ok,
    p50Ms: num(latency, 'p50'),
    p99Ms: num(latency, 'p99'),
    non2xx: num(r, 'non2xx'),
    socketErrors: num(r, 'errors'), // timeouts included
  };
}
