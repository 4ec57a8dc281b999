// Tracing for the service, on when PITON_TRACE=1: OpenTelemetry's Node SDK with one span per HTTP
// request (a real service gets that span from @opentelemetry/instrumentation-http), the pool's
// instrumentation for the calls, and an exporter that prints each finished span as one JSON line
// on stdout (a real service exports to its collector instead: only the exporter changes).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { PitonInstrumentation } from '@piton/python-bridge/otel';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Each finished span as a JSON line: its ids, parent, name, duration and attributes. */
class JsonLinesExporter implements SpanExporter {
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    for (const span of spans) {
      const { traceId, spanId } = span.spanContext();
      process.stdout.write(
        `${JSON.stringify({
          trace: traceId,
          span: spanId,
          parent: span.parentSpanContext?.spanId,
          name: span.name,
          ms: span.duration[0] * 1e3 + span.duration[1] / 1e6,
          attributes: span.attributes,
        })}\n`,
      );
    }
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** `handler` inside a server span per request, with the pool's calls traced under it; or `handler` itself. */
export function traced(handler: Handler): Handler {
  if (process.env.PITON_TRACE !== '1') return handler;
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new JsonLinesExporter())] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  new PitonInstrumentation().enable();
  const tracer = trace.getTracer('http-service');
  return (req, res) => {
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://service').pathname}`;
    tracer.startActiveSpan(route, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '' } }, (span) => {
      res.once('close', () => {
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
      handler(req, res);
    });
  };
}
