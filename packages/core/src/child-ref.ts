import type { ChildId } from './child.js';

export interface CallOptions {
  /** ms to wait for the reply, or `'infinity'`. @default 5000 */
  readonly timeout?: number | 'infinity';
}

/** The handle to a running worker that supervisors hand out. */
export interface ChildRef<Call = unknown, Reply = unknown, Cast = unknown> {
  readonly id: ChildId;
  readonly path: string;
  /** False once this incarnation has exited. */
  readonly alive: boolean;
  /**
   * Request/response (gen_server:call). Rejects with `CallTimeoutError` after `timeout` (the
   * worker keeps running), `NoProcessError` if the worker is not running or exits before
   * replying, or the error `handleCall` threw (which also crashed the worker).
   */
  call(msg: Call, options?: CallOptions): Promise<Reply>;
  /** Fire and forget (gen_server:cast); dropped silently if the worker is not running. */
  cast(msg: Cast): void;
  /** A plain message, handled by `handleInfo`; dropped silently if the worker is not running. */
  send(msg: unknown): void;
}

/** What a ref needs from its process, whatever the state type. */
export interface ProcessHandle<Call, Reply, Cast> {
  readonly alive: boolean;
  call(msg: Call, options: CallOptions | undefined): Promise<Reply>;
  cast(msg: Cast): void;
  send(msg: unknown): void;
}

export class WorkerRef<Call, Reply, Cast> implements ChildRef<Call, Reply, Cast> {
  readonly #proc: ProcessHandle<Call, Reply, Cast>;
  readonly id: ChildId;
  readonly path: string;

  constructor(proc: ProcessHandle<Call, Reply, Cast>, id: ChildId, path: string) {
    this.#proc = proc;
    this.id = id;
    this.path = path;
  }

  get alive(): boolean {
    return this.#proc.alive;
  }

  call(msg: Call, options?: CallOptions): Promise<Reply> {
    return this.#proc.call(msg, options);
  }

  cast(msg: Cast): void {
    this.#proc.cast(msg);
  }

  send(msg: unknown): void {
    this.#proc.send(msg);
  }
}
