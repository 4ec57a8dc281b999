/**
 * Where a no-op call's time goes, each layer timed in isolation in the same run:
 * the Node codecs (msgpackr, the bridge's own), the transport alone (the bare floor: zeromq.js ↔
 * libzmq ipc ↔ pyzmq, bytes made once on both sides), the transport with msgpack encoding and
 * decoding on both sides (the floor before issue 22), the Python side's layers
 * (bench/python/profile_layers.py), and the pool of 1. bench/README.md turns these into the breakdown.
 */
import { firstLine, type BenchContext } from './lib/context.js';
import { FloorClient, packr } from './lib/floor.js';
import { startPool } from './lib/pool.js';
import { ratioTo, type Row } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { latencies, timeSync } from './lib/timing.js';

interface PythonLayers {
  msgpack_us: number;
  piton_codec_us: number;
  handler_us: number;
  pyzmq_copy_us: number;
  pyzmq_nocopy_us: number;
  pyzmq_poll_us: number;
}

interface PitonCodec {
  encodeEnvelope(items: readonly unknown[], names: readonly string[]): Buffer[];
  decode(frames: readonly Buffer[]): unknown;
}

async function pitonCodec(): Promise<PitonCodec> {
  const mod = (await import('../packages/python-bridge/dist/wire/codec.js')) as { createCodec(): PitonCodec };
  return mod.createCodec();
}

export async function runProfile(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 600 : 3_000;
  const codec = await pitonCodec();
  const call = ['call', 1, 'functions', 'noop', [1], null];
  const names = ['kind', 'id', 'module', 'function', 'args', 'kwargs'];
  const okMsgpackr = packr.pack(['ok', 1, 1]);
  const okPiton = codec.encodeEnvelope(['ok', 1, 1], ['kind', 'id', 'result']);

  const raw = await FloorClient.start(ctx);
  const floor = await FloorClient.start(ctx, 'msgpack');
  const pool = await startPool(ctx, { size: 1 });
  const ops = {
    raw: () => raw.call(),
    floor: () => floor.callEncoded(1),
    pool: () => pool.call('functions', 'noop', [1]),
  };
  for (const op of Object.values(ops)) await latencies(op, 300);

  const s = { msgpackr: [] as number[], piton: [] as number[], raw: [] as number[], floor: [] as number[], pool: [] as number[] };
  const py: PythonLayers[] = [];
  const minMs = ctx.settings.quick ? 50 : 150;
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    s.msgpackr.push(timeSync(() => { packr.pack(call); packr.unpack(okMsgpackr); }, minMs));
    s.piton.push(timeSync(() => { codec.encodeEnvelope(call, names); codec.decode(okPiton); }, minMs));
    for (const name of ['raw', 'floor', 'pool'] as const) s[name].push(percentile(await latencies(ops[name], calls), 0.5) * 1000);
    py.push(JSON.parse(await firstLine(ctx.spawnPython('profile_layers.py', ctx.settings.quick ? ['--quick'] : []), 'profile_layers.py', 60_000)) as PythonLayers);
  }
  for (const x of [pool, floor, raw]) await ctx.release(x);

  const b = 'profile of a no-op call';
  const pyRow = (key: keyof PythonLayers, figure: string): Row => ({ benchmark: b, figure, unit: 'µs', samples: py.map((p) => p[key]) });
  return [
    { benchmark: b, figure: 'Node: msgpackr encode call + decode reply', unit: 'µs', samples: s.msgpackr },
    { benchmark: b, figure: 'Node: piton codec encode call + decode reply', unit: 'µs', samples: s.piton },
    pyRow('msgpack_us', 'Python: msgpack decode call + encode reply'),
    pyRow('piton_codec_us', 'Python: piton codec decode call + encode reply'),
    pyRow('handler_us', 'Python: piton Handler.handle (codec, checks, dispatch, noop)'),
    pyRow('pyzmq_copy_us', 'Python: pyzmq ipc send + recv(), tiny frame'),
    pyRow('pyzmq_nocopy_us', 'Python: pyzmq ipc send + recv_multipart(copy=False)'),
    pyRow('pyzmq_poll_us', 'Python: pyzmq ipc send + poll(socket, pipe) + recv()'),
    { benchmark: b, figure: 'round trip p50: transport only (the bare floor: bytes made once both sides)', unit: 'µs', samples: s.raw },
    { benchmark: b, figure: 'round trip p50: transport + msgpack both sides (the floor before issue 22)', unit: 'µs', samples: s.floor, ratio: ratioTo('× transport', s.floor, s.raw) },
    { benchmark: b, figure: 'round trip p50: pool of 1', unit: 'µs', samples: s.pool, ratio: ratioTo('× transport', s.pool, s.raw) },
    { benchmark: b, figure: 'pool p50 − bare floor p50 (the framework\'s share)', unit: 'µs', samples: s.pool.map((v, i) => v - s.raw[i]!) },
  ];
}
