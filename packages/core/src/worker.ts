/**
 * `worker(behaviour, ...args)`: a gen_server on a nact actor.
 *
 * Calls, casts and infos go through the actor's mailbox and are handled one at a time with the
 * state threaded through. Stopping does not: `ctx.exit(reason)` and `kill()` act at once from any
 * async context (even while a handler is still awaiting), because the process that owns the
 * worker (e.g. a Python interpreter) may die in the middle of a call. An orderly `shutdown`
 * from the supervisor lets the handler in progress finish first, like OTP's trapped exit.
 */
import type { ChildId, StartContext, StartedChild, StartFn } from './child.js';
import { Deferred } from './deferred.js';
import { setLongTimeout, type LongTimeout } from './long-timeout.js';
import { CallTimeoutError, InvalidSpecError, NoProcessError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { Mailbox } from './nact.js';
import type { ActorSystem } from './system.js';

/** gen_server's default call timeout. */
export const DEFAULT_CALL_TIMEOUT = 5_000;

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

export interface WorkerContext<Call = unknown, Reply = unknown, Cast = unknown> {
  readonly id: ChildId;
  readonly path: string;
  readonly system: ActorSystem;
  /** This worker's own ref, e.g. to cast to itself. */
  readonly self: ChildRef<Call, Reply, Cast>;
  /**
   * Stop this worker with `reason`, now: callable at any time from any async context. Calls in
   * progress or queued reject with `NoProcessError`; `terminate(reason, state)` runs with the
   * last committed state.
   */
  exit(reason: ExitReason): void;
}

export interface CallResult<S, Reply> {
  readonly reply: Reply;
  readonly state: S;
}

/** The callbacks of a worker. A thrown error (or rejection) in any of them is a crash. */
export interface WorkerBehaviour<S, Call = unknown, Reply = unknown, Cast = unknown> {
  /** Builds the initial state from the worker's args then any simple_one_for_one extra args. Throw = start failure. */
  init(ctx: WorkerContext<Call, Reply, Cast>, ...args: unknown[]): S | Promise<S>;
  handleCall?(msg: Call, state: S, ctx: WorkerContext<Call, Reply, Cast>): CallResult<S, Reply> | Promise<CallResult<S, Reply>>;
  handleCast?(msg: Cast, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  handleInfo?(msg: unknown, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  /** Awaited when the worker stops (not after a kill), bounded by the child's `shutdown`. */
  terminate?(reason: ExitReason, state: S): void | Promise<void>;
}

type Message<Call, Reply, Cast> =
  | { readonly kind: 'call'; readonly msg: Call; readonly pending: PendingCall<Reply> }
  | { readonly kind: 'cast'; readonly msg: Cast }
  | { readonly kind: 'info'; readonly msg: unknown };

/** A caller waiting for a reply; settles once, whichever of reply, timeout or exit comes first. */
class PendingCall<Reply> {
  readonly #deferred = new Deferred<Reply>();
  #timer: LongTimeout | undefined;
  #settled = false;
  readonly promise = this.#deferred.promise;

  constructor(timeout: number | 'infinity', onTimeout: () => Error) {
    if (timeout !== 'infinity' && timeout !== Infinity) this.#timer = setLongTimeout(() => this.reject(onTimeout()), timeout);
  }

  get settled(): boolean {
    return this.#settled;
  }

  resolve(value: Reply): void {
    if (this.#settle()) this.#deferred.resolve(value);
  }

  reject(error: unknown): void {
    if (this.#settle()) this.#deferred.reject(error);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#timer?.clear();
    return true;
  }
}

type Phase = 'init' | 'running' | 'stopping' | 'exited';

class WorkerProcess<S, Call, Reply, Cast> {
  readonly ref: WorkerRef<Call, Reply, Cast>;
  readonly ctx: WorkerContext<Call, Reply, Cast>;
  readonly #behaviour: WorkerBehaviour<S, Call, Reply, Cast>;
  readonly #mailbox: Mailbox<Message<Call, Reply, Cast>>;
  readonly #exited = new Deferred<ExitReason>();
  /** Calls sent and not yet answered; all rejected when the worker exits. */
  readonly #pending = new Set<PendingCall<Reply>>();
  readonly #ready = new Deferred<boolean>();
  #state!: S;
  #phase: Phase = 'init';
  /** A handler is awaiting; an orderly shutdown waits for it. */
  #busy = false;
  /** A stop asked for while init or a handler was running, applied when it returns. */
  #deferredStop: { reason: ExitReason } | undefined;

  constructor(behaviour: WorkerBehaviour<S, Call, Reply, Cast>, start: StartContext) {
    this.#behaviour = behaviour;
    this.ref = new WorkerRef(this, start.id, start.path);
    this.ctx = {
      id: start.id,
      path: start.path,
      system: start.system,
      self: this.ref,
      exit: (reason) => this.exit(reason),
    };
    this.#mailbox = new Mailbox(start.parent, start.id, (m) => this.#handle(m));
  }

  get phase(): Phase {
    return this.#phase;
  }

  async init(args: unknown[]): Promise<StartedChild<ChildRef<Call, Reply, Cast>>> {
    try {
      this.#state = await this.#behaviour.init(this.ctx, ...args);
    } catch (error) {
      this.#phase = 'exited';
      this.#mailbox.stop();
      this.#rejectPending(error);
      this.#ready.resolve(false);
      this.#exited.resolve(error as ExitReason);
      throw error;
    }
    if (this.#phase === 'init') this.#phase = 'running';
    this.#ready.resolve(true);
    if (this.#deferredStop) this.#beginStop(this.#deferredStop.reason);
    return {
      ref: this.ref,
      exited: this.#exited.promise,
      shutdown: (reason) => this.shutdown(reason),
      kill: () => this.kill(),
    };
  }

  call(msg: Call, options: CallOptions | undefined): Promise<Reply> {
    const timeout = options?.timeout ?? DEFAULT_CALL_TIMEOUT;
    if (timeout !== 'infinity' && (typeof timeout !== 'number' || !(timeout >= 0))) {
      return Promise.reject(new InvalidSpecError('options.timeout', timeout, "a number of ms >= 0 or 'infinity'"));
    }
    if (this.#phase === 'stopping' || this.#phase === 'exited') return Promise.reject(new NoProcessError(this.ref.path));
    const pending = new PendingCall<Reply>(timeout, () => {
      this.#pending.delete(pending);
      return new CallTimeoutError(this.ref.path, timeout === 'infinity' ? Infinity : timeout);
    });
    this.#pending.add(pending);
    this.#mailbox.send({ kind: 'call', msg, pending });
    return pending.promise;
  }

  post(m: Message<Call, Reply, Cast>): void {
    if (this.#phase === 'init' || this.#phase === 'running') this.#mailbox.send(m);
  }

  /** ctx.exit: stop now, whatever is running. */
  exit(reason: ExitReason): void {
    if (this.#phase === 'init') this.#deferredStop ??= { reason };
    else this.#beginStop(reason);
  }

  /** The supervisor's orderly stop: after the handler in progress, if any. */
  shutdown(reason: ExitReason): void {
    if (this.#phase === 'init' || (this.#phase === 'running' && this.#busy)) this.#deferredStop ??= { reason };
    else this.#beginStop(reason);
  }

  kill(): void {
    if (this.#phase === 'exited') return;
    this.#phase = 'stopping';
    this.#mailbox.stop();
    this.#rejectPending('killed');
    this.#finish('killed');
  }

  async #handle(m: Message<Call, Reply, Cast>): Promise<void> {
    if (!(await this.#ready.promise)) return;
    if (this.#phase !== 'running') {
      if (m.kind === 'call') m.pending.reject(new NoProcessError(this.ref.path));
      return;
    }
    if (m.kind === 'call' && m.pending.settled) return; // its caller timed out before we got to it
    this.#busy = true;
    try {
      const next = await this.#dispatch(m);
      // An exit or kill while we awaited has already run terminate with the old state.
      if (this.#phase !== 'running') return;
      this.#state = next;
    } catch (error) {
      if (this.#phase !== 'running') return;
      if (m.kind === 'call') {
        this.#pending.delete(m.pending);
        m.pending.reject(error);
      }
      this.#beginStop(error as ExitReason);
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#deferredStop) this.#beginStop(this.#deferredStop.reason);
  }

  async #dispatch(m: Message<Call, Reply, Cast>): Promise<S> {
    const b = this.#behaviour;
    switch (m.kind) {
      case 'call': {
        if (!b.handleCall) throw new Error(`${this.ref.path} got a call but its behaviour has no handleCall`);
        const result = await b.handleCall(m.msg, this.#state, this.ctx);
        if (typeof result !== 'object' || result === null || !('reply' in result) || !('state' in result)) {
          throw new TypeError(`${this.ref.path}: handleCall must return { reply, state }, got ${String(result)}`);
        }
        if (this.#phase === 'running') {
          this.#pending.delete(m.pending);
          m.pending.resolve(result.reply);
        }
        return result.state;
      }
      case 'cast':
        if (!b.handleCast) throw new Error(`${this.ref.path} got a cast but its behaviour has no handleCast`);
        return b.handleCast(m.msg, this.#state, this.ctx);
      case 'info':
        // Like gen_server without handle_info: an unexpected plain message is ignored.
        return b.handleInfo ? b.handleInfo(m.msg, this.#state, this.ctx) : this.#state;
    }
  }

  #beginStop(reason: ExitReason): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'stopping';
    this.#mailbox.stop();
    this.#rejectPending(reason);
    void this.#terminate(reason);
  }

  async #terminate(reason: ExitReason): Promise<void> {
    let final = reason;
    if (this.#behaviour.terminate) {
      try {
        await this.#behaviour.terminate(reason, this.#state);
      } catch (error) {
        // As in OTP: a crash in terminate becomes the exit reason.
        final = error as ExitReason;
      }
    }
    this.#finish(final);
  }

  #finish(reason: ExitReason): void {
    if (this.#phase === 'exited') return;
    this.#phase = 'exited';
    this.#exited.resolve(reason);
  }

  #rejectPending(reason: ExitReason | unknown): void {
    const error = new NoProcessError(this.ref.path, reason as ExitReason);
    for (const p of this.#pending) p.reject(error);
    this.#pending.clear();
  }
}

/** What a ref needs from its process, whatever the state type. */
interface ProcessHandle<Call, Reply, Cast> {
  readonly phase: Phase;
  call(msg: Call, options: CallOptions | undefined): Promise<Reply>;
  post(m: Message<Call, Reply, Cast>): void;
}

class WorkerRef<Call, Reply, Cast> implements ChildRef<Call, Reply, Cast> {
  readonly #proc: ProcessHandle<Call, Reply, Cast>;
  readonly id: ChildId;
  readonly path: string;

  constructor(proc: ProcessHandle<Call, Reply, Cast>, id: ChildId, path: string) {
    this.#proc = proc;
    this.id = id;
    this.path = path;
  }

  get alive(): boolean {
    const phase = this.#proc.phase;
    return phase === 'init' || phase === 'running';
  }

  call(msg: Call, options?: CallOptions): Promise<Reply> {
    return this.#proc.call(msg, options);
  }

  cast(msg: Cast): void {
    this.#proc.post({ kind: 'cast', msg });
  }

  send(msg: unknown): void {
    this.#proc.post({ kind: 'info', msg });
  }
}

function checkBehaviour(b: unknown): void {
  if (typeof b !== 'object' || b === null) throw new InvalidSpecError('behaviour', b, 'an object with init and handlers');
  const r = b as Record<string, unknown>;
  if (typeof r.init !== 'function') throw new InvalidSpecError('behaviour.init', r.init, 'a function');
  for (const key of ['handleCall', 'handleCast', 'handleInfo', 'terminate']) {
    if (r[key] !== undefined && typeof r[key] !== 'function') throw new InvalidSpecError(`behaviour.${key}`, r[key], 'a function');
  }
}

/**
 * A gen_server-style worker. `args`, then any simple_one_for_one extra args, are passed to
 * `init(ctx, ...args)`. Returns a start function for a child spec or `system.start`.
 */
export function worker<S, Call = unknown, Reply = unknown, Cast = unknown>(
  behaviour: WorkerBehaviour<S, Call, Reply, Cast>,
  ...args: unknown[]
): StartFn<ChildRef<Call, Reply, Cast>> {
  return async (ctx, ...extraArgs) => {
    checkBehaviour(behaviour);
    const proc = new WorkerProcess<S, Call, Reply, Cast>(behaviour, ctx);
    return proc.init([...args, ...extraArgs]);
  };
}
