/**
 * The prediction service against the Python servers a Node team could run instead: examples/
 * http-service (node:http in front of a pool of 2) against gunicorn+Flask (2 sync workers) and
 * uvicorn+FastAPI (2 workers), all serving the same scikit-learn iris model behind the same
 * `POST /predict`, with 2 Python processes each, on loopback (bench/lib/http-servers.ts).
 *
 * The three start one after another (cold start: spawn → first answer, each with the machine to
 * itself) and run side by side from then on. Each round, for each cell (rows per request ×
 * connections), loads each in turn with wrk, the order rotating by round and cell; the first round
 * also runs autocannon on each, as a cross-check (bench/lib/load.ts says why wrk is the
 * reference). After each round: the PSS of all of each service's processes. Then the fault round,
 * one service at a time: 32 connections for 20 s while a ready Python worker is SIGKILLed every
 * 2 s; requests failed (non-2xx) or lost (no answer), and the time from the last kill until the
 * service has its 2 workers ready again.
 *
 * The example runs as it is (with the benchmark's Python environment), so whatever it does (say,
 * batching predictions) is what is measured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './lib/context.js';
import { httpRequest } from './lib/http.js';
import { HttpService, SERVERS, WORKERS, type Memory, type ProcessRole, type ServerKind } from './lib/http-servers.js';
import { runAutocannon, runWrk, type LoadResult, type LoadSpec } from './lib/load.js';
import { fmt, ratioTo, type Row } from './lib/report.js';
import { nowMs, summarize } from './lib/stats.js';
import { prepareServiceEnvironment, type ServiceEnvironment } from './lib/service-env.js';

const KINDS: readonly ServerKind[] = ['piton', 'flask', 'fastapi'];
const ROWS = [2, 64] as const;
const CONNECTIONS = [8, 64] as const;
/** One iris flower of each class, and the class each server must answer for it. */
const FLOWERS: readonly (readonly [number[], string])[] = [
  [[5.1, 3.5, 1.4, 0.2], 'setosa'],
  [[6.7, 3.0, 5.2, 2.3], 'virginica'],
  [[6.0, 2.7, 4.1, 1.0], 'versicolor'],
];
const FAULT_CONNECTIONS = 32;
const KILL_EVERY_S = 2;

interface Settings {
  rounds: number;
  seconds: number;
  warmSeconds: number;
  faultSeconds: number;
}

interface Cell {
  rows: number;
  connections: number;
}

const CELLS: Cell[] = ROWS.flatMap((rows) => CONNECTIONS.map((connections) => ({ rows, connections })));
const cellKey = (c: Cell) => `${c.rows}x${c.connections}`;

function body(rows: number): string {
  return JSON.stringify({ features: Array.from({ length: rows }, (_, i) => FLOWERS[i % FLOWERS.length]![0]) });
}

/** `items` rotated left by `by`: each server goes first in turn. */
function rotate<T>(items: readonly T[], by: number): T[] {
  return items.map((_, i) => items[(i + by) % items.length]!);
}

/** Every server must give the same, right answer to each body, before anything is timed. */
async function checkAnswers(service: HttpService, bodies: ReadonlyMap<number, string>): Promise<void> {
  for (const [rows, text] of bodies) {
    const reply = await httpRequest(`${service.base}/predict`, 'POST', text);
    const want = Array.from({ length: rows }, (_, i) => FLOWERS[i % FLOWERS.length]![1]);
    const got = reply.status === 200 ? (JSON.parse(reply.body) as { predictions?: unknown }).predictions : undefined;
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`${service.spec.kind}: ${rows} rows answered ${reply.status} ${reply.body.slice(0, 200)}, not the predictions ${JSON.stringify(want.slice(0, 3))}…`);
    }
  }
}

/** How long the fault round waits for a service to be whole again after its last kill. */
const BACK_TIMEOUT_MS = 60_000;

interface FaultResult {
  load: LoadResult;
  kills: number;
  /** From the last kill until all the workers were ready again; undefined if not within BACK_TIMEOUT_MS. */
  backMs: number | undefined;
  /** For each kill, the time until all the workers were ready again, if that came before the next kill. */
  eachBackMs: number[];
  /** Kills after which the service was not whole again before the next kill. */
  notBack: number;
}

/** 32 connections for `seconds` while a ready worker is SIGKILLed every 2 s (the longest-ready one). */
async function faultRound(ctx: BenchContext, env: ServiceEnvironment, service: HttpService, bodyFile: string, seconds: number): Promise<FaultResult> {
  await service.untilFullStrength(60_000);
  const spec: LoadSpec = { url: `${service.base}/predict`, bodyFile, connections: FAULT_CONNECTIONS, seconds };
  const load = runWrk(ctx, env.wrk, spec);
  const t0 = nowMs();
  let kills = 0, lastKill = Number.NaN, notBack = 0;
  const eachBackMs: number[] = [];
  let watching: Promise<void> = Promise.resolve();
  for (let k = 1; k * KILL_EVERY_S < seconds; k++) {
    const wait = t0 + k * KILL_EVERY_S * 1000 - nowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await watching;
    const victim = service.readyWorkers()[0];
    if (victim === undefined) continue; // none ready: this tick has nothing to kill
    service.kill(victim);
    kills++;
    const killed = (lastKill = nowMs());
    // Every kill's time back, not only the last one's: one sample says little of a distribution.
    const untilNextKill = t0 + (k + 1) * KILL_EVERY_S * 1000 - killed - 50;
    watching = service.untilFullStrength(Math.max(untilNextKill, 0)).then(
      (at) => void eachBackMs.push(at - killed),
      () => void notBack++,
    );
  }
  await watching;
  const back = await service.untilFullStrength(BACK_TIMEOUT_MS).catch(() => undefined);
  const result = { load: await load, kills, backMs: back === undefined ? undefined : back - lastKill, eachBackMs, notBack };
  if (back === undefined) ctx.log(`service: ${service.spec.kind} not back to ${WORKERS} ready workers ${BACK_TIMEOUT_MS / 1000} s after its last kill`);
  return result;
}

export async function runService(ctx: BenchContext): Promise<Row[]> {
  const env = prepareServiceEnvironment(ctx);
  const settings: Settings = ctx.settings.quick
    ? { rounds: 1, seconds: 2, warmSeconds: 1, faultSeconds: 10 }
    : { rounds: 3, seconds: 3, warmSeconds: 1, faultSeconds: 20 };
  const dir = mkdtempSync(join(tmpdir(), 'piton-bench-service-'));
  const forgetDir = ctx.atKill(() => rmSync(dir, { recursive: true, force: true }));
  const bodies = new Map<number, string>(ROWS.map((rows) => [rows, body(rows)]));
  const bodyFiles = new Map<number, string>();
  for (const [rows, text] of bodies) {
    const file = join(dir, `body-${rows}.json`);
    writeFileSync(file, text);
    bodyFiles.set(rows, file);
  }

  /** Per server and cell, one result per round (wrk), and autocannon's from the first round. */
  const wrk = new Map<string, LoadResult[]>();
  const autocannon = new Map<string, { ac: LoadResult; wrk: LoadResult }>();
  const cold = new Map<ServerKind, number[]>(KINDS.map((k) => [k, []]));
  const memory = new Map<ServerKind, Memory[]>(KINDS.map((k) => [k, []]));
  const faults = new Map<ServerKind, FaultResult>();
  const services: HttpService[] = [];
  try {
    // Started once, one after another, so that each cold start has the machine to itself.
    for (const kind of KINDS) {
      ctx.log(`service: starting ${kind}`);
      const service = await HttpService.start(ctx, kind, env, bodies.get(2)!);
      services.push(service);
      cold.get(kind)!.push(service.coldStartMs);
      await checkAnswers(service, bodies);
    }
    const byKind = new Map(services.map((s) => [s.spec.kind, s]));
    for (const service of services) {
      await runWrk(ctx, env.wrk, { url: `${service.base}/predict`, bodyFile: bodyFiles.get(2)!, connections: 8, seconds: settings.warmSeconds });
    }
    for (let round = 0; round < settings.rounds; round++) {
      for (const [i, cell] of CELLS.entries()) {
        const order = rotate(KINDS, round + i).map((k) => byKind.get(k)!);
        for (const service of order) {
          const spec: LoadSpec = { url: `${service.base}/predict`, bodyFile: bodyFiles.get(cell.rows)!, connections: cell.connections, seconds: settings.seconds };
          const result = await runWrk(ctx, env.wrk, spec);
          const key = `${service.spec.kind}:${cellKey(cell)}`;
          (wrk.get(key) ?? wrk.set(key, []).get(key)!).push(result);
          if (round === 0) autocannon.set(key, { ac: await runAutocannon(ctx, spec), wrk: result });
        }
        ctx.log(`service: round ${round + 1}: ${cell.rows} rows, ${cell.connections} connections: ${order.map((s) => `${s.spec.kind} ${Math.round(wrk.get(`${s.spec.kind}:${cellKey(cell)}`)!.at(-1)!.rate)}/s`).join(', ')}`);
      }
      for (const service of services) {
        memory.get(service.spec.kind)!.push(service.memory());
      }
    }
    for (const kind of rotate(KINDS, settings.rounds)) {
      ctx.log(`service: fault round: ${kind}`);
      faults.set(kind, await faultRound(ctx, env, byKind.get(kind)!, bodyFiles.get(2)!, settings.faultSeconds));
    }
  } finally {
    for (const service of services) await ctx.release(service);
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  }
  ctx.log(`service: ${Object.entries(env.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return rowsOf(settings, env.versions, wrk, autocannon, cold, memory, faults);
}

function rowsOf(
  settings: Settings,
  versions: Record<string, string>,
  wrk: Map<string, LoadResult[]>,
  autocannon: Map<string, { ac: LoadResult; wrk: LoadResult }>,
  cold: Map<ServerKind, number[]>,
  memory: Map<ServerKind, Memory[]>,
  faults: Map<ServerKind, FaultResult>,
): Row[] {
  const rows: Row[] = [];
  const label = (kind: ServerKind) => SERVERS[kind].label;
  const of = (kind: ServerKind, cell: Cell, pick: (r: LoadResult) => number) => wrk.get(`${kind}:${cellKey(cell)}`)!.map(pick);
  for (const cell of CELLS) {
    const b = `service: ${cell.rows} rows/request, ${cell.connections} connections (wrk ${versions.wrk}, ${settings.seconds} s per run)`;
    const rate = (kind: ServerKind) => of(kind, cell, (r) => r.rate);
    const fastapiRate = rate('fastapi');
    const headline = cell.rows === 2 && cell.connections === 64;
    rows.push({
      benchmark: b, figure: `${label('piton')}: requests/s`, unit: 'req/s', samples: rate('piton'),
      ratio: ratioTo('× uvicorn+FastAPI', rate('piton'), fastapiRate),
      target: headline
        ? { text: '≥ 2× uvicorn+FastAPI', on: 'ratio', met: (r) => r >= 2 }
        : { text: '≥ 1.2× uvicorn+FastAPI', on: 'ratio', met: (r) => r >= 1.2 },
    });
    rows.push({ benchmark: b, figure: `${label('piton')}: requests/s against Flask`, unit: 'req/s', samples: rate('piton'), ratio: ratioTo('× gunicorn+Flask', rate('piton'), rate('flask')) });
    rows.push({ benchmark: b, figure: `${label('flask')}: requests/s`, unit: 'req/s', samples: rate('flask') });
    rows.push({ benchmark: b, figure: `${label('fastapi')}: requests/s`, unit: 'req/s', samples: fastapiRate });
    for (const kind of KINDS) rows.push({ benchmark: b, figure: `${label(kind)}: p50`, unit: 'ms', samples: of(kind, cell, (r) => r.p50Ms) });
    for (const kind of KINDS) {
      const p99 = of(kind, cell, (r) => r.p99Ms);
      const row: Row = { benchmark: b, figure: `${label(kind)}: p99`, unit: 'ms', samples: p99 };
      if (kind === 'piton') {
        row.ratio = ratioTo('× FastAPI p99', p99, of('fastapi', cell, (r) => r.p99Ms));
        if (headline) row.target = { text: '≤ 1× FastAPI p99', on: 'ratio', met: (r) => r <= 1 };
      }
      rows.push(row);
    }
    for (const kind of KINDS) {
      rows.push({ benchmark: b, figure: `${label(kind)}: errors (non-2xx + no answer)`, unit: '', samples: of(kind, cell, (r) => r.non2xx + r.socketErrors) });
    }
    for (const kind of KINDS) {
      const pair = autocannon.get(`${kind}:${cellKey(cell)}`)!;
      const mistimed = SERVERS[kind].keepAlive ? '' : '; mis-timed: the server closes every connection';
      rows.push({
        benchmark: b, figure: `${label(kind)}: requests/s by autocannon ${versions.autocannon}, first round`, unit: 'req/s', samples: [pair.ac.rate],
        ratio: ratioTo('× wrk’s', [pair.ac.rate], [pair.wrk.rate]),
        note: `autocannon p50 ${fmt(pair.ac.p50Ms)} ms, p99 ${fmt(pair.ac.p99Ms)} ms (wrk ${fmt(pair.wrk.p50Ms)}, ${fmt(pair.wrk.p99Ms)})${mistimed}; ${pair.ac.non2xx + pair.ac.socketErrors} errors`,
      });
    }
  }
  const bm = 'service: start-up and memory';
  const v = (...names: string[]) => names.map((n) => `${n} ${versions[n]}`).join(', ');
  const stack: Record<ServerKind, string> = {
    piton: `Node ${process.versions.node}, ${v('scikit-learn', 'numpy')}`,
    flask: v('gunicorn', 'flask', 'scikit-learn'),
    fastapi: v('uvicorn', 'uvloop', 'httptools', 'fastapi', 'pydantic', 'scikit-learn'),
  };
  for (const kind of KINDS) {
    rows.push({ benchmark: bm, figure: `${label(kind)}: cold start, spawn → first answer (one per run)`, unit: 'ms', samples: cold.get(kind)!, note: stack[kind] });
  }
  const mib = (v: number[]) => v.map((x) => x / 2 ** 20);
  const pssOf = (kind: ServerKind) => memory.get(kind)!.map((m) => m.bytes);
  for (const kind of KINDS) {
    const row: Row = { benchmark: bm, figure: `${label(kind)}: PSS of all its processes, after each round`, unit: 'MiB', samples: mib(pssOf(kind)), note: breakdown(memory.get(kind)!) };
    if (kind === 'piton') {
      row.ratio = ratioTo('× gunicorn+Flask', pssOf(kind), pssOf('flask'));
      row.target = { text: '≤ 1.0× gunicorn+Flask', on: 'ratio', met: (r) => r <= 1 };
      const esbuild = median(mib(memory.get(kind)!.map((m) => m.excludedBytes)));
      if (esbuild > 0) row.note += `; not counted: tsx's esbuild process, ${esbuild.toFixed(1)} MiB`;
    }
    rows.push(row);
  }
  // The same processes, each physical page once and shared libraries whole: what each service
  // holds as if it were alone on the machine (PSS splits the `node` binary with every other Node
  // process here, and the Python libraries among the three services).
  const unique = (kind: ServerKind) => memory.get(kind)!.map((m) => m.uniqueBytes).filter((b): b is number => b !== undefined);
  if (KINDS.every((kind) => unique(kind).length === settings.rounds)) {
    for (const kind of KINDS) {
      const row: Row = { benchmark: bm, figure: `${label(kind)}: its processes' pages, each once (as if alone), after each round`, unit: 'MiB', samples: mib(unique(kind)) };
      if (kind === 'piton') row.ratio = ratioTo('× gunicorn+Flask', unique(kind), unique('flask'));
      rows.push(row);
    }
  }
  const bf = `service under faults: ${FAULT_CONNECTIONS} connections, a worker SIGKILLed every ${KILL_EVERY_S} s for ${settings.faultSeconds} s (wrk ${versions.wrk})`;
  for (const kind of KINDS) {
    const f = faults.get(kind)!;
    rows.push({ benchmark: bf, figure: `${label(kind)}: requests/s`, unit: 'req/s', samples: [f.load.rate], note: `${f.kills} kills` });
    rows.push({
      benchmark: bf, figure: `${label(kind)}: requests failed or lost`, unit: '', samples: [f.load.non2xx + f.load.socketErrors],
      note: `${f.load.non2xx} non-2xx, ${f.load.socketErrors} without an answer`,
      ...(kind === 'piton' ? { target: { text: '0', on: 'value' as const, met: (v: number) => v === 0 } } : {}),
    });
    rows.push({
      benchmark: bf, figure: `${label(kind)}: last kill → ${WORKERS} workers ready again`, unit: 'ms', samples: [f.backMs ?? BACK_TIMEOUT_MS],
      ...(f.backMs === undefined
        ? { note: `not back within ${BACK_TIMEOUT_MS / 1000} s` }
        : f.eachBackMs.length === 0 ? { note: `none of its ${f.kills} kills was followed by full strength before the next kill` } : {}),
      ...(kind === 'piton' ? { target: { text: '≤ 100 ms', on: 'value' as const, met: (v: number) => f.backMs !== undefined && v <= 100 } } : {}),
    });
    if (f.eachBackMs.length > 0) {
      rows.push({
        benchmark: bf, figure: `${label(kind)}: each kill → ${WORKERS} workers ready again (median; range over kills)`, unit: 'ms', samples: f.eachBackMs,
        note: `${f.eachBackMs.filter((v) => v <= 100).length} of ${f.kills} kills back within 100 ms` + (f.notBack > 0 ? `; ${f.notBack} not back before the next kill` : ''),
      });
    }
  }
  return rows;
}

const median = (values: readonly number[]): number => summarize(values).median;

/** Per role, the median over rounds of the PSS (and private memory) of the service's processes with that role: `Node 59.5 (52.9 private); …`. */
function breakdown(memories: readonly Memory[]): string {
  const roles: ProcessRole[] = [];
  for (const m of memories) for (const p of m.byProcess) if (!roles.includes(p.role)) roles.push(p.role);
  const parts = roles.map((role) => {
    const of = memories.map((m) => m.byProcess.filter((p) => p.role === role));
    const sum = (pick: (p: { pss: number; private: number }) => number) => median(of.map((ps) => ps.reduce((t, p) => t + pick(p), 0) / 2 ** 20));
    const count = Math.round(median(of.map((ps) => ps.length)));
    return `${count > 1 ? `${count} ${role === 'spare' ? 'spares' : `${role}s`}` : role} ${sum((p) => p.pss).toFixed(1)} (${sum((p) => p.private).toFixed(1)} private)`;
  });
  return `MiB of PSS: ${parts.join('; ')}`;
}
