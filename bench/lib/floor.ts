/**
 * The floor: a bare zeromq.js `Request` socket talking to a bare pyzmq `REP` socket
 * (bench/python/floor_rep.py) over `ipc://`, with msgpackr on this side and msgpack on the other,
 * and array bytes as a second frame. No pool, no supervision, no protocol checks: what any bridge
 * over these parts costs at least.
 */
import { Packr, type Options } from 'msgpackr';
import { Request } from 'zeromq';
import { exited, firstLine, type BenchContext, type Stoppable } from './context.js';

/** The msgpackr configuration the issue names for the codec comparison and the floor. */
export const packr = new Packr({
  useRecords: false,
  // 'auto' (safe integers as number, others as bigint) is implemented by msgpackr's decoder but
  // missing from its type declarations.
  int64AsType: 'auto' as Options['int64AsType'],
  encodeUndefinedAsNil: true,
});

export type FloorMode = 'msgpack' | 'raw';

export class FloorClient implements Stoppable {
  readonly #socket: Request;
  readonly #child: ReturnType<BenchContext['spawnPython']>;
  #id = 0;

  private constructor(socket: Request, child: ReturnType<BenchContext['spawnPython']>) {
    this.#socket = socket;
    this.#child = child;
  }

  /** Spawns a floor server and connects to it; registered with `ctx` for clean-up. */
  static async start(ctx: BenchContext, mode: FloorMode = 'msgpack'): Promise<FloorClient> {
    const endpoint = ctx.endpoint();
    const child = ctx.spawnPython('floor_rep.py', ['--endpoint', endpoint, '--mode', mode]);
    await firstLine(child, 'floor_rep.py');
    const socket = new Request({ linger: 0 });
    socket.connect(endpoint);
    return ctx.own(new FloorClient(socket, child));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** One round trip of a call envelope whose only argument is `arg`; resolves with the echoed value. */
  async call(arg: unknown): Promise<unknown> {
    const id = ++this.#id;
    await this.#socket.send(packr.pack(['call', id, 'functions', 'noop', [arg], null]));
    const [head] = await this.#socket.receive();
    const reply = packr.unpack(head!) as [string, number, unknown];
    if (reply[1] !== id) throw new Error(`floor: reply id ${reply[1]} for request ${id}`);
    return reply[2];
  }

  /** One round trip of a Float64Array as a raw second frame; resolves with the returned array. */
  async echoArray(array: Float64Array): Promise<Float64Array> {
    const id = ++this.#id;
    const descriptor = { dtype: 'float64', shape: [array.length], frame: 1 };
    const head = packr.pack(['call', id, 'functions', 'echo', [descriptor], null]);
    await this.#socket.send([head, Buffer.from(array.buffer, array.byteOffset, array.byteLength)]);
    const [replyHead, body] = await this.#socket.receive();
    const reply = packr.unpack(replyHead!) as [string, number, unknown];
    if (reply[1] !== id || body === undefined) throw new Error(`floor: bad array reply to request ${id}`);
    return float64View(body);
  }

  /** Sends `frames` as they are and returns the reply frames (for the raw transport profile). */
  async raw(frames: Buffer[]): Promise<Buffer[]> {
    await this.#socket.send(frames);
    return this.#socket.receive();
  }

  async stop(): Promise<void> {
    if (this.#socket.closed) return;
    try {
      await this.#socket.send(packr.pack(['stop', 0]));
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
