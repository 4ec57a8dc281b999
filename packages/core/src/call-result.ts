import { BadReturnValueError } from './errors.js';
import type { ExitReason } from './exit-reason.js';

/**
 * What `handleCall` returns (gen_server's `handle_call` results):
 * - `{ reply, state }`: answer the caller now.
 * - `{ noreply: state }`: answer later with `ctx.reply(from, value)`.
 * - either of those with `continue: msg`: then run `handleContinue(msg, state)` before any other message.
 * - `{ stop: reason, reply, state }`: stop with `reason`; the caller gets `reply` once `terminate` has run.
 */
export type CallResult<S, Reply> =
  | { readonly reply: Reply; readonly state: S; readonly continue?: unknown }
  | { readonly noreply: S; readonly continue?: unknown }
  | { readonly stop: ExitReason; readonly reply: Reply; readonly state: S };

/** One handled message, whatever its kind: the new state and what to do next. */
export interface CallStep<S> {
  readonly state: S;
  /** Present when the caller is to be answered now. */
  readonly reply?: unknown;
  readonly continue?: { readonly msg: unknown };
  readonly stop?: { readonly reason: ExitReason; readonly reply: unknown };
}

/** Checks a `handleCall` result's shape; a wrong one is a crash with `BadReturnValueError` naming the forms (OTP's `bad_return_value`). */
export function readCallResult<S>(result: unknown, path: string): CallStep<S> {
  if (typeof result !== 'object' || result === null) throw badResult(result, path);
  const r = result as Record<string, unknown>;
  const next = 'continue' in r ? { continue: { msg: r.continue } } : {};
  if ('stop' in r) {
    if (!('reply' in r) || !('state' in r)) throw badResult(result, path);
    return { state: r.state as S, stop: { reason: r.stop as ExitReason, reply: r.reply } };
  }
  if ('noreply' in r) return { state: r.noreply as S, ...next };
  if ('reply' in r && 'state' in r) return { state: r.state as S, reply: r.reply, ...next };
  throw badResult(result, path);
}

function badResult(result: unknown, path: string): BadReturnValueError {
  return new BadReturnValueError(path, 'handleCall', result, '{ reply, state }, { noreply: state } or { stop, reply, state }');
}
