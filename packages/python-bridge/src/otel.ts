/**
 * `@piton/python-bridge/otel`: OpenTelemetry spans for pool calls and streams.
 *
 * ```ts
 * import { PitonInstrumentation } from '@piton/python-bridge/otel';
 * new PitonInstrumentation().enable();   // uses the global tracer provider, or pass { tracerProvider }
 * ```
 *
 * Enabled, it makes one span per call, `piton.call <module>.<function>` (kind CLIENT), as a child
 * of the span active where `pool.call()` was made, and one per stream, `piton.stream …`, with an
 * event per batch of items. The call's W3C trace context is its span's, so the Python function's
 * own spans (when `opentelemetry-api` is installed in the interpreter) are children of it. The
 * Node functions Python calls back run inside the span's context; each callback and `progress()`
 * value is an event on it. Attributes: `piton.pool`, `piton.module`, `piton.function`,
 * `piton.worker`, `piton.pid`, `piton.queue_wait_ms`, `piton.run_ms`, `piton.outcome`,
 * `piton.retries`, and `error.type` (the error's class) when it failed.
 *
 * It listens on the pool's diagnostics channels (`piton:pool:call`, `piton:pool:stream`); the pool
 * itself has no OpenTelemetry dependency. `@opentelemetry/api` is an optional peer dependency,
 * needed only by this entry point.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { CALL_CHANNEL, STREAM_CHANNEL, type CallTraceContext, type CallTraceEvent, type StreamTraceContext } from './ops/tracing.js';
import type { TraceHeaders } from './wire/call-options.js';
import { rejectUnknownKeys } from './validation.js';

export interface PitonInstrumentationOptions {
  /** Where spans go. @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
}

const INSTRUMENTATION_NAME = '@piton/python-bridge';
const INSTRUMENTATION_VERSION = '0.1.0';
const OPTION_NAMES = ['tracerProvider'] as const;

type Traced = CallTraceContext | StreamTraceContext;

export class PitonInstrumentation {
  readonly #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  readonly #spans = new WeakMap<Traced, Span>();
  #enabled = false;
  readonly #callHandlers = {
    start: (message: unknown) => this.#start(message as CallTraceContext, 'piton.call'),
    error: (message: unknown) => this.#failed(message as CallTraceContext),
    asyncEnd: (message: unknown) => this.#end(message as CallTraceContext),
  };
  readonly #streamHandlers = {
    start: (message: unknown) => this.#start(message as StreamTraceContext, 'piton.stream'),
    error: (message: unknown) => this.#failed(message as StreamTraceContext),
    asyncEnd: (message: unknown) => this.#end(message as StreamTraceContext),
  };

  constructor(options: PitonInstrumentationOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('PitonInstrumentation options must be an object');
    rejectUnknownKeys('options', options, OPTION_NAMES);
    this.#provider = options.tracerProvider;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  enable(): this {
    if (this.#enabled) return this;
    this.#enabled = true;
    this.#tracer = (this.#provider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    tracingChannel(CALL_CHANNEL).subscribe(this.#callHandlers as never);
    tracingChannel(STREAM_CHANNEL).subscribe(this.#streamHandlers as never);
    return this;
  }

  disable(): this {
    if (!this.#enabled) return this;
    this.#enabled = false;
    tracingChannel(CALL_CHANNEL).unsubscribe(this.#callHandlers as never);
    tracingChannel(STREAM_CHANNEL).unsubscribe(this.#streamHandlers as never);
    return this;
  }

  /** In the caller's async context: the span starts as a child of whatever is active there. */
  #start(traced: Traced, kind: string): void {
    const parent = context.active();
    const span = this.#tracer!.startSpan(
      `${kind} ${traced.module}.${traced.fn}`,
      { kind: SpanKind.CLIENT, attributes: { 'piton.pool': traced.pool, 'piton.module': traced.module, 'piton.function': traced.fn } },
      parent,
    );
    this.#spans.set(traced, span);
    const inSpan = trace.setSpan(parent, span);
    traced.traceHeaders = headersOf(span, inSpan);
    traced.runInContext = (fn) => context.with(inSpan, fn);
    traced.onEvent = (event) => span.addEvent(...eventOf(event));
  }

  #failed(traced: Traced): void {
    const span = this.#spans.get(traced);
    if (span === undefined) return;
    const error = traced.error;
    if (error instanceof Error) span.recordException(error);
    span.setAttribute('error.type', error instanceof Error ? error.constructor.name : typeof error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }

  #end(traced: Traced): void {
    const span = this.#spans.get(traced);
    if (span === undefined) return;
    this.#spans.delete(traced);
    const attributes: Attributes = {};
    if (traced.worker !== undefined) attributes['piton.worker'] = traced.worker;
    if (traced.pid !== undefined) attributes['piton.pid'] = traced.pid;
    if ('outcome' in traced) {
      const call = traced as CallTraceContext;
      if (call.outcome !== undefined) attributes['piton.outcome'] = call.outcome;
      if (call.waitMs !== undefined) attributes['piton.queue_wait_ms'] = call.waitMs;
      if (call.runMs !== undefined) attributes['piton.run_ms'] = call.runMs;
      attributes['piton.retries'] = call.retried ?? 0;
    } else if ('items' in traced && traced.items !== undefined) {
      attributes['piton.items'] = traced.items;
    }
    span.setAttributes(attributes);
    span.end();
  }
}

function eventOf(event: CallTraceEvent): [string, Attributes] {
  switch (event.kind) {
    case 'progress':
      return ['piton.progress', { 'piton.progress.value': safeAttribute(event.value) }];
    case 'callback':
      return ['piton.callback', { 'piton.callback.name': event.name }];
    case 'items':
      return ['piton.items', { 'piton.items.count': event.count, 'piton.items.done': event.done }];
  }
}

/** A progress value as an attribute: primitives as they are, anything else as JSON (cut short). */
function safeAttribute(value: unknown): string | number | boolean {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  try {
    return String(JSON.stringify(value)).slice(0, 256);
  } catch {
    return String(value).slice(0, 256);
  }
}

/** W3C headers for `span`, with the baggage of the context it runs in. */
function headersOf(span: Span, inSpan: Context): TraceHeaders {
  const carrier: Record<string, string> = {};
  propagationInject(inSpan, carrier);
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  const headers: TraceHeaders = { traceparent: `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  const state = traceState?.serialize();
  if (state) headers.tracestate = state;
  if (carrier.baggage) headers.baggage = carrier.baggage;
  return headers;
}

/** The baggage header of `ctx`, written directly (W3C Baggage), whatever propagator is registered. */
function propagationInject(ctx: Context, carrier: Record<string, string>): void {
  const entries = propagation.getBaggage(ctx)?.getAllEntries();
  if (entries !== undefined && entries.length > 0) {
    carrier.baggage = entries.map(([key, entry]) => `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`).join(',');
  }
}
