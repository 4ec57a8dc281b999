/**
 * The codec micro-benchmark (issue 4, item 6): encode + decode of the same four values with
 * msgpackr (configured as the bridge's floor), msgpack-lite and @msgpack/msgpack, and the bridge's
 * own codec, in the same trial. Every codec must give back an equal value: a Float64Array comes
 * back as a Float64Array (a view of the decoded bytes where the codec returns bytes).
 */
import * as msgpack from '@msgpack/msgpack';
import lite from 'msgpack-lite';
import type { BenchContext } from './lib/context.js';
import { float64View, packr } from './lib/floor.js';
import type { Row } from './lib/report.js';
import { timeSync } from './lib/timing.js';

interface Codec {
  name: string;
  roundTrip(value: unknown, kind: PayloadKind): unknown;
}

type PayloadKind = 'call' | 'object' | 'bytes' | 'float64';

interface Payload {
  kind: PayloadKind;
  label: string;
  value: unknown;
}

function asFloat64(decoded: unknown, kind: PayloadKind): unknown {
  if (kind !== 'float64' || decoded instanceof Float64Array) return decoded;
  const bytes = decoded as Uint8Array;
  return float64View(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** The bridge's own codec, from its build output (it is internal, so not exported by the package). */
async function pitonCodec(): Promise<Codec | undefined> {
  try {
    const mod = (await import('../packages/python-bridge/dist/wire/codec.js')) as {
      createCodec(): { encode(v: unknown): Buffer[]; decode(frames: readonly Buffer[]): unknown };
    };
    const codec = mod.createCodec();
    return { name: 'piton codec', roundTrip: (v) => codec.decode(codec.encode(v)) };
  } catch {
    return undefined;
  }
}

export function payloads(): Payload[] {
  const object: Record<string, unknown> = {};
  for (let i = 0; i < 1000; i++) object[`field${i}`] = i % 3 === 0 ? i : i % 3 === 1 ? `value ${i}` : i + 0.5;
  const bytes = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  const floats = new Float64Array(1_000_000);
  for (let i = 0; i < floats.length; i++) floats[i] = Math.sin(i);
  return [
    { kind: 'call', label: 'small call message', value: ['call', 1, 'functions', 'noop', [1], null] },
    { kind: 'object', label: '1,000-field object', value: object },
    { kind: 'bytes', label: '1 MiB bytes', value: bytes },
    { kind: 'float64', label: '1e6 Float64Array', value: floats },
  ];
}

export async function codecs(): Promise<Codec[]> {
  const list: Codec[] = [
    { name: 'msgpackr', roundTrip: (v, k) => asFloat64(packr.unpack(packr.pack(v)), k) },
    { name: 'msgpack-lite', roundTrip: (v) => lite.decode(lite.encode(v)) },
    { name: '@msgpack/msgpack', roundTrip: (v, k) => asFloat64(msgpack.decode(msgpack.encode(v)), k) },
  ];
  const ours = await pitonCodec();
  if (ours) list.push(ours);
  return list;
}

/** Checks that a codec's round trip gives back the value, so no codec is timed doing less. */
function sameValue(a: unknown, b: unknown): boolean {
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength)
      .equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function runCodec(ctx: BenchContext): Promise<Row[]> {
  const list = await codecs();
  const data = payloads();
  for (const p of data) {
    for (const c of list) {
      if (!sameValue(c.roundTrip(p.value, p.kind), p.value)) throw new Error(`codec ${c.name} does not round-trip the ${p.label}`);
    }
  }
  const minMs = ctx.settings.quick ? 40 : 150;
  const samples = new Map<string, number[]>();
  for (let trial = 0; trial < ctx.settings.trials; trial++) {
    for (const p of data) {
      for (const c of list) {
        const key = `${p.label}\u0000${c.name}`;
        const us = timeSync(() => c.roundTrip(p.value, p.kind), minMs);
        (samples.get(key) ?? samples.set(key, []).get(key)!).push(us);
      }
    }
  }
  const rows: Row[] = [];
  for (const p of data) {
    const base = samples.get(`${p.label}\u0000msgpackr`)!;
    for (const c of list) {
      const own = samples.get(`${p.label}\u0000${c.name}`)!;
      rows.push({
        benchmark: 'codec (encode+decode)',
        figure: `${p.label}: ${c.name}`,
        unit: 'µs',
        samples: own,
        ...(c.name === 'msgpackr' ? {} : { ratio: { label: '× msgpackr time', samples: own.map((t, i) => t / base[i]!) } }),
      });
    }
  }
  ctx.log(`codec: ${list.map((c) => c.name).join(', ')}`);
  return rows;
}
