/**
 * DataFrames across the wire (issue 21): a 1M-row DataFrame of 8 columns (4 numeric, 2 strings,
 * 1 bool, 1 timestamp; bench/python/tables_bench.py) from Python to Node, and a 1M × 4 numeric
 * apache-arrow Table from Node to Python, against the floor of sending the same IPC bytes as a
 * raw frame over bare sockets, and against what users write today. In each trial, the setups take
 * turns call by call (5 calls each, 3 with --quick; the trial's figure is each one's median), in
 * an order that alternates from trial to trial:
 *
 * - floor, Python → Node: a bare pyzmq REP socket answers with the IPC stream of the frame,
 *   written once at its start, as a raw second frame; Node takes the frame and reads nothing;
 * - `pool.call('tables_bench', 'frame')`: pandas → Arrow → IPC in the worker, a `Table` in Node;
 * - `pool.call('tables_bench', 'table')`: the same frame already a pyarrow table (transport alone);
 * - afterwards, on an interpreter of their own, `df.to_dict('records')` through the pool (a Python
 *   dict per row, MessagePack, a JS object per row) and `df.to_json(orient='records')` +
 *   `JSON.parse`, each beside a DataFrame call (3 trials, 1 with --quick: each takes seconds);
 * - floor, Node → Python: the table's IPC stream (made once) as a raw frame to the bare socket;
 * - `pool.call('tables_bench', 'rows_of', [table])`: the IPC stream written at call(), read in Python.
 *
 * The memory row: Node's heap + external memory after a forced GC, before the call and once its
 * 1M-row Table has arrived (held), against the IPC stream's size: a second copy of the columns
 * would double it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Request } from 'zeromq';
import { exited, firstLine, type BenchContext, type Stoppable } from './lib/context.js';
import { startPool } from './lib/pool.js';
import { FamilySkipped, ratioTo, type Row } from './lib/report.js';
import type { PythonPool } from '@piton/python-bridge';
import type { Table } from 'apache-arrow';
import { nowMs } from './lib/stats.js';

const ROWS = 1_000_000;

/** The floor's client: a bare zeromq.js Request socket to tables_bench.py run as a script. */
class TablesFloor implements Stoppable {
  private constructor(
    readonly socket: Request,
    readonly child: ReturnType<BenchContext['spawnPython']>,
    /** The IPC stream's size, as the floor wrote it (the bytes the pool sends for `frame()`). */
    readonly ipcBytes: number,
  ) {}

  static async start(ctx: BenchContext): Promise<TablesFloor> {
    const endpoint = ctx.endpoint();
    const child = ctx.spawnPython('tables_bench.py', ['--endpoint', endpoint]);
    const ready = await firstLine(child, 'tables_bench.py', 300_000);
    const socket = new Request({ linger: 0 });
    socket.connect(endpoint);
    return ctx.own(new TablesFloor(socket, child, Number(ready.split(' ')[1])));
  }

  /** Python → Node: the IPC stream as a raw frame; resolves with its length. */
  async get(): Promise<number> {
    await this.socket.send('get');
    const [, stream] = await this.socket.receive();
    return stream!.length;
  }

  /** Node → Python: `stream` as a raw frame; resolves with the length Python received. */
  async put(stream: Buffer): Promise<number> {
    await this.socket.send([Buffer.from('put'), stream]);
    const [length] = await this.socket.receive();
    return Number(length!.toString());
  }

  async stop(): Promise<void> {
    if (this.socket.closed) return;
    try {
      await this.socket.send('stop');
      await this.socket.receive();
    } catch {
      this.child.kill('SIGKILL');
    }
    this.socket.close();
    await exited(this.child);
  }
}

function forcedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Milliseconds of `run()`, which must return the row count it received. */
async function timed(run: () => Promise<number>, what: string): Promise<number> {
  const t0 = nowMs();
  const rows = await run();
  const ms = nowMs() - t0;
  if (rows !== ROWS) throw new Error(`${what}: ${rows} rows arrived, not ${ROWS}`);
  return ms;
}

export async function runTables(ctx: BenchContext): Promise<Row[]> {
  let arrow: typeof import('apache-arrow');
  try {
    arrow = await import('apache-arrow');
  } catch {
    throw new FamilySkipped('apache-arrow is not installed (npm install)');
  }
  const probe = ctx.spawn(ctx.python, ['-c', 'import pandas, pyarrow']);
  await exited(probe);
  if (probe.exitCode !== 0) throw new FamilySkipped('pandas and pyarrow are not installed in the benchmark Python (npm install)');

  const floor = await TablesFloor.start(ctx);
  const pool = await startPool(ctx, { size: 1, preload: ['tables_bench'], startTimeout: 300_000 });
  const gc = forcedGc();

  const viaFloor = () => floor.get().then((n) => (n === floor.ipcBytes ? ROWS : -1));
  const frameOf = (p: PythonPool) => () => p.call<Table>('tables_bench', 'frame').then((t) => t.numRows);
  const viaFrame = frameOf(pool);
  const viaTable = () => pool.call<Table>('tables_bench', 'table').then((t) => t.numRows);

  // Node → Python: 1M × 4 numeric columns, and its IPC stream made once for the floor.
  const toPython = arrow.tableFromArrays({
    id: BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i)),
    price: Float64Array.from({ length: ROWS }, (_, i) => (i % 9973) * 0.01),
    qty: Int32Array.from({ length: ROWS }, (_, i) => i % 1000),
    score: Float32Array.from({ length: ROWS }, (_, i) => (i % 101) / 100),
  });
  const toPythonIpc = Buffer.from(arrow.tableToIPC(toPython, 'stream'));
  const putFloor = () => floor.put(toPythonIpc).then((n) => (n === toPythonIpc.length ? ROWS : -1));
  const putPool = () => pool.call<number>('tables_bench', 'rows_of', [toPython]);

  // Warm-up: pandas' and pyarrow's first conversions, apache-arrow's first load, the JIT, reused memory.
  for (const run of [viaFloor, viaFrame, viaTable, putFloor, putPool]) {
    for (let i = 0; i < 3; i++) await timed(run, 'warm-up');
  }

  // Each trial's figure is the median of CALLS calls, the setups taking turns call by call.
  const CALLS = ctx.settings.quick ? 3 : 5;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const f: number[] = [], df: number[] = [], tb: number[] = [], pf: number[] = [], pp: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    const setups: Array<[number[], () => Promise<number>, string]> = [
      [f, viaFloor, 'floor'],
      [df, viaFrame, 'pool, DataFrame'],
      [tb, viaTable, 'pool, pyarrow Table'],
      [pf, putFloor, 'floor, Node → Python'],
      [pp, putPool, 'pool, Node → Python'],
    ];
    if (trial % 2 === 1) setups.reverse();
    const times = setups.map(() => [] as number[]);
    for (let call = 0; call < CALLS; call++) {
      for (let i = 0; i < setups.length; i++) times[i]!.push(await timed(setups[i]![1], setups[i]![2]));
    }
    setups.forEach(([samples], i) => samples.push(median(times[i]!)));
  }

  // Memory: heap + external growth while the 1M-row Table is held, against the IPC bytes.
  const growth: number[] = [];
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    gc();
    gc();
    const before = process.memoryUsage();
    const table = await pool.call<Table>('tables_bench', 'frame');
    const after = process.memoryUsage();
    if (table.numRows !== ROWS) throw new Error('the memory trial got a short table');
    growth.push((after.heapUsed + after.external - before.heapUsed - before.external) / floor.ipcBytes);
  }
  await ctx.release(pool);

  // What users write without tables: seconds per call, so fewer trials, on an interpreter of their
  // own (a million dicts leave the heap of the one that made them larger), each beside a DataFrame
  // call on the same interpreter in the same trial.
  const other = await startPool(ctx, { size: 1, preload: ['tables_bench'], startTimeout: 300_000 });
  const viaRecords = () => other.call<unknown[]>('tables_bench', 'records').then((r) => r.length);
  const viaJson = () => other.call<string>('tables_bench', 'json').then((text) => (JSON.parse(text) as unknown[]).length);
  const otherFrame = frameOf(other);
  for (let i = 0; i < 3; i++) await timed(otherFrame, 'warm-up');
  const rec: number[] = [], js: number[] = [], recBase: number[] = [], jsBase: number[] = [];
  const slowTrials = ctx.settings.quick ? 1 : Math.min(3, ctx.settings.trials);
  for (let trial = 0; trial < slowTrials; trial++) {
    const steps: Array<() => Promise<void>> = [
      async () => {
        recBase.push(await timed(otherFrame, 'pool, DataFrame'));
        rec.push(await timed(viaRecords, "to_dict('records')"));
      },
      async () => {
        jsBase.push(await timed(otherFrame, 'pool, DataFrame'));
        js.push(await timed(viaJson, 'to_json + JSON.parse'));
      },
    ];
    if (trial % 2 === 1) steps.reverse();
    for (const step of steps) {
      await step();
      gc();
    }
  }
  await ctx.release(other);
  await ctx.release(floor);

  const mb = (floor.ipcBytes / 1e6).toFixed(1);
  const out = `1M rows × 8 columns, Python → Node (IPC stream ${mb} MB)`;
  const back = `1M rows × 4 numeric columns, Node → Python (IPC stream ${(toPythonIpc.length / 1e6).toFixed(1)} MB)`;
  const inverse = (label: string, xs: number[], base: number[]) => ratioTo(label, base, xs); // rate ratio: base time / time
  return [
    { benchmark: out, figure: 'floor: the IPC bytes as a raw frame, bare sockets', unit: 'ms', samples: f },
    {
      benchmark: out,
      figure: 'pool of 1, a pandas DataFrame returned (→ Table)',
      unit: 'ms',
      samples: df,
      ratio: inverse('× floor rate', df, f),
      target: { text: '≥ 0.7× floor rate', on: 'ratio', met: (r) => r >= 0.7 },
    },
    { benchmark: out, figure: 'pool of 1, a pyarrow Table returned (→ Table)', unit: 'ms', samples: tb, ratio: inverse('× floor rate', tb, f) },
    {
      benchmark: out,
      figure: "pool of 1, df.to_dict('records') returned (→ objects)",
      unit: 'ms',
      samples: rec,
      ratio: ratioTo('× DataFrame time', rec, recBase),
      target: { text: '≥ 10× DataFrame time', on: 'ratio', met: (r) => r >= 10 },
    },
    {
      benchmark: out,
      figure: "pool of 1, df.to_json(orient='records') returned + JSON.parse",
      unit: 'ms',
      samples: js,
      ratio: ratioTo('× DataFrame time', js, jsBase),
      target: { text: '≥ 10× DataFrame time', on: 'ratio', met: (r) => r >= 10 },
    },
    {
      benchmark: out,
      figure: 'Node heap + external growth holding the Table',
      unit: '× IPC bytes',
      samples: growth,
      target: { text: '≤ 1.3× IPC bytes', on: 'value', met: (v) => v <= 1.3 },
    },
    { benchmark: back, figure: 'floor: the IPC bytes as a raw frame, bare sockets', unit: 'ms', samples: pf },
    {
      benchmark: back,
      figure: 'pool of 1, an apache-arrow Table argument (→ pyarrow.Table)',
      unit: 'ms',
      samples: pp,
      ratio: inverse('× floor rate', pp, pf),
      target: { text: '≥ 0.7× floor rate', on: 'ratio', met: (r) => r >= 0.7 },
    },
  ];
}
