import { BadReturnValueError } from './errors.js';
import type { ExitReason } from './exit-reason.js';
import { closest } from './validation.js';

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

/** The keys of each form; any other key is a bad return (a misspelt `continue` would otherwise be dropped). */
const FORMS = {
  stop: { keys: ['stop', 'reply', 'state'], text: '{ stop, reply, state }' },
  noreply: { keys: ['noreply', 'continue'], text: '{ noreply: state, continue? }' },
  reply: { keys: ['reply', 'state', 'continue'], text: '{ reply, state, continue? }' },
} as const;

/**
 * Checks a `handleCall` result's shape; a wrong one is a crash with `BadReturnValueError` naming the
 * forms (OTP's `bad_return_value`). A key that is no part of the result's form is one too, named
 * with "did you mean" (`contine` for `continue`), as an unknown key anywhere in core is.
 */
export function readCallResult<S>(result: unknown, path: string): CallStep<S> {
  if (typeof result !== 'object' || result === null) throw badResult(result, path);
  const r = result as Record<string, unknown>;
  const next = 'continue' in r ? { continue: { msg: r.continue } } : {};
  if ('stop' in r) {
    if (!('reply' in r) || !('state' in r)) throw badResult(result, path);
    checkKeys(r, FORMS.stop, path);
    return { state: r.state as S, stop: { reason: r.stop as ExitReason, reply: r.reply } };
  }
  if ('noreply' in r) {
    checkKeys(r, FORMS.noreply, path);
    return { state: r.noreply as S, ...next };
  }
  if ('reply' in r && 'state' in r) {
    checkKeys(r, FORMS.reply, path);
    return { state: r.state as S, reply: r.reply, ...next };
  }
  throw badResult(result, path);
}

function checkKeys(r: Record<string, unknown>, form: { readonly keys: readonly string[]; readonly text: string }, path: string): void {
  for (const key of Object.keys(r)) {
    if (form.keys.includes(key)) continue;
    const guess = closest(key, form.keys);
    throw new BadReturnValueError(path, 'handleCall', r, `${form.text}, and ${key} is not a key of it${guess === undefined ? '' : `; did you mean ${guess}?`}`);
  }
}

function badResult(result: unknown, path: string): BadReturnValueError {
  return new BadReturnValueError(path, 'handleCall', result, '{ reply, state }, { noreply: state } or { stop, reply, state }');
}
