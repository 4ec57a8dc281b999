/**
 * Why the bridge has its own MessagePack codec (bench/README.md, "The codec choice"): each claim about
 * msgpackr, configured as the issue names it, is checked here against msgpackr itself and compared
 * with what the protocol needs and the bridge's codec writes. Exits 1 if any claim no longer holds
 * (say, after a msgpackr upgrade), so the record in bench/README.md can be kept true.
 *
 *   npm run build && npx tsx bench/codec-choice.ts
 */
import { Packr, Unpackr, addExtension, type Options } from 'msgpackr';

interface PitonCodec {
  encode(value: unknown): Buffer[];
  decode(frames: readonly Buffer[]): unknown;
}

const config = {
  useRecords: false,
  // 'auto' is implemented by msgpackr's decoder but missing from its type declarations.
  int64AsType: 'auto' as Options['int64AsType'],
  encodeUndefinedAsNil: true,
};

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

let failures = 0;
function check(claim: string, holds: boolean, detail: string): void {
  if (!holds) failures++;
  console.log(`${holds ? 'holds ' : 'FAILED'}  ${claim}\n        ${detail}`);
}

async function main(): Promise<number> {
  const { createCodec } = (await import('../packages/python-bridge/dist/wire/codec.js')) as { createCodec(): PitonCodec };
  const ours = createCodec();
  const packr = new Packr(config);
  const oursHex = (value: unknown) => hex(ours.encode(value)[0]!);

  const big = hex(packr.pack(2 ** 32));
  check(
    'msgpackr writes a safe integer beyond 32 bits as float 64 (Python would get a float)',
    big.startsWith('cb'),
    `2**32: msgpackr ${big}, piton ${oursHex(2 ** 32)} (uint 64)`,
  );

  const negZero = hex(packr.pack(-0));
  check('msgpackr writes -0 as the integer 0', negZero === '00', `-0: msgpackr ${negZero}, piton ${oursHex(-0)} (float 64)`);

  const fn = hex(packr.pack({ callback: () => 1 }));
  let oursFn: string;
  try {
    oursFn = oursHex({ callback: () => 1 });
  } catch (error) {
    oursFn = `${(error as Error).name}: ${(error as Error).message}`;
  }
  check(
    'msgpackr writes a function as nil, silently',
    fn.endsWith('c0'),
    `{callback: () => 1}: msgpackr ${fn}, piton ${oursFn}`,
  );

  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const point = hex(packr.pack(new Point(1, 2)));
  check(
    'msgpackr writes a class instance as a plain map of its fields',
    point.endsWith('a17801a17902'),
    `new Point(1, 2): msgpackr ${point}, piton refuses it (an instance of class Point)`,
  );

  const small = hex(packr.pack({ a: 1 }));
  check(
    'msgpackr writes a small map with a map 16 header (unless variableMapSize), not the canonical fixmap the vectors hold',
    small.startsWith('de0001'),
    `{a: 1}: msgpackr ${small}, piton ${oursHex({ a: 1 })}`,
  );

  // An extension registered on one side of the program changes what every Packr writes, and its
  // write() sees only the value: it cannot put array bytes in frames of the message being encoded.
  class Marker {}
  const before = hex(new Packr(config).pack(new Marker()));
  addExtension({ Class: Marker, type: 42, write: () => 0, read: () => new Marker() });
  const after = hex(new Packr(config).pack(new Marker()));
  check(
    'msgpackr extensions are process-wide (addExtension changes every Packr, existing or new)',
    before !== after && hex(packr.pack(new Marker())) === after,
    `new Marker() before addExtension: ${before}; after, with a fresh Packr and with one made earlier: ${after}`,
  );

  // Decoding: a map with an integer key and one with string keys.
  const intKeys = Buffer.from('81' + '01' + 'a1' + '61', 'hex'); // {1: "a"}
  const strKeys = Buffer.from('81' + 'a1' + '6b' + '01', 'hex'); // {"k": 1}
  const asObjects = new Unpackr(config);
  const asMaps = new Unpackr({ ...config, mapsAsObjects: false });
  const a = asObjects.unpack(intKeys) as unknown;
  const b = asMaps.unpack(strKeys) as unknown;
  const oursInt = ours.decode([intKeys]);
  const oursStr = ours.decode([strKeys]);
  check(
    'msgpackr cannot decode "string keys → object, other keys → Map": it stringifies keys, or makes every map a Map',
    !(a instanceof Map) && Object.keys(a as object)[0] === '1' && b instanceof Map,
    `{1: "a"} → ${describe(a)} by default; {"k": 1} → ${describe(b)} with mapsAsObjects: false; ` +
      `piton: ${describe(oursInt)} and ${describe(oursStr)}`,
  );

  const int64 = hex(packr.pack(5n));
  check(
    'msgpackr writes a small positive bigint as int 64 (d3), which decoders accept',
    int64.startsWith('d3'),
    `5n: msgpackr ${int64}, piton ${oursHex(5n)}`,
  );

  console.log(failures === 0 ? '\nevery claim holds' : `\n${failures} claim(s) no longer hold: update PROTOCOL.md`);
  return failures === 0 ? 0 : 1;
}

function describe(value: unknown): string {
  if (value instanceof Map) return `Map ${JSON.stringify([...value])}`;
  return `object ${JSON.stringify(value)}`;
}

process.exitCode = await main();
