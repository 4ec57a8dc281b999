import { isIgnore, worker, type ExitReason, type Ignore, type StartContext, type StartFn, type StartedChild } from '@piton/core';
import { WorkerExitedError } from './errors.js';
import type { ExitInfo, Interpreter, InterpreterOptions } from './interpreter.js';
import { LiveInterpreters } from './live-interpreters.js';

/** What every worker of one pool shares: how to start an interpreter, and where to report it. */
export interface WorkerEnvironment {
  interpreterOptions(workerId: string): InterpreterOptions;
  /** A started interpreter is ready to serve. */
  onReady(interpreter: Interpreter, recycle: () => void): void;
  /** The interpreter leaves service; resolves once the call it runs, if any, has settled. */
  onLeave(interpreter: Interpreter): Promise<void>;
}

/** What `ref.call(...)` on a Python worker answers. */
export type PythonWorkerRequest = 'info';
export interface PythonWorkerInfo {
  id: string;
  pid: number;
  python: string;
  protocol: number;
}

type Message = { type: 'recycle' };

/** The OTP exit reason of an interpreter's exit. */
export function exitReasonOf(info: ExitInfo): ExitReason {
  if (info.killed) return 'killed';
  if (info.stopRequested) return 'shutdown';
  if (info.code === 0) return 'normal';
  if (info.lost !== undefined) return info.lost;
  return new WorkerExitedError(info.code, info.signal);
}

/** The interpreter of the current incarnation, so that a brutal kill reaches the process too. */
interface Incarnation {
  interpreter?: Interpreter;
  /** Set once the actor is being stopped or was killed: no interpreter may start after that. */
  ending?: boolean;
}

/**
 * A PythonWorker: a core worker actor that owns one interpreter process.
 *
 * The actor owns the interpreter's life: it starts it in `init`, turns its exit into the actor's
 * exit with an OTP reason (code 0 → normal, graceful stop → shutdown, killed → killed, anything
 * else abnormal), drains and stops it in `terminate`, and replaces it in place when the pool
 * recycles it. Calls do not pass through the actor's mailbox: the dispatcher hands them straight
 * to the interpreter, since a mailbox hop per call would cost more than the socket round trip.
 */
export function pythonWorker(env: WorkerEnvironment): StartFn<unknown> {
  return async (ctx: StartContext): Promise<StartedChild<unknown> | Ignore> => {
    const incarnation: Incarnation = {};
    const workerId = String(ctx.id);
    const lives = new LiveInterpreters();

    const serve = (interpreter: Interpreter, self: { cast(msg: Message): void }) => {
      if (incarnation.ending) {
        // Killed while this interpreter was starting: it must not outlive the actor.
        interpreter.kill();
        throw new WorkerExitedError(null, 'SIGKILL');
      }
      incarnation.interpreter = interpreter;
      env.onReady(interpreter, () => self.cast({ type: 'recycle' }));
    };

    const child = await worker<Incarnation, PythonWorkerRequest, PythonWorkerInfo | undefined, Message>({
      init: async (workerCtx) => {
        const interpreter = await lives.start(env.interpreterOptions(workerId));
        watch(interpreter, workerCtx);
        serve(interpreter, workerCtx.self);
        return incarnation;
      },
      handleCall: async (_request, state) => {
        const interpreter = state.interpreter;
        const info: PythonWorkerInfo | undefined = interpreter && {
          id: workerId,
          pid: interpreter.pid,
          python: interpreter.info.python,
          protocol: interpreter.info.protocol,
        };
        return { reply: info, state };
      },
      handleCast: async (message, state, workerCtx) => {
        if (message.type !== 'recycle' || !state.interpreter) return state;
        // Recycling replaces the interpreter without an exit of the actor: it is routine
        // hygiene (maxTasksPerWorker), not a failure, and must not count toward intensity.
        const old = state.interpreter;
        state.interpreter = undefined;
        await env.onLeave(old);
        await old.stop();
        const fresh = await lives.start(env.interpreterOptions(workerId));
        watch(fresh, workerCtx);
        serve(fresh, workerCtx.self);
        return state;
      },
      terminate: async (_reason, state) => {
        state.ending = true;
        const interpreter = state.interpreter;
        if (!interpreter) return;
        await env.onLeave(interpreter);
        await interpreter.stop();
      },
    })(ctx);
    if (isIgnore(child)) return child; // a worker's start may ignore; forward it as the supervisor expects

    function watch(interpreter: Interpreter, workerCtx: { exit(reason: ExitReason): void }) {
      void interpreter.exited.then((info) => {
        // Recycled on purpose, or stopped by terminate: neither is a crash of the actor.
        if (incarnation.interpreter !== interpreter || incarnation.ending) return;
        void env.onLeave(interpreter);
        workerCtx.exit(exitReasonOf(info));
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
      inspect: () => ({ info: incarnation.interpreter ? { pid: incarnation.interpreter.pid } : {} }),
      kill: () => {
        incarnation.ending = true;
        lives.killAll();
        child.kill();
      },
    };
  };
}
