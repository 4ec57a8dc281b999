/**
 * What makes one floor faster than another: setups between the bare floor and the floor as it was
 * before issue 22, one difference each, timed side by side (bench/README.md, *The floor*).
 *
 * A setup is a Node client and a Python serve loop (bench/python/floor_variants.py), `CLIENT:LOOP`:
 *
 *   bytes     sends the no-op call's envelope made once; checks the reply's bytes
 *   msgpackr  encodes each call with msgpackr (its id counting up), decodes the reply, checks it
 *             (what the old floor's client did)
 *   LOOP      bare, numpy, rcvmore, getrcvmore, msgpack, old (see floor_variants.py)
 *
 *   npx tsx bench/floor-split.ts [--trials=5] [--calls=2000] [--blocks=40] [--block=250]
 *                                [--setups=bytes:bare,bytes:numpy,bytes:rcvmore,bytes:msgpack,msgpackr:bare,msgpackr:old]
 *
 * Each setup has 2 Python processes and 2 sockets. In each trial: latency, one call of each
 * setup in turn (`calls` rounds, on its first socket), p50; throughput, `blocks` rounds in which
 * each setup in turn (the order rotating) makes `block` calls on its 2 sockets in lockstep, with
 * the CPU time of this process and of the setup's 2 Python processes over its blocks. Every
 * figure is the median over trials, with its ratio to the first setup's taken within each trial.
 */
import { Packr, type Options } from 'msgpackr';
import { Request } from 'zeromq';
import { BenchContext, exited, firstLine } from './lib/context.js';
import { ownCpuSeconds, processCpuSeconds } from './lib/cpu-time.js';
import { percentile, summarize, nowMs } from './lib/stats.js';
import { interleavedLatencies, latencies } from './lib/timing.js';

const packr = new Packr({ useRecords: false, int64AsType: 'auto' as Options['int64AsType'], encodeUndefinedAsNil: true });
const REQUEST = packr.pack(['call', 1, 'functions', 'noop', [1], null]);
const REPLY = Buffer.from([0x93, 0xa2, 0x6f, 0x6b, 0x01, 0x01]);
const CLIENTS = ['bytes', 'msgpackr'] as const;
const LOOPS = ['bare', 'numpy', 'rcvmore', 'getrcvmore', 'msgpack', 'old'] as const;
type ClientKind = (typeof CLIENTS)[number];

function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
}

function positive(name: string, fallback: number): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer`);
  return value;
}

interface Endpoint {
  call(): Promise<void>;
  pid: number;
  stop(): Promise<void>;
}

async function startEndpoint(ctx: BenchContext, client: ClientKind, loop: string): Promise<Endpoint> {
  const endpoint = ctx.endpoint();
  const child = ctx.spawnPython('floor_variants.py', ['--endpoint', endpoint, '--loop', loop]);
  await firstLine(child, 'floor_variants.py');
  const socket = new Request({ linger: 0 });
  socket.connect(endpoint);
  let id = 0;
  const call = client === 'bytes'
    ? async () => {
      await socket.send(REQUEST);
      const [head] = await socket.receive();
      if (head === undefined || !head.equals(REPLY)) throw new Error(`${loop}: unexpected reply ${head?.toString('hex')}`);
    }
    : async () => {
      await socket.send(packr.pack(['call', ++id, 'functions', 'noop', [1], null]));
      const [head] = await socket.receive();
      const reply = packr.unpack(head!) as [string, number, unknown];
      // A bare loop answers id 1 whatever was asked; the value is what every loop sends back.
      if (reply[0] !== 'ok' || reply[2] !== 1) throw new Error(`${loop}: unexpected reply ${JSON.stringify(reply)}`);
    };
  return {
    call,
    pid: child.pid!,
    stop: async () => {
      await socket.send(Buffer.from('stop'));
      await socket.receive();
      socket.close();
      await exited(child);
    },
  };
}

interface Setup {
  name: string;
  endpoints: Endpoint[];
  p50: number[];
  rate: number[];
  nodeCpu: number[];
  pythonCpu: number[];
}

async function lockstep(endpoints: readonly Endpoint[], total: number): Promise<number> {
  let issued = 0;
  const t0 = nowMs();
  await Promise.all(endpoints.map(async (e) => {
    while (issued < total) {
      issued++;
      await e.call();
    }
  }));
  return nowMs() - t0;
}

async function main(): Promise<void> {
  const trials = positive('trials', 5), calls = positive('calls', 2000), blocks = positive('blocks', 40), block = positive('block', 250);
  const names = option('setups', 'bytes:bare,bytes:numpy,bytes:rcvmore,bytes:msgpack,msgpackr:bare,msgpackr:old').split(',').filter(Boolean);
  for (const name of names) {
    const [client, loop] = name.split(':');
    if (!CLIENTS.includes(client as ClientKind) || !LOOPS.includes(loop as (typeof LOOPS)[number])) {
      throw new RangeError(`--setups: ${JSON.stringify(name)} is not CLIENT:LOOP (clients ${CLIENTS.join(', ')}; loops ${LOOPS.join(', ')})`);
    }
  }
  const ctx = new BenchContext({ quick: false, trials, metrics: false });
  process.once('exit', () => ctx.killAll());
  const setups: Setup[] = [];
  try {
    for (const name of names) {
      const [client, loop] = name.split(':') as [ClientKind, string];
      setups.push({ name, endpoints: [await startEndpoint(ctx, client, loop), await startEndpoint(ctx, client, loop)], p50: [], rate: [], nodeCpu: [], pythonCpu: [] });
    }
    for (const s of setups) { await latencies(s.endpoints[0]!.call, 300); await lockstep(s.endpoints, 1000); }
    for (let t = 0; t < trials; t++) {
      const order = setups.map((_, i) => setups[(i + t) % setups.length]!);
      const samples = await interleavedLatencies(order.map((s) => s.endpoints[0]!.call), calls);
      order.forEach((s, k) => s.p50.push(percentile(samples[k]!, 0.5) * 1000));
      const ms = new Map<Setup, number>(setups.map((s) => [s, 0]));
      const node = new Map<Setup, number>(setups.map((s) => [s, 0]));
      const python = new Map<Setup, number>(setups.map((s) => [s, 0]));
      for (let b = 0; b < blocks; b++) {
        for (let i = 0; i < setups.length; i++) {
          const s = setups[(i + b) % setups.length]!;
          const n0 = ownCpuSeconds(), p0 = s.endpoints.map((e) => processCpuSeconds(e.pid));
          ms.set(s, ms.get(s)! + await lockstep(s.endpoints, block));
          node.set(s, node.get(s)! + ownCpuSeconds() - n0);
          python.set(s, python.get(s)! + s.endpoints.reduce((sum, e, k) => sum + processCpuSeconds(e.pid) - p0[k]!, 0));
        }
      }
      for (const s of setups) {
        const total = blocks * block;
        s.rate.push((total * 1000) / ms.get(s)!);
        s.nodeCpu.push((node.get(s)! / total) * 1e6);
        s.pythonCpu.push((python.get(s)! / total) * 1e6);
      }
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    const base = setups[0]!;
    const n = (x: number) => (x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 100 ? 0 : 1));
    const fig = (v: number[]) => { const s = summarize(v); return `${n(s.median)} (${n(s.min)}–${n(s.max)})`; };
    const ratio = (v: number[], b: number[]) => { const s = summarize(v.map((x, i) => x / b[i]!)); return `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`; };
    console.log(`| setup | p50 µs | p50 × ${base.name} | calls/s, 2 sockets | × ${base.name} | CPU µs/call: Node | Python |\n|---|---:|---:|---:|---:|---:|---:|`);
    for (const s of setups) {
      console.log(`| ${s.name} | ${fig(s.p50)} | ${ratio(s.p50, base.p50)} | ${fig(s.rate)} | ${ratio(s.rate, base.rate)} | ${fig(s.nodeCpu)} | ${fig(s.pythonCpu)} |`);
    }
  } finally {
    for (const s of setups) for (const e of s.endpoints) await e.stop().catch(() => undefined);
    await ctx.cleanup();
  }
}

await main();
