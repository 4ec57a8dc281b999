import { isIgnore, worker, type ExitReason, type Ignore, type StartContext, type StartFn, type StartedChild } from '@piton/core';
import { replacedInPlace, unplannedExitCause } from './crash-policy.js';
import type { InterpreterExitCause } from '../ops/events.js';
import { InterpreterExitedError } from '../errors.js';
import type { ExitInfo, Interpreter } from '../interpreter/interpreter.js';
import { LiveInterpreters } from './live-interpreters.js';

/** What every worker of one pool shares: how to start an interpreter, and where to report it. */
export interface WorkerEnvironment {
  /** Starts an interpreter for `workerId` (or hands over one launched ahead); rejects with `InterpreterStartError`. */
  start(workerId: string): Promise<Interpreter>;
  /** A started interpreter is ready to serve. */
  onReady(interpreter: Interpreter, recycle: () => void): void;
  /** The interpreter leaves service; resolves once the call it runs, if any, has settled. */
  onLeave(interpreter: Interpreter): Promise<void>;
  /** Whether an interpreter can be launched now; not while the fork server is down (its restart restarts the workers). */
  canLaunch(): boolean;
  /** The interpreter has exited, for `cause` (see crash-policy.ts). */
  onExit(workerId: string, interpreter: Interpreter, info: ExitInfo, cause: InterpreterExitCause): void;
}

/**
 * `recycle`: replace a healthy interpreter; `replace`: start one in place of an interpreter that
 * crashed; `begin`: start the first interpreter of a worker whose start did not wait for it.
 */
type Message = { type: 'recycle' } | { type: 'replace' } | { type: 'begin' };

export interface PythonWorkerOptions {
  /**
   * The worker's start returns at once and its interpreter starts after it: how an elastic pool
   * grows without holding its supervisor for a handshake. A failure of that start is the actor's
   * exit, which the supervisor counts as any failed start. @default false
   */
  background?: boolean;
}

/** The OTP exit reason of an interpreter's exit. */
export function exitReasonOf(info: ExitInfo): ExitReason {
  if (info.killed) return 'killed';
  if (info.stopRequested) return 'shutdown';
  if (info.code === 0) return 'normal';
  if (info.lost !== undefined) return info.lost;
  return new InterpreterExitedError(info.code, info.signal);
}

/** The interpreter of the current incarnation, so that a brutal kill reaches the process too. */
interface Incarnation {
  interpreter?: Interpreter;
  /** Set once the actor is being stopped or was killed: no interpreter may start after that. */
  ending?: boolean;
}

/**
 * A PythonWorker: a core worker actor that owns one interpreter process at a time.
 *
 * The actor owns the interpreter's life: it starts it in `init`, drains and stops it in
 * `terminate`, and replaces it in place when the pool recycles it. When the interpreter dies,
 * the pool's crash policy (crash-policy.ts) decides: one that had served is replaced in place at
 * once (a crash in a call never counts toward the supervisor's intensity; if the replacement
 * cannot start, that failed start is the actor's exit); one that had not is a failed start, and
 * its exit becomes the actor's exit with an OTP reason (code 0 → normal, graceful stop →
 * shutdown, killed → killed, anything else abnormal), which the supervisor counts and restarts
 * with backoff. Calls do not pass through the actor's mailbox: the dispatcher hands them straight
 * to the interpreter, since a mailbox hop per call would cost more than the socket round trip.
 */
export function pythonWorker(env: WorkerEnvironment, options: PythonWorkerOptions = {}): StartFn<unknown> {
  return async (ctx: StartContext): Promise<StartedChild<unknown> | Ignore> => {
    const incarnation: Incarnation = {};
    const workerId = String(ctx.id);
    // Every interpreter this worker started and has not seen exit (serving, being recycled,
    // starting): a kill reaches them all, and the worker has exited only once they have.
    const lives = new LiveInterpreters();
    /** Interpreters replaced inside this worker (crashes in calls, recycles): system.tree() shows them. */
    let replacements = 0;

    // The start given up on (its startTimeout, or the supervisor killed meanwhile): the core worker
    // is killed at once and its start rejects, so nothing would kill the interpreter it is starting.
    ctx.signal.addEventListener(
      'abort',
      () => {
        incarnation.ending = true;
        lives.killAll();
      },
      { once: true },
    );

    const serve = (interpreter: Interpreter, self: { cast(msg: Message): void }) => {
      if (incarnation.ending) {
        // Killed while this interpreter was starting: it must not outlive the actor.
        interpreter.kill();
        throw new InterpreterExitedError(null, 'SIGKILL');
      }
      incarnation.interpreter = interpreter;
      env.onReady(interpreter, () => self.cast({ type: 'recycle' }));
    };

    // No calls: calls go from the dispatcher straight to the interpreter; casts recycle and replace it.
    const child = await worker<Incarnation, never, never, Message>({
      init: async (workerCtx) => {
        if (options.background) {
          workerCtx.self.cast({ type: 'begin' });
          return incarnation;
        }
        const interpreter = await lives.start(() => env.start(workerId));
        watch(interpreter, workerCtx);
        serve(interpreter, workerCtx.self);
        return incarnation;
      },
      handleCast: async (message, state, workerCtx) => {
        if (message.type === 'recycle') {
          if (!state.interpreter) return state;
          // Recycling replaces the interpreter without an exit of the actor: it is routine
          // hygiene (`recycle`), not a failure, and must not count toward intensity.
          const old = state.interpreter;
          state.interpreter = undefined;
          await env.onLeave(old);
          env.onExit(workerId, old, await old.stop(), 'recycle');
        } else if (state.interpreter || state.ending) {
          return state;
        }
        // A failure to start here throws: the actor exits with it, and the supervisor counts it.
        const fresh = await lives.start(() => env.start(workerId));
        if (message.type === 'replace' || message.type === 'recycle') replacements++;
        watch(fresh, workerCtx);
        serve(fresh, workerCtx.self);
        return state;
      },
      terminate: async (_reason, state) => {
        state.ending = true;
        const interpreter = state.interpreter;
        if (!interpreter) return;
        await env.onLeave(interpreter);
        env.onExit(workerId, interpreter, await interpreter.stop(), 'stop');
      },
    })(ctx);
    if (isIgnore(child)) return child; // a worker's start may ignore; forward it as the supervisor expects

    function watch(interpreter: Interpreter, workerCtx: { exit(reason: ExitReason): void; self: { cast(msg: Message): void } }) {
      void interpreter.exited.then((info) => {
        // Recycled on purpose, or stopped by terminate: neither is a crash of the actor.
        if (incarnation.interpreter !== interpreter || incarnation.ending) return;
        incarnation.interpreter = undefined;
        void env.onLeave(interpreter);
        const cause = unplannedExitCause(interpreter.served);
        env.onExit(workerId, interpreter, info, cause);
        // Its fork server died and took it along: the tree restarts the server, then this worker.
        if (!env.canLaunch()) return;
        if (replacedInPlace(cause)) workerCtx.self.cast({ type: 'replace' });
        else workerCtx.exit(exitReasonOf(info));
      });
    }

    // The actor has exited only once its interpreters have too (the one serving, one being
    // recycled, one starting): a pool's stop() must not resolve while any of them runs.
    const exited = child.exited.then(async (reason) => {
      await lives.allExited();
      return reason;
    });

    return {
      ref: child.ref,
      exited,
      shutdown: (reason) => child.shutdown(reason),
      // system.tree(): the interpreter this worker owns now (none while it is being replaced).
      inspect: () => ({ info: { ...(incarnation.interpreter && { pid: incarnation.interpreter.pid }), replacements } }),
      kill: () => {
        incarnation.ending = true;
        lives.killAll();
        child.kill();
      },
    };
  };
}
