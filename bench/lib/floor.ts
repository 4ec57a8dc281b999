/**
 * The floor: a bare zeromq.js `Request` socket talking to a bare pyzmq `REP` socket
 * (bench/python/floor_rep.py) over `ipc://`. No pool, no supervision, no protocol checks, no
 * codec: the request's bytes (the MessagePack of the no-op call envelope) are made once, the
 * Python side sends back the bytes of `["ok", 1, 1]` made once, and this side checks that they
 * came back. What a skeptic would write to see what these sockets cost, and so what any bridge
 * over them costs at least.
 *
 * Two more modes: `array` sends a Float64Array's bytes as a second frame, which Python sends
 * back as they came (the floor of the data family); `msgpack` is the floor as it was before
 * issue 22, with msgpackr here and msgpack in Python encoding and decoding every envelope, kept
 * for scale and for the profile's codec layer.
 */
import { Packr, type Options } from 'msgpackr';
import { Request } from 'zeromq';
import { exited, firstLine, type BenchContext, type Stoppable } from './context.js';

/** The msgpackr configuration the issue names for the codec comparison and the `msgpack` floor. */
export const packr = new Packr({
  useRecords: false,
  // 'auto' (safe integers as number, others as bigint) is implemented by msgpackr's decoder but
  // missing from its type declarations.
  int64AsType: 'auto' as Options['int64AsType'],
  encodeUndefinedAsNil: true,
});

export type FloorMode = 'bare' | 'array' | 'msgpack';

/** The bare floor's request: the envelope of the pool's no-op call, encoded once. */
const REQUEST = packr.pack(['call', 1, 'functions', 'noop', [1], null]);
/** What floor_rep.py answers in the bare and array modes: the MessagePack of ["ok", 1, 1]. */
export const REPLY = Buffer.from([0x93, 0xa2, 0x6f, 0x6b, 0x01, 0x01]);
const STOP = Buffer.from('stop');

export class FloorClient implements Stoppable {
  readonly mode: FloorMode;
  readonly #socket: Request;
  readonly #child: ReturnType<BenchContext['spawnPython']>;
  #id = 0;

  private constructor(mode: FloorMode, socket: Request, child: ReturnType<BenchContext['spawnPython']>) {
    this.mode = mode;
    this.#socket = socket;
    this.#child = child;
  }

  /** Spawns a floor server and connects to it; registered with `ctx` for clean-up. */
  static async start(ctx: BenchContext, mode: FloorMode = 'bare'): Promise<FloorClient> {
    const endpoint = ctx.endpoint();
    const child = ctx.spawnPython('floor_rep.py', ['--endpoint', endpoint, '--mode', mode]);
    await firstLine(child, 'floor_rep.py');
    const socket = new Request({ linger: 0 });
    socket.connect(endpoint);
    return ctx.own(new FloorClient(mode, socket, child));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #expect(mode: FloorMode, what: string): void {
    if (this.mode !== mode) throw new Error(`floor: ${what} needs a floor started in mode '${mode}', not '${this.mode}'`);
  }

  /** One bare round trip of the no-op call's bytes; rejects if the reply is not the expected bytes. */
  async call(): Promise<void> {
    await this.#socket.send(REQUEST);
    const [head] = await this.#socket.receive();
    if (head === undefined || !head.equals(REPLY)) throw new Error(`floor: unexpected reply ${head?.toString('hex')}`);
  }

  /** The `msgpack` floor: one round trip of an envelope whose only argument is `arg`; resolves with the echoed value. */
  async callEncoded(arg: unknown): Promise<unknown> {
    this.#expect('msgpack', 'callEncoded()');
    const id = ++this.#id;
    await this.#socket.send(packr.pack(['call', id, 'functions', 'noop', [arg], null]));
    const [head] = await this.#socket.receive();
    const reply = packr.unpack(head!) as [string, number, unknown];
    if (reply[1] !== id) throw new Error(`floor: reply id ${reply[1]} for request ${id}`);
    return reply[2];
  }

  /** One round trip of a Float64Array as a raw second frame; resolves with the returned array. */
  async echoArray(array: Float64Array): Promise<Float64Array> {
    this.#expect('array', 'echoArray()');
    await this.#socket.send([REQUEST, Buffer.from(array.buffer, array.byteOffset, array.byteLength)]);
    const [head, body] = await this.#socket.receive();
    if (head === undefined || !head.equals(REPLY) || body === undefined) throw new Error('floor: bad array reply');
    return float64View(body);
  }

  async stop(): Promise<void> {
    if (this.#socket.closed) return;
    try {
      await this.#socket.send(STOP);
      await this.#socket.receive();
    } catch {
      this.#child.kill('SIGKILL');
    }
    this.#socket.close();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000);
    await exited(this.#child);
    clearTimeout(timer);
  }
}

/** A Float64Array over `bytes`: a view when aligned, else a copy. */
export function float64View(bytes: Buffer): Float64Array {
  if (bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  return new Float64Array(Uint8Array.from(bytes).buffer);
}
