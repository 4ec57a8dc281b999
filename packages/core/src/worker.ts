/**
 * `worker(behaviour, ...args)`: a gen_server on a nact actor.
 *
 * Calls, casts and infos go through the actor's mailbox and are handled one at a time with the
 * state threaded through. Stopping does not: `ctx.exit(reason)` and `kill()` act at once from any
 * async context (even while a handler is still awaiting), because the process that owns the
 * worker (e.g. a Python interpreter) may die in the middle of a call. An orderly `shutdown`
 * from the supervisor lets the handler in progress finish first, like OTP's trapped exit.
 *
 * A kill cannot pre-empt JavaScript: a handler that is awaiting resumes later and runs to its end.
 * What it returns is discarded (the worker has exited), and `ctx.signal` has fired, so a handler
 * that passes the signal to what it awaits (or checks it) stops early instead of doing its side
 * effects late.
 *
 * As gen_server:
 * - `init` may return `IGNORE`: the worker does not start (OTP's `ignore`); its process ends `'normal'`.
 * - `handleCall` answers with `{ reply, state }`; or `{ noreply: state }` and later
 *   `ctx.reply(from, value)` (the caller's timeout still applies; a late reply is dropped); or
 *   `{ stop: reason, reply, state }`: `terminate(reason, state)` runs, then the caller gets the reply
 *   (OTP's order; the reply is sent even if `terminate` throws, not after a kill).
 * - `{ reply, state, continue: msg }` / `{ noreply: state, continue: msg }`: `handleContinue(msg,
 *   state)` runs right after, before any other message (OTP's `{continue, C}`).
 * - OTP's loud failures: a result of the wrong shape is a crash with `BadReturnValueError`
 *   (`bad_return_value`), `undefined` from `handleCast`/`handleInfo`/`handleContinue` included
 *   (a forgotten `return`; a worker whose state is `undefined` may keep returning it); a message no
 *   `handleInfo` takes is reported as an `unexpected_message` event; a call to itself from one of
 *   its own callbacks fails at once with `CallingSelfError` (`calling_self`); a call with
 *   `timeout: 0` times out.
 */
import { IGNORE, isIgnore, type ChildId, type Ignore, type StartContext, type StartedChild, type StartFn } from './child.js';
import { WorkerRef, type CallOptions, type ChildRef } from './child-ref.js';
import { Deferred, quietRejection } from './deferred.js';
import { BadReturnValueError, CallingSelfError, CallTimeoutError, InvalidSpecError, NoProcessError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { readCallResult, type CallResult, type CallStep } from './call-result.js';
import { Mailbox } from './nact.js';
import { PendingCall, type From } from './pending-call.js';
import type { ActorSystem } from './system.js';
import { currentTurnOf, runTurn, type Turn } from './turn.js';
import { checkFunction, checkObject, checkOptions, checkTimeout, names, rejectUnknownKeys } from './validation.js';

/** gen_server's default call timeout. */
export const DEFAULT_CALL_TIMEOUT = 5_000;

export interface WorkerContext<Call = unknown, Reply = unknown, Cast = unknown> {
  readonly id: ChildId;
  readonly path: string;
  readonly system: ActorSystem;
  /** This worker's own ref, e.g. to cast to itself. (A call to it from its own callback fails: `calling_self`.) */
  readonly self: ChildRef<Call, Reply, Cast>;
  /**
   * Aborted once this worker stops: at once when it is killed (`exit(ref, 'kill')`, a
   * `brutal_kill`, a shutdown timeout, a start timeout) or exits with `ctx.exit`, even while a
   * callback is awaiting; on an orderly stop, when `terminate` begins. Pass it to what a callback
   * awaits (`fetch(url, { signal: ctx.signal })`) so that a long wait ends with the worker. Its
   * `reason` is a `NoProcessError` carrying the exit reason.
   */
  readonly signal: AbortSignal;
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

/**
 * The callbacks of a worker. A thrown error (or rejection) in any of them is a crash. `Args` are
 * the arguments `init` takes after `ctx`: the worker's own, then any simple_one_for_one extra ones.
 */
export interface WorkerBehaviour<S, Call = unknown, Reply = unknown, Cast = unknown, Args extends readonly unknown[] = unknown[]> {
  /**
   * Builds the initial state from the worker's args then any simple_one_for_one extra args.
   * Throw = start failure; return `IGNORE` to not start (not an error). (A property, not a method,
   * so that its arguments are checked strictly.)
   */
  readonly init: (ctx: WorkerContext<Call, Reply, Cast>, ...args: Args) => S | Ignore | Promise<S | Ignore>;
  handleCall?(
    msg: Call,
    state: S,
    ctx: WorkerContext<Call, Reply, Cast>,
    from: From<Reply>,
  ): CallResult<S, Reply> | Promise<CallResult<S, Reply>>;
  /** Returns the new state. */
  handleCast?(msg: Cast, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  /** Plain messages (`ref.send`); returns the new state. Without it they are `unexpected_message` events. */
  handleInfo?(msg: unknown, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  /** Runs after a `handleCall` result with `continue: msg`, before any other message. Returns the new state. */
  handleContinue?(msg: unknown, state: S, ctx: WorkerContext<Call, Reply, Cast>): S | Promise<S>;
  /** Awaited when the worker stops (not after a kill), bounded by the child's `shutdown`. */
  terminate?(reason: ExitReason, state: S): void | Promise<void>;
}

/** The callback names of a behaviour; anything else is refused by `worker()` with "did you mean". */
export const BEHAVIOUR_KEYS = names<WorkerBehaviour<unknown>>()(['init', 'handleCall', 'handleCast', 'handleInfo', 'handleContinue', 'terminate']);
const CALL_OPTION_KEYS = names<CallOptions>()(['timeout']);

type Message<Call, Cast> =
  | { readonly kind: 'call'; readonly msg: Call; readonly pending: PendingCall<unknown> }
  | { readonly kind: 'cast'; readonly msg: Cast }
  | { readonly kind: 'info'; readonly msg: unknown };

type Phase = 'init' | 'running' | 'stopping' | 'exited';

class WorkerProcess<S, Call, Reply, Cast> {
  readonly ref: WorkerRef<Call, Reply, Cast>;
  readonly ctx: WorkerContext<Call, Reply, Cast>;
  readonly #behaviour: WorkerBehaviour<S, Call, Reply, Cast, readonly unknown[]>;
  readonly #mailbox: Mailbox<Message<Call, Cast>>;
  readonly #exited = new Deferred<ExitReason>();
  /** Calls sent and not yet answered; all rejected when the worker exits. */
  readonly #pending = new Set<PendingCall<unknown>>();
  readonly #ready = new Deferred<boolean>();
  /** Rejects if the worker is killed while `init` runs, so that the start fails at once. */
  readonly #killedInInit = new Deferred<never>();
  readonly #stopped = new AbortController();
  /** The path of the supervisor (or system) that reports this worker's events. */
  readonly #supervisor: string;
  #state!: S;
  #phase: Phase = 'init';
  /** A handler is awaiting; an orderly shutdown waits for it. */
  #busy = false;
  /** The callback running now, if any (see `Turn`). */
  #turn: Turn | undefined;
  /** A stop asked for while init or a handler was running, applied when it returns. */
  #deferredStop: { reason: ExitReason } | undefined;
  /** `{ stop, reply }`: the reply owed once `terminate` has run. */
  #finalReply: { readonly pending: PendingCall<unknown>; readonly reply: unknown } | undefined;

  constructor(behaviour: WorkerBehaviour<S, Call, Reply, Cast, readonly unknown[]>, start: StartContext) {
    this.#behaviour = behaviour;
    this.#supervisor = start.path.includes('/') ? start.path.slice(0, start.path.lastIndexOf('/')) : start.system.name;
    this.ref = new WorkerRef<Call, Reply, Cast>(this, start.id, start.path);
    this.ctx = {
      id: start.id,
      path: start.path,
      system: start.system,
      self: this.ref,
      signal: this.#stopped.signal,
      exit: (reason) => this.exit(reason),
      reply: (from, value) => PendingCall.of(from).resolve(value),
    };
    this.#killedInInit.promise.catch(() => undefined);
    this.#mailbox = new Mailbox(start.parent, start.id, (m) => this.#handle(m));
  }

  get alive(): boolean {
    return this.#phase === 'init' || this.#phase === 'running';
  }

  /** Runs `init`; if whoever starts the worker gives up on it (`abandoned`), the worker is killed and this rejects at once. */
  async init(args: readonly unknown[], abandoned: AbortSignal | undefined): Promise<StartedChild<ChildRef<Call, Reply, Cast>> | Ignore> {
    const kill = () => this.kill();
    if (abandoned?.aborted) kill();
    abandoned?.addEventListener('abort', kill, { once: true });
    let initial: S | Ignore;
    try {
      initial = await Promise.race([this.#inTurn(() => this.#behaviour.init(this.ctx, ...args)), this.#killedInInit.promise]);
    } catch (error) {
      if (this.#phase === 'init') this.#end(error as ExitReason);
      throw error;
    } finally {
      abandoned?.removeEventListener('abort', kill);
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
    const turn = currentTurnOf();
    if (turn !== undefined && turn === this.#turn) return quietRejection(new CallingSelfError(this.ref.path));
    let timeout: number | 'infinity';
    try {
      const checked = options === undefined ? {} : checkOptions('options', options, CALL_OPTION_KEYS);
      timeout = checked.timeout === undefined ? DEFAULT_CALL_TIMEOUT : checkTimeout('options.timeout', checked.timeout, { infinity: true });
    } catch (error) {
      return quietRejection(error);
    }
    if (this.#phase === 'stopping' || this.#phase === 'exited') return quietRejection(new NoProcessError(this.ref.path));
    // No reply can come back in no time: a zero timeout has passed before anything is sent (OTP).
    if (timeout === 0) return quietRejection(new CallTimeoutError(this.ref.path, 0));
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
    const starting = this.#phase === 'init';
    this.#phase = 'stopping';
    this.#abort('killed');
    this.#mailbox.stop();
    this.#rejectPending('killed');
    this.#finalReply?.pending.reject(new NoProcessError(this.ref.path, 'killed'));
    if (starting) {
      this.#ready.resolve(false);
      this.#killedInInit.reject(new NoProcessError(this.ref.path, 'killed'));
    }
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
      await this.#inTurn(async () => {
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
      });
    } catch (error) {
      if (this.#phase === 'running') this.#beginStop(error as ExitReason);
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#deferredStop) this.#beginStop(this.#deferredStop.reason);
  }

  /** Runs `fn` as this worker's current turn: a call to itself from inside it is `calling_self`. */
  async #inTurn<T>(fn: () => T | Promise<T>): Promise<T> {
    const turn: Turn = { ref: this.ref, active: true };
    this.#turn = turn;
    try {
      return await runTurn(turn, fn);
    } finally {
      turn.active = false;
      if (this.#turn === turn) this.#turn = undefined;
    }
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
        return { state: this.#newState('handleCast', await b.handleCast(m.msg, this.#state, this.ctx)) };
      case 'info':
        if (!b.handleInfo) {
          // gen_server without handle_info logs the message and drops it; here the log is an event.
          this.ctx.system.emit({ type: 'unexpected_message', supervisor: this.#supervisor, id: this.ref.id, path: this.ref.path, at: Date.now(), message: m.msg });
          return { state: this.#state };
        }
        return { state: this.#newState('handleInfo', await b.handleInfo(m.msg, this.#state, this.ctx)) };
    }
  }

  /** OTP's handle_continue: still inside the same mailbox turn, so no other message comes first. */
  async #continue(msg: unknown): Promise<void> {
    if (!this.#behaviour.handleContinue) throw new Error(`${this.ref.path} returned continue but its behaviour has no handleContinue`);
    const next = this.#newState('handleContinue', await this.#behaviour.handleContinue(msg, this.#state, this.ctx));
    if (this.#phase === 'running') this.#state = next;
  }

  /**
   * A callback's new state. `undefined` for a state that was not `undefined` is OTP's
   * `bad_return_value`: almost always a forgotten `return`, which would otherwise lose the state.
   */
  #newState(callback: string, next: S): S {
    if (next === undefined && this.#state !== undefined) throw new BadReturnValueError(this.ref.path, callback, next, 'the new state');
    return next;
  }

  /** Holds back a `{ stop, reply }` reply until `terminate` has run; the other calls are rejected. */
  #owe(pending: PendingCall<unknown>, reply: unknown): void {
    this.#pending.delete(pending);
    this.#finalReply = { pending, reply };
  }

  #beginStop(reason: ExitReason): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'stopping';
    this.#abort(reason);
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
    this.#abort(reason);
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

  /** Fires `ctx.signal` (once) with the reason the worker stops for. */
  #abort(reason: ExitReason): void {
    if (!this.#stopped.signal.aborted) this.#stopped.abort(new NoProcessError(this.ref.path, reason));
  }

  #rejectPending(reason: ExitReason | unknown): void {
    const error = new NoProcessError(this.ref.path, reason as ExitReason);
    for (const p of [...this.#pending]) p.reject(error);
    this.#pending.clear();
  }
}

/** Checks a behaviour when `worker()` is called: an object of known callbacks, `init` among them. */
function checkBehaviour(b: unknown): void {
  const r = checkObject('behaviour', b);
  rejectUnknownKeys('behaviour', r, BEHAVIOUR_KEYS);
  if (r.init === undefined) throw new InvalidSpecError('behaviour.init', r.init, 'a function (init is the one callback every worker has)');
  for (const key of BEHAVIOUR_KEYS) if (r[key] !== undefined) checkFunction(`behaviour.${key}`, r[key]);
}

/**
 * A gen_server-style worker. `args`, then any simple_one_for_one extra args, are passed to
 * `init(ctx, ...args)`, and the types say so: `Args` are inferred from the arguments given and
 * checked against `init`'s, so a missing or wrong argument does not compile. `Extra` are the
 * arguments of a simple_one_for_one template (what each `startChild(extraArgs)` passes). Returns a
 * start function for a child spec or `system.start`; it resolves with `IGNORE` when `init` does.
 * The behaviour is checked here, at once: an unknown callback name (`handelCast`) or one that is
 * not a function throws `InvalidSpecError` (a TypeError) with "did you mean".
 */
export function worker<
  S,
  Call = unknown,
  Reply = unknown,
  Cast = unknown,
  Args extends readonly unknown[] = [],
  Extra extends readonly unknown[] = [],
>(behaviour: WorkerBehaviour<S, Call, Reply, Cast, [...Args, ...Extra]>, ...args: Args): StartFn<ChildRef<Call, Reply, Cast>, Extra> {
  checkBehaviour(behaviour);
  const callbacks = behaviour as unknown as WorkerBehaviour<S, Call, Reply, Cast, readonly unknown[]>;
  return async (ctx, ...extraArgs) => {
    const proc = new WorkerProcess<S, Call, Reply, Cast>(callbacks, ctx);
    return proc.init([...args, ...extraArgs], ctx.signal);
  };
}
