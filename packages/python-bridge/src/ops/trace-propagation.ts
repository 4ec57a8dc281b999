/**
 * The caller's OpenTelemetry trace context, read from `@opentelemetry/api` when the application
 * has it (an optional peer dependency, looked for once, on the first call): the W3C headers that
 * make the call's Python spans children of the caller's span (PROTOCOL.md, "Call context").
 * Without the API, or outside a span, a call carries nothing and this costs one check.
 */
import { createRequire } from 'node:module';
import type { TraceHeaders } from '../wire/call-options.js';

/** What of `@opentelemetry/api` this reads; a structural subset, so no type of it is needed. */
interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: { serialize(): string };
}
interface OtelApiLike {
  context: { active(): unknown };
  trace: { getSpanContext(context: unknown): SpanContextLike | undefined; isSpanContextValid(spanContext: SpanContextLike): boolean };
  propagation: { getBaggage(context: unknown): { getAllEntries(): [string, { value: string }][] } | undefined };
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
  const headers: TraceHeaders = { traceparent: `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  const state = span.traceState?.serialize();
  if (state) headers.tracestate = state;
  const entries = otel.propagation.getBaggage(context)?.getAllEntries();
  if (entries !== undefined && entries.length > 0) {
    headers.baggage = entries.map(([key, entry]) => `${encodeURIComponent(key)}=${encodeURIComponent(entry.value)}`).join(',');
  }
  return headers;
}
