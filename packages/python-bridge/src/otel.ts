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
 * channel's context object (no map of spans), and the callback and event hooks are shared
 * functions that find it there; the span's `Context` is made only when a callback runs in it.
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

/** Where the instrumentation keeps a call's span, and the context it started in, on the channel's message. */
const SPAN = Symbol('piton.otel.span');
const PARENT = Symbol('piton.otel.parent');

type Traced = (CallTraceContext | StreamTraceContext) & { [SPAN]?: Span; [PARENT]?: Context };

export class PitonInstrumentation {
  readonly #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  #enabled = false;
  readonly #callHandlers = {
    start: (message: unknown) => this.#start(message as Traced, 'piton.call '),
    error: (message: unknown) => failed(message as Traced),
    asyncEnd: (message: unknown) => endCall(message as Traced & CallTraceContext),
  };
  readonly #streamHandlers = {
    start: (message: unknown) => this.#start(message as Traced, 'piton.stream '),
    error: (message: unknown) => failed(message as Traced),
    asyncEnd: (message: unknown) => endStream(message as Traced & StreamTraceContext),
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
    traced[SPAN] = span;
    traced[PARENT] = parent;
    // The span's own context, with the caller's baggage (a span does not change the baggage).
    traced.traceHeaders = traceHeaders(span.spanContext(), propagation.getBaggage(parent));
    traced.runInContext = runInSpan;
    traced.onEvent = addEvent;
  }
}

/**
 * `runInContext` of every traced call: runs `fn` inside the call's span. Called as a method of
 * the channel's message (`trace.runInContext(fn)`), which is where the span is.
 */
function runInSpan<T>(this: Traced, fn: () => T): T {
  const span = this[SPAN];
  return span === undefined ? fn() : context.with(trace.setSpan(this[PARENT] ?? context.active(), span), fn);
}

/** `onEvent` of every traced call: the event on the call's span, while it records. A method of the message too. */
function addEvent(this: Traced, event: CallTraceEvent): void {
  const span = this[SPAN];
  if (span === undefined || !span.isRecording()) return;
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

function failed(traced: Traced): void {
  const span = traced[SPAN];
  if (span === undefined || !span.isRecording()) return;
  const error = traced.error;
  if (error instanceof Error) span.recordException(error);
  span.setAttribute('error.type', error instanceof Error ? error.constructor.name : typeof error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Takes the span off the message (it is ended once), or undefined when it has none. */
function takeSpan(traced: Traced): Span | undefined {
  const span = traced[SPAN];
  if (span === undefined) return undefined;
  traced[SPAN] = undefined;
  traced[PARENT] = undefined;
  return span;
}

function endCall(call: Traced & CallTraceContext): void {
  const span = takeSpan(call);
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

function endStream(stream: Traced & StreamTraceContext): void {
  const span = takeSpan(stream);
  if (span === undefined) return;
  if (span.isRecording()) {
    if (stream.worker !== undefined) span.setAttribute('piton.worker', stream.worker);
    if (stream.pid !== undefined) span.setAttribute('piton.pid', stream.pid);
    if (stream.items !== undefined) span.setAttribute('piton.items', stream.items);
  }
  span.end();
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
