/**
 * Where the pool's no-op latency over the floor goes, layer by layer, in the same trial:
 *
 *   floor     zeromq.js Request  ↔  bare pyzmq REP, bytes made once (bench/python/floor_rep.py)
 *   py:V      zeromq.js Request + msgpackr  ↔  the worker runtime with serve loop V
 *             (bench/python/worker_variant.py; V = current is `python -m piton.worker` as shipped)
 *   pyb:V     the bare floor's client (the same bytes made once, the reply's bytes checked)  ↔
 *             the worker runtime with serve loop V: V = current, or one of worker_variant.py's
 *             cut-down loops (stub, floorloop, timeo), so that the Python side is timed alone
 *   interp    the bridge's Interpreter.call  ↔  the worker runtime (no dispatcher, no pool)
 *   pool      PythonPool.call (facade, dispatcher, interpreter) ↔  the worker runtime
 *
 *   npx tsx bench/latency-split.ts [--trials=7] [--calls=3000] [--py=current,block] [--pyb=current,stub] [--layers=interp,pool]
 *                                  [--interleave] [--pin-main]
 *
 * Each trial runs every client once for `calls` sequential no-op calls, in a rotated order, and
 * reports p50 (with --interleave, one call of each client in turn, so that all see the same load); the figures are medians over trials of p50 and of its ratio to the floor's p50,
 * and, for a client with a Python process of its own (floor, py:, pyb:), that process's CPU per call (all its threads).
 */
import { execFileSync } from 'node:child_process';
import { Request } from 'zeromq';
import { BenchContext, PY_DIR } from './lib/context.js';
import { processCpuSeconds } from './lib/cpu-time.js';
import { FloorClient, packr, REPLY } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { percentile, summarize } from './lib/stats.js';
import { interleavedLatencies, latencies } from './lib/timing.js';

interface Client {
  name: string;
  /** The Python process that answers this client alone, if it has one of its own: its CPU per call is reported. */
  pid?: number;
  call(): Promise<unknown>;
  stop(): Promise<void>;
}

function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
}

/** A bare Request socket with msgpackr talking to the worker runtime with serve loop `variant`. */
async function bareToWorker(ctx: BenchContext, spec: string): Promise<Client> {
  // `name@DIR`: the runtime as found in DIR (e.g. an older checkout's python/src), serve loop as shipped there.
  const [variant, dir] = spec.includes('@') ? [spec.slice(0, spec.indexOf('@')), spec.slice(spec.indexOf('@') + 1)] : [spec, undefined];
  const endpoint = ctx.endpoint();
  const env = dir === undefined ? process.env : { ...process.env, PYTHONPATH: dir };
  const child = ctx.spawnPython('worker_variant.py', [dir === undefined ? variant : 'current', '--endpoint', endpoint, '--path', PY_DIR], { env });
  const socket = new Request({ linger: 0, reconnectInterval: 10 });
  socket.connect(endpoint);
  let id = 0;
  const call = async () => {
    const rid = ++id;
    await socket.send(packr.pack(['call', rid, 'functions', 'noop', [1], null]));
    const [head] = await socket.receive();
    const reply = packr.unpack(head!) as [string, number, unknown];
    if (reply[1] !== rid) throw new Error(`py:${variant}: reply ${reply[1]} to ${rid}`);
    return reply[2];
  };
  return {
    name: `py:${spec.includes('@') ? variant : spec}`,
    pid: child.pid,
    call,
    stop: async () => {
      await socket.send(packr.pack(['stop', ++id]));
      await socket.receive();
      socket.close();
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}

/** The bare floor's client (bytes made once, reply bytes checked) talking to the worker runtime with serve loop `variant`. */
async function bytesToWorker(ctx: BenchContext, spec: string): Promise<Client> {
  // `name@DIR`: serve loop `name` of the runtime found in DIR (e.g. another checkout's python/src).
  const [variant, dir] = spec.includes('@') ? [spec.slice(0, spec.indexOf('@')), spec.slice(spec.indexOf('@') + 1)] : [spec, undefined];
  const endpoint = ctx.endpoint();
  const env = dir === undefined ? process.env : { ...process.env, PYTHONPATH: dir };
  const child = ctx.spawnPython('worker_variant.py', [variant, '--endpoint', endpoint, '--path', PY_DIR], { env });
  const socket = new Request({ linger: 0, reconnectInterval: 10 });
  socket.connect(endpoint);
  // The envelope the floor sends; the runtime answers it with the floor's reply, ["ok", 1, 1].
  const request = packr.pack(['call', 1, 'functions', 'noop', [1], null]);
  return {
    name: `pyb:${spec.includes('@') ? `${variant}@other` : spec}`,
    pid: child.pid,
    call: async () => {
      await socket.send(request);
      const [head] = await socket.receive();
      if (head === undefined || !head.equals(REPLY)) throw new Error(`pyb:${spec}: unexpected reply ${head?.toString('hex')}`);
      return 1;
    },
    stop: async () => {
      await socket.send(packr.pack(['stop', 2]));
      await socket.receive();
      socket.close();
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}

async function interpreterClient(ctx: BenchContext): Promise<Client> {
  const { Interpreter } = await import('../packages/python-bridge/dist/interpreter/interpreter.js');
  const { encodeCallBody } = await import('../packages/python-bridge/dist/wire/encoded-call.js');
  const { createCodec } = await import('../packages/python-bridge/dist/wire/codec.js');
  const interpreter = await Interpreter.start({
    id: 'split', python: ctx.python, path: [PY_DIR], startTimeout: 30_000, maxMessageSize: 256 * 1024 * 1024,
  });
  const codec = createCodec();
  return {
    name: 'interp',
    // Encoded per call, as a pool encodes each call at call().
    call: () => interpreter.run(encodeCallBody(codec, 'functions', 'noop', [1], undefined)),
    stop: async () => { await interpreter.stop(); },
  };
}

async function main(): Promise<void> {
  const trials = Number(option('trials', '7'));
  const calls = Number(option('calls', '3000'));
  const variants = option('py', 'current').split(',').filter(Boolean);
  const bytesVariants = option('pyb', '').split(',').filter(Boolean);
  const interleave = process.argv.includes('--interleave');
  const layers = option('layers', 'interp,pool').split(',').filter(Boolean);
  const ctx = new BenchContext({ quick: false, trials, metrics: false });
  process.once('exit', () => ctx.killAll());
  const clients: Client[] = [];
  try {
    const floor = await FloorClient.start(ctx);
    // Its call rejects unless the reply is the expected bytes; it returns nothing to compare.
    clients.push({ name: 'floor', pid: floor.pid, call: () => floor.call(), stop: () => ctx.release(floor) });
    for (const v of variants) clients.push(await bareToWorker(ctx, v));
    for (const v of bytesVariants) clients.push(await bytesToWorker(ctx, v));
    if (layers.includes('interp')) clients.push(await interpreterClient(ctx));
    if (layers.includes('pool')) {
      const pool = await startPool(ctx, { size: 1 });
      clients.push({ name: 'pool', call: () => pool.call('functions', 'noop', [1]), stop: () => ctx.release(pool) });
    }
    if (process.argv.includes('--pin-main')) {
      // Only the main thread (its tid is the pid), after every thread of this process has started:
      // the machine's fast mode held on purpose (bench/README.md, "The latency's two modes").
      execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    }
    for (const c of clients) {
      if (c.name !== 'floor' && (await c.call()) !== 1) throw new Error(`${c.name}: the no-op did not return its argument`);
      await latencies(c.call, 500);
    }
    const p50 = new Map<string, number[]>(clients.map((c) => [c.name, []]));
    const cpu = new Map<string, number[]>(clients.map((c) => [c.name, []]));
    for (let t = 0; t < trials; t++) {
      const order = clients.map((_, i) => clients[(i + t) % clients.length]!);
      const cpuBefore = clients.map((c) => (c.pid === undefined ? 0 : processCpuSeconds(c.pid)));
      if (interleave) {
        // One call of each client in turn: every client sees the same moments of the machine's load.
        const samples = await interleavedLatencies(order.map((c) => c.call), calls);
        order.forEach((c, k) => p50.get(c.name)!.push(percentile(samples[k]!, 0.5) * 1000));
      } else {
        for (const c of order) p50.get(c.name)!.push(percentile(await latencies(c.call, calls), 0.5) * 1000);
      }
      clients.forEach((c, k) => {
        if (c.pid !== undefined) cpu.get(c.name)!.push(((processCpuSeconds(c.pid) - cpuBefore[k]!) / calls) * 1e6);
      });
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    const floor50 = p50.get('floor')!;
    // Python CPU per call: every thread of the client's own Python process (libzmq's I/O thread
    // included), from /proc/PID/task/TID/schedstat; a sequential client's trial also counts its
    // idle wake-ups (the receive timeout), a few per second.
    console.log(`| client | p50 µs median (min–max) | × floor median (min–max) | Python CPU µs/call median (min–max) |\n|---|---:|---:|---:|`);
    for (const c of clients) {
      const s = summarize(p50.get(c.name)!);
      const r = summarize(p50.get(c.name)!.map((v, i) => v / floor50[i]!));
      const u = cpu.get(c.name)!.length > 0 ? summarize(cpu.get(c.name)!) : undefined;
      const cpuCell = u === undefined ? '' : `${u.median.toFixed(1)} (${u.min.toFixed(1)}–${u.max.toFixed(1)})`;
      console.log(`| ${c.name} | ${s.median.toFixed(1)} (${s.min.toFixed(0)}–${s.max.toFixed(0)}) | ${r.median.toFixed(3)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) | ${cpuCell} |`);
    }
  } finally {
    for (const c of clients) await c.stop().catch(() => undefined);
    await ctx.cleanup();
  }
}

await main();
