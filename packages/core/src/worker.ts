/**
 * `worker(behaviour, ...args)`: a gen_server on a nact actor.
 *
 * Calls, casts and infos go through the actor's mailbox and are handled one at a time with the
 * state threaded through. Stopping does not: `ctx.exit(reason)` and `kill()` act at once from any
 * async context (even while a handler is still awaiting), because the process that owns the
 * worker (e.g. a Python interpreter) may die in the middle of a call. An orderly `shutdown`
 * from the supervisor lets the handler in progress finish first, like OTP's trapped exit.
 *
 * As gen_server:
 * - `init` may return `IGNORE`: the worker does not start (OTP's `ignore`); its process ends `'normal'`.
 * - `handleCall` answers with `{ reply, state }`; or `{ noreply: state }` and later
 *   `ctx.reply(from, value)` (the caller's timeout still applies; a late reply is dropped); or
 *   `{ stop: reason, reply, state }`: `terminate(reason, state)` runs, then the caller gets the reply
 *   (OTP's order; the reply is sent even if `terminate` throws, not after a kill).
 * - `{ reply, state, continue: msg }` / `{ noreply: state, continue: msg }`: `handleContinue(msg,
 *   state)` runs right after, before any other message (OTP's `{continue, C}`).
 */
import { IGNORE, isIgnore, type ChildId, type Ignore, type StartContext, type StartedChild, type StartFn } from './child.js';
import { WorkerRef, type CallOptions, type ChildRef } from './child-ref.js';
import { Deferred } from './deferred.js';
import { CallTimeoutError, InvalidSpecError, NoProcessError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { readCallResult, type CallResult, type CallStep } from './call-result.js';
import { Mailbox } from './nact.js';
import { PendingCall, type From } from './pending-call.js';
import type { ActorSystem } from './system.js';

/** gen_server's default call timeout. */
export const DEFAULT_CALL_TIMEOUT = 5_000;

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
  /**
   * Answer a call whose `handleCall` returned `{ noreply }` (OTP's `gen_server:reply`), from any
   * async context. Does nothing if the caller already has its answer, timed out, or the worker exited.
   */
  reply(from: From<Reply>, value: Reply): void;
}

/** The callbacks of a worker. A thrown error (or rejection) in any of them is a crash. */
export interface WorkerBehaviour<S, Call = unknown, Reply = unknown, Cast = unknown> {
  /**
   * Builds the initial state from the worker's args then any simple_one_for_one extra args.
   * Throw = start failure; return `IGNORE` to not start (not an error).
   */
  init(ctx: WorkerContext<Call, Reply, Cast>, ...args: unknown[]): S | Ignore | Promise<S | Ignore>;
  handleCall?(
    msg: Call,
    state: S,
    ctx: WorkerContext<Call, Reply, Cast>,
    from: From<Reply>,
  ): CallResult<S, Reply> | Promise<CallResult<S, Reply>>;
  handleCast?(msg: Cast, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  handleInfo?(msg: unknown, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  /** Runs after a `handleCall` result with `continue: msg`, before any other message. Returns the new state. */
  handleContinue?(msg: unknown, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  /** Awaited when the worker stops (not after a kill), bounded by the child's `shutdown`. */
  terminate?(reason: ExitReason, state: S): void | Promise<void>;
}

type Message<Call, Cast> =
  | { readonly kind: 'call'; readonly msg: Call; readonly pending: PendingCall<unknown> }
  | { readonly kind: 'cast'; readonly msg: Cast }
  | { readonly kind: 'info'; readonly msg: unknown };

type Phase = 'init' | 'running' | 'stopping' | 'exited';

class WorkerProcess<S, Call, Reply, Cast> {
  readonly ref: WorkerRef<Call, Reply, Cast>;
  readonly ctx: WorkerContext<Call, Reply, Cast>;
  readonly #behaviour: WorkerBehaviour<S, Call, Reply, Cast>;
  readonly #mailbox: Mailbox<Message<Call, Cast>>;
  readonly #exited = new Deferred<ExitReason>();
  /** Calls sent and not yet answered; all rejected when the worker exits. */
  readonly #pending = new Set<PendingCall<unknown>>();
  readonly #ready = new Deferred<boolean>();
  #state!: S;
  #phase: Phase = 'init';
  /** A handler is awaiting; an orderly shutdown waits for it. */
  #busy = false;
  /** A stop asked for while init or a handler was running, applied when it returns. */
  #deferredStop: { reason: ExitReason } | undefined;
  /** `{ stop, reply }`: the reply owed once `terminate` has run. */
  #finalReply: { readonly pending: PendingCall<unknown>; readonly reply: unknown } | undefined;

  constructor(behaviour: WorkerBehaviour<S, Call, Reply, Cast>, start: StartContext) {
    this.#behaviour = behaviour;
    this.ref = new WorkerRef<Call, Reply, Cast>(this, start.id, start.path);
    this.ctx = {
      id: start.id,
      path: start.path,
      system: start.system,
      self: this.ref,
      exit: (reason) => this.exit(reason),
      reply: (from, value) => PendingCall.of(from).resolve(value),
    };
    this.#mailbox = new Mailbox(start.parent, start.id, (m) => this.#handle(m));
  }

  get alive(): boolean {
    return this.#phase === 'init' || this.#phase === 'running';
  }

  async init(args: unknown[]): Promise<StartedChild<ChildRef<Call, Reply, Cast>> | Ignore> {
    let initial: S | Ignore;
    try {
      initial = await this.#behaviour.init(this.ctx, ...args);
    } catch (error) {
      this.#end(error as ExitReason);
      throw error;
    }
    if (isIgnore(initial)) {
      this.#end('normal');
      return IGNORE;
    }
    this.#state = initial;
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
    const pending = new PendingCall<unknown>(
      timeout,
      () => new CallTimeoutError(this.ref.path, timeout === 'infinity' ? Infinity : timeout),
      (settled) => this.#pending.delete(settled),
    );
    this.#pending.add(pending);
    this.#mailbox.send({ kind: 'call', msg, pending });
    return pending.promise as Promise<Reply>;
  }

  cast(msg: Cast): void {
    if (this.alive) this.#mailbox.send({ kind: 'cast', msg });
  }

  send(msg: unknown): void {
    if (this.alive) this.#mailbox.send({ kind: 'info', msg });
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
    this.#finalReply?.pending.reject(new NoProcessError(this.ref.path, 'killed'));
    this.#finish('killed');
  }

  async #handle(m: Message<Call, Cast>): Promise<void> {
    if (!(await this.#ready.promise)) return;
    if (this.#phase !== 'running') {
      if (m.kind === 'call') m.pending.reject(new NoProcessError(this.ref.path));
      return;
    }
    if (m.kind === 'call' && m.pending.settled) return; // its caller timed out before we got to it
    this.#busy = true;
    try {
      let step: CallStep<S>;
      try {
        step = await this.#dispatch(m);
      } catch (error) {
        // The caller learns what crashed its call; everyone else gets NoProcessError.
        if (this.#phase === 'running' && m.kind === 'call') m.pending.reject(error);
        throw error;
      }
      // An exit or kill while we awaited has already run terminate with the old state.
      if (this.#phase !== 'running') return;
      this.#state = step.state;
      if (step.stop) {
        if (m.kind === 'call') this.#owe(m.pending, step.stop.reply);
        this.#beginStop(step.stop.reason);
        return;
      }
      if (m.kind === 'call' && 'reply' in step) m.pending.resolve(step.reply);
      if (step.continue) await this.#continue(step.continue.msg);
    } catch (error) {
      if (this.#phase === 'running') this.#beginStop(error as ExitReason);
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#deferredStop) this.#beginStop(this.#deferredStop.reason);
  }

  async #dispatch(m: Message<Call, Cast>): Promise<CallStep<S>> {
    const b = this.#behaviour;
    switch (m.kind) {
      case 'call': {
        if (!b.handleCall) throw new Error(`${this.ref.path} got a call but its behaviour has no handleCall`);
        const from = PendingCall.from(m.pending) as From<Reply>;
        return readCallResult(await b.handleCall(m.msg, this.#state, this.ctx, from), this.ref.path);
      }
      case 'cast':
        if (!b.handleCast) throw new Error(`${this.ref.path} got a cast but its behaviour has no handleCast`);
        return { state: await b.handleCast(m.msg, this.#state, this.ctx) };
      case 'info':
        // Like gen_server without handle_info: an unexpected plain message is ignored.
        return { state: b.handleInfo ? await b.handleInfo(m.msg, this.#state, this.ctx) : this.#state };
    }
  }

  /** OTP's handle_continue: still inside the same mailbox turn, so no other message comes first. */
  async #continue(msg: unknown): Promise<void> {
    if (!this.#behaviour.handleContinue) throw new Error(`${this.ref.path} returned continue but its behaviour has no handleContinue`);
    const next = await this.#behaviour.handleContinue(msg, this.#state, this.ctx);
    if (this.#phase === 'running') this.#state = next;
  }

  /** Holds back a `{ stop, reply }` reply until `terminate` has run; the other calls are rejected. */
  #owe(pending: PendingCall<unknown>, reply: unknown): void {
    this.#pending.delete(pending);
    this.#finalReply = { pending, reply };
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
    if (this.#phase === 'exited') return; // killed while terminate ran
    this.#finalReply?.pending.resolve(this.#finalReply.reply);
    this.#finish(final);
  }

  /** The end of an init that failed or ignored: nothing ran, so there is nothing to terminate. */
  #end(reason: ExitReason): void {
    this.#phase = 'exited';
    this.#mailbox.stop();
    this.#rejectPending(reason);
    this.#ready.resolve(false);
    this.#exited.resolve(reason);
  }

  #finish(reason: ExitReason): void {
    if (this.#phase === 'exited') return;
    this.#phase = 'exited';
    this.#exited.resolve(reason);
  }

  #rejectPending(reason: ExitReason | unknown): void {
    const error = new NoProcessError(this.ref.path, reason as ExitReason);
    for (const p of [...this.#pending]) p.reject(error);
    this.#pending.clear();
  }
}

function checkBehaviour(b: unknown): void {
  if (typeof b !== 'object' || b === null) throw new InvalidSpecError('behaviour', b, 'an object with init and handlers');
  const r = b as Record<string, unknown>;
  if (typeof r.init !== 'function') throw new InvalidSpecError('behaviour.init', r.init, 'a function');
  for (const key of ['handleCall', 'handleCast', 'handleInfo', 'handleContinue', 'terminate']) {
    if (r[key] !== undefined && typeof r[key] !== 'function') throw new InvalidSpecError(`behaviour.${key}`, r[key], 'a function');
  }
}

/**
 * A gen_server-style worker. `args`, then any simple_one_for_one extra args, are passed to
 * `init(ctx, ...args)`. Returns a start function for a child spec or `system.start`; it resolves
 * with `IGNORE` when `init` does.
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
