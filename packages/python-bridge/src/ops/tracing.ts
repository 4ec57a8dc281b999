/**
 * Node's `diagnostics_channel` tracing for pool calls, so that OpenTelemetry or any APM can follow
 * them without the bridge knowing which one is listening.
 *
 * Channel `piton:pool:call` (a TracingChannel: `tracing:piton:pool:call:start`, `:end`,
 * `:asyncStart`, `:asyncEnd`, `:error`), published through `tracePromise`, so `start` runs in the
 * caller's async context and `asyncEnd` when the call settles. The context object is a
 * `CallTraceContext`: the pool's path, module, function and arguments; when the call settles, and
 * before `asyncEnd` or `error` is published, its `outcome`, `waitMs` and `runMs`, then `result` or
 * `error`. While nobody subscribes, a call costs one property read more, and no context is made.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { CallTiming } from './stats.js';

export const CALL_CHANNEL = 'piton:pool:call';

/** What subscribers of `piton:pool:call` receive. */
export interface CallTraceContext extends CallTiming {
  /** The pool's path in its supervision tree (`python-pool-1/root`, `app/root/py`). */
  readonly pool: string;
  readonly module: string;
  readonly fn: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>> | undefined;
  /** Set by `tracePromise` when the call resolves. */
  result?: unknown;
  /** Set by `tracePromise` when the call rejects. */
  error?: unknown;
}

export const callChannel = tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);

/** True while anything subscribes to the call channel (any of its five events). */
export function tracingCalls(): boolean {
  // TracingChannel.hasSubscribers is missing before Node 20.13; the channels' own flags are not.
  const c = callChannel;
  return c.start.hasSubscribers || c.end.hasSubscribers || c.asyncStart.hasSubscribers || c.asyncEnd.hasSubscribers || c.error.hasSubscribers;
}

/** Runs `call` inside the call channel's trace, with `context` as the message. */
export function traceCall<R>(context: CallTraceContext, call: () => Promise<R>): Promise<R> {
  return callChannel.tracePromise(call, context);
}
