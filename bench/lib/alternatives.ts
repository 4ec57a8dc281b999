/**
 * Clients of what users would pick instead of a ZeroMQ bridge: python-shell (JSON lines over
 * stdio) and, for scale, a plain stdio pipe with length-prefixed MessagePack.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PythonShell } from 'python-shell';
import { exited, firstLine, PY_DIR, type BenchContext, type Stoppable } from './context.js';
import { packr } from './floor.js';

/** One python-shell process in JSON mode; calls are sequential (one reply line per request line). */
export class ShellClient implements Stoppable {
  readonly #shell: PythonShell;
  #pending: ((reply: { ok?: unknown; error?: string }) => void) | undefined;
  #ready: Promise<void>;

  constructor(ctx: BenchContext) {
    this.#shell = new PythonShell(join(PY_DIR, 'shell_worker.py'), { mode: 'json', pythonPath: ctx.python, pythonOptions: ['-u'] });
    ctx.adopt(this.#shell.childProcess);
    this.#ready = new Promise((resolve) => { this.#pending = () => resolve(); });
    this.#shell.on('message', (reply: { ok?: unknown; error?: string }) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.(reply);
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  call(fn: string, args: unknown[]): Promise<unknown> {
    if (this.#pending) return Promise.reject(new Error('python-shell client: one call at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = (reply) => (reply.error !== undefined ? reject(new Error(reply.error)) : resolve(reply.ok));
      this.#shell.send({ fn, args });
    });
  }

  stop(): Promise<void> {
    const child = this.#shell.childProcess;
    this.#shell.end(() => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    return exited(child).finally(() => clearTimeout(timer));
  }
}

/** A stdio pipe to bench/python/stdio_worker.py: 4-byte length + MessagePack, each way. */
export class PipeClient implements Stoppable {
  readonly #child: ChildProcess;
  #id = 0;
  #buffered: Buffer = Buffer.alloc(0);
  #pending: ((reply: Buffer) => void) | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(ctx: BenchContext): Promise<PipeClient> {
    const child = ctx.spawnPython('stdio_worker.py');
    await firstLine(child, 'stdio_worker.py');
    const client = new PipeClient(child);
    child.stdout!.on('data', (chunk: Buffer) => client.#onData(chunk));
    return ctx.own(client);
  }

  #onData(chunk: Buffer): void {
    // The ready line was consumed by firstLine; what follows is framed replies.
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 4) {
      const size = this.#buffered.readUInt32LE(0);
      if (this.#buffered.length < 4 + size) return;
      const body = this.#buffered.subarray(4, 4 + size);
      this.#buffered = this.#buffered.subarray(4 + size);
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.(body);
    }
  }

  call(arg: unknown): Promise<unknown> {
    const id = ++this.#id;
    const body = packr.pack(['call', id, 'functions', 'noop', [arg], null]);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.length, 0);
    return new Promise((resolve, reject) => {
      this.#pending = (reply) => {
        const [, rid, value] = packr.unpack(reply) as [string, number, unknown];
        if (rid === id) resolve(value);
        else reject(new Error(`stdio pipe: reply id ${rid} for request ${id}`));
      };
      this.#child.stdin!.write(Buffer.concat([head, body]));
    });
  }

  stop(): Promise<void> {
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000);
    return exited(this.#child).finally(() => clearTimeout(timer));
  }
}
