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
 * Per call it does what a span needs and no more: one `startSpan` with the attributes known then,
 * the W3C headers written from the span's context in one concatenation, the attributes known at
 * the end set one by one (none when the span is not recording), `end()`. The span rides on the
 * channel's context object (no map of spans), and the callback and event hooks are functions made
 * once per instrumentation that find it there; the span's `Context` is made only when a callback
 * runs in it.
 *
 * It listens on the pool's diagnostics channels (`piton:pool:call`, `piton:pool:stream`); the pool
 * itself has no OpenTelemetry dependency. `@opentelemetry/api` is an optional peer dependency,
 * needed only by this entry point.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { traceHeaders } from './ops/trace-propagation.js';
import { CALL_CHANNEL, STREAM_CHANNEL, type CallTraceContext, type CallTraceEvent, type StreamTraceContext } from './ops/tracing.js';
import { rejectUnknownKeys } from './validation.js';

export interface PitonInstrumentationOptions {
  /** Where spans go. @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
}

const INSTRUMENTATION_NAME = '@piton/python-bridge';
const INSTRUMENTATION_VERSION = '0.1.0';
const OPTION_NAMES = ['tracerProvider'] as const;

type Traced = CallTraceContext | StreamTraceContext;

/**
 * One instrumentation's spans, kept on the channel's messages under symbols of its own (two
 * instrumentations enabled at once each end their own spans), and its two hooks: functions made
 * once, which the bridge calls as methods of the message (`trace.runInContext(fn)`), where they
 * find the span.
 */
class SpanSlots {
  readonly #span = Symbol('piton.otel.span');
  readonly #parent = Symbol('piton.otel.parent');
  /** `runInContext` of every call: `fn` inside the call's span (in the context the call was made in). */
  readonly runInContext: <T>(this: Traced, fn: () => T) => T;
  /** `onEvent` of every call: the event on the call's span, while it records. */
  readonly onEvent: (this: Traced, event: CallTraceEvent) => void;

  constructor() {
    const slots = this;
    this.runInContext = function <T>(this: Traced, fn: () => T): T {
      const span = slots.span(this);
      return span === undefined ? fn() : context.with(trace.setSpan(slots.#parentOf(this) ?? context.active(), span), fn);
    };
    this.onEvent = function (this: Traced, event: CallTraceEvent): void {
      const span = slots.span(this);
      if (span !== undefined && span.isRecording()) addEvent(span, event);
    };
  }

  put(traced: Traced, span: Span, parent: Context): void {
    const slots = traced as Traced & Record<symbol, unknown>;
    slots[this.#span] = span;
    slots[this.#parent] = parent;
  }

  span(traced: Traced): Span | undefined {
    return (traced as Traced & Record<symbol, Span | undefined>)[this.#span];
  }

  /** Takes the span off the message (it is ended once), or undefined when it has none. */
  take(traced: Traced): Span | undefined {
    const slots = traced as Traced & Record<symbol, unknown>;
    const span = slots[this.#span] as Span | undefined;
    if (span !== undefined) {
      slots[this.#span] = undefined;
      slots[this.#parent] = undefined;
    }
    return span;
  }

  #parentOf(traced: Traced): Context | undefined {
    return (traced as Traced & Record<symbol, Context | undefined>)[this.#parent];
  }
}

export class PitonInstrumentation {
  readonly #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  #enabled = false;
  readonly #slots = new SpanSlots();
  readonly #callHandlers = {
    start: (message: unknown) => this.#start(message as Traced, 'piton.call '),
    error: (message: unknown) => this.#failed(message as Traced),
    asyncEnd: (message: unknown) => this.#endCall(message as CallTraceContext),
  };
  readonly #streamHandlers = {
    start: (message: unknown) => this.#start(message as Traced, 'piton.stream '),
    error: (message: unknown) => this.#failed(message as Traced),
    asyncEnd: (message: unknown) => this.#endStream(message as StreamTraceContext),
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
  #start(traced: Traced, prefix: string): void {
    const parent = context.active();
    const span = this.#tracer!.startSpan(
      prefix + traced.module + '.' + traced.fn,
      { kind: SpanKind.CLIENT, attributes: { 'piton.pool': traced.pool, 'piton.module': traced.module, 'piton.function': traced.fn } },
      parent,
    );
    this.#slots.put(traced, span, parent);
    // The span's own context, with the caller's baggage (a span does not change the baggage).
    traced.traceHeaders = traceHeaders(span.spanContext(), propagation.getBaggage(parent));
    traced.runInContext = this.#slots.runInContext;
    traced.onEvent = this.#slots.onEvent;
  }

  #failed(traced: Traced): void {
    const span = this.#slots.span(traced);
    if (span === undefined || !span.isRecording()) return;
    const error = traced.error;
    if (error instanceof Error) span.recordException(error);
    span.setAttribute('error.type', error instanceof Error ? error.constructor.name : typeof error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }

  #endCall(call: CallTraceContext): void {
    const span = this.#slots.take(call);
    if (span === undefined) return;
    if (span.isRecording()) {
      if (call.worker !== undefined) span.setAttribute('piton.worker', call.worker);
      if (call.pid !== undefined) span.setAttribute('piton.pid', call.pid);
      if (call.outcome !== undefined) span.setAttribute('piton.outcome', call.outcome);
      if (call.waitMs !== undefined) span.setAttribute('piton.queue_wait_ms', call.waitMs);
      if (call.runMs !== undefined) span.setAttribute('piton.run_ms', call.runMs);
      span.setAttribute('piton.retries', call.retried ?? 0);
    }
    span.end();
  }

  #endStream(stream: StreamTraceContext): void {
    const span = this.#slots.take(stream);
    if (span === undefined) return;
    if (span.isRecording()) {
      if (stream.worker !== undefined) span.setAttribute('piton.worker', stream.worker);
      if (stream.pid !== undefined) span.setAttribute('piton.pid', stream.pid);
      if (stream.items !== undefined) span.setAttribute('piton.items', stream.items);
    }
    span.end();
  }
}

function addEvent(span: Span, event: CallTraceEvent): void {
  switch (event.kind) {
    case 'progress':
      span.addEvent('piton.progress', { 'piton.progress.value': safeAttribute(event.value) });
      return;
    case 'callback':
      span.addEvent('piton.callback', { 'piton.callback.name': event.name });
      return;
    case 'items':
      span.addEvent('piton.items', { 'piton.items.count': event.count, 'piton.items.done': event.done });
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
