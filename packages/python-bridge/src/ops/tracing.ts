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
import type { TraceHeaders } from '../wire/call-options.js';

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
  /** The interpreter that ran the call (the last one, if it was run again), once one took it. */
  worker?: string;
  pid?: number;
  /** Times the call was run again after its interpreter died (`retries`). */
  retried?: number;
  /**
   * Set by a subscriber at `start`: the W3C headers of its span for the call, which then travel
   * with the call instead of the caller's, so that Python's spans are children of that span.
   */
  traceHeaders?: TraceHeaders;
  /**
   * Set by a subscriber at `start`: runs the Node functions Python calls back inside its span's
   * context. The bridge calls it as a method of this object (`trace.runInContext(fn)`), so one
   * shared function can find its span here.
   */
  runInContext?: <T>(fn: () => T) => T;
  /** Set by a subscriber at `start`: told of each `progress()` value and callback while the call runs; called as a method of this object too. */
  onEvent?: (event: CallTraceEvent) => void;
}

/** What happens during a call, as {@link CallTraceContext.onEvent} hears it. */
export type CallTraceEvent = { kind: 'progress'; value: unknown } | { kind: 'callback'; name: string } | { kind: 'items'; count: number; done: boolean };

export const STREAM_CHANNEL = 'piton:pool:stream';

/**
 * What subscribers of `piton:pool:stream` receive: `start` when a stream is opened (in the
 * consumer's async context), then `asyncEnd` when it ends, after `error` if it failed.
 */
export interface StreamTraceContext {
  readonly pool: string;
  readonly module: string;
  readonly fn: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>> | undefined;
  error?: unknown;
  /** Items received. */
  items?: number;
  worker?: string;
  pid?: number;
  traceHeaders?: TraceHeaders;
  runInContext?: <T>(fn: () => T) => T;
  onEvent?: (event: CallTraceEvent) => void;
}

export const streamChannel = tracingChannel<unknown, StreamTraceContext>(STREAM_CHANNEL);

/** True while anything subscribes to the stream channel. */
export function tracingStreams(): boolean {
  const c = streamChannel;
  return c.start.hasSubscribers || c.asyncEnd.hasSubscribers || c.error.hasSubscribers;
}

export const callChannel = tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);

/** True while anything subscribes to the call channel (any of its five events). */
export function tracingCalls(): boolean {
  // TracingChannel.hasSubscribers is missing before Node 20.13; the channels' own flags are not.
  const c = callChannel;
  return c.start.hasSubscribers || c.end.hasSubscribers || c.asyncStart.hasSubscribers || c.asyncEnd.hasSubscribers || c.error.hasSubscribers;
}

/**
 * True while the call channel's only subscribers listen for `asyncEnd` (the Prometheus exporter):
 * nobody can give a call anything at `start`, and nobody hears its other events.
 */
export function tracingOutcomesOnly(): boolean {
  const c = callChannel;
  return !c.start.hasSubscribers && !c.end.hasSubscribers && !c.asyncStart.hasSubscribers && !c.error.hasSubscribers;
}

/**
 * `settled`, its outcome published on `asyncEnd` with `context` as `tracePromise` would publish
 * it, for when only `asyncEnd` has subscribers: without the other four events, the stores they
 * run and the promise `tracePromise` wraps around each call.
 */
export function publishOutcome<R>(context: CallTraceContext, settled: Promise<R>): Promise<R> {
  settled.then(
    (result) => {
      context.result = result;
      callChannel.asyncEnd.publish(context);
    },
    (error: unknown) => {
      context.error = error;
      callChannel.asyncEnd.publish(context);
    },
  );
  return settled;
}

/** Runs `call` inside the call channel's trace, with `context` as the message. */
export function traceCall<R>(context: CallTraceContext, call: () => Promise<R>): Promise<R> {
  return callChannel.tracePromise(call, context);
}
