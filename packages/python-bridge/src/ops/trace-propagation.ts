/**
 * The caller's OpenTelemetry trace context, read from `@opentelemetry/api` when the application
 * has it (an optional peer dependency, looked for once, on the first call): the W3C headers that
 * make the call's Python spans children of the caller's span (PROTOCOL.md, "Call context").
 * Without the API, or outside a span, a call carries nothing and this costs one check.
 */
import { createRequire } from 'node:module';
import type { TraceHeaders } from '../wire/call-options.js';

/** What of `@opentelemetry/api` this reads; a structural subset, so no type of it is needed. */
export interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: { serialize(): string };
}
/** What of a `Baggage` this reads. */
export interface BaggageLike {
  getAllEntries(): [string, { value: string }][];
}
interface OtelApiLike {
  context: { active(): unknown };
  trace: { getSpanContext(context: unknown): SpanContextLike | undefined; isSpanContextValid(spanContext: SpanContextLike): boolean };
  propagation: { getBaggage(context: unknown): BaggageLike | undefined };
}

let api: OtelApiLike | null | undefined;

function otelApi(): OtelApiLike | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApiLike;
    } catch {
      api = null;
    }
  }
  return api;
}

/** The W3C headers of the active OpenTelemetry context, or undefined outside a (valid) span. */
export function activeTraceHeaders(): TraceHeaders | undefined {
  const otel = otelApi();
  if (otel === null) return undefined;
  return traceHeadersOf(otel, otel.context.active());
}

/** The W3C headers of `context` (an OpenTelemetry `Context`). */
export function traceHeadersOf(otel: OtelApiLike, context: unknown): TraceHeaders | undefined {
  const span = otel.trace.getSpanContext(context);
  if (span === undefined || !otel.trace.isSpanContextValid(span)) return undefined;
  return traceHeaders(span, otel.propagation.getBaggage(context));
}

/** `traceparent`'s last field for each value of the flags byte, written once. */
const FLAGS = Array.from({ length: 256 }, (_, flags) => flags.toString(16).padStart(2, '0'));

/**
 * The W3C headers of a span context (`traceparent`, and `tracestate` when it has one) and of
 * `baggage` when it has entries. One string concatenation for `traceparent`; nothing else is
 * made when there is no state or baggage.
 */
export function traceHeaders(span: SpanContextLike, baggage: BaggageLike | undefined): TraceHeaders {
  const headers: TraceHeaders = { traceparent: '00-' + span.traceId + '-' + span.spanId + '-' + FLAGS[span.traceFlags & 0xff]! };
  if (span.traceState !== undefined) {
    const state = span.traceState.serialize();
    if (state) headers.tracestate = state;
  }
  if (baggage !== undefined) {
    const entries = baggage.getAllEntries();
    if (entries.length > 0) headers.baggage = entries.map(([key, entry]) => `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`).join(',');
  }
  return headers;
}
