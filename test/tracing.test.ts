// One trace from Node into Python, with the real OpenTelemetry SDK on the Node side
// (sdk-trace-base with an in-memory exporter, context-async-hooks) and opentelemetry-api in the
// interpreters: the Python span's parent is the Node call's span, for sync, streamed, retried and
// failed calls, callbacks, both start methods and a remote host; logs and prints carry the call.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { PythonError, PythonPool, type InterpreterOutput, type PoolOptions } from '@piton/python-bridge';
import { PitonInstrumentation } from '@piton/python-bridge/otel';
import { fixtures, startHttpService } from './helpers.js';
import { namespacesUnavailable, TestHosts } from './remote/test-hosts.js';

interface Seen {
  trace_id: string;
  parent_span_id: string | null;
  call_id: string;
  context_trace_id: string | null;
  context_span_id: string | null;
  values: Record<string, unknown>;
  baggage: string | null;
  pid: number;
}

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
const contextManager = new AsyncLocalStorageContextManager();

/** Runs `fn` inside a new span of the test's own (as an HTTP server's instrumentation would). */
async function inSpan<T>(fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('request', async (span) => {
    try {
      return await fn(span);
    } finally {
      span.end();
    }
  });
}

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe('tracing: OpenTelemetry context from Node into Python', function () {
  this.timeout(60_000);
  const instrumentation = new PitonInstrumentation({ tracerProvider: provider });

  before(() => {
    context.setGlobalContextManager(contextManager.enable());
  });
  after(() => {
    instrumentation.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  for (const startMethod of ['forkserver', 'spawn'] as const) {
    describe(`start method ${startMethod}`, () => {
      let pool: PythonPool;
      const lines: InterpreterOutput[] = [];
      before(async () => {
        pool = await PythonPool.start({
          size: 1,
          path: fixtures,
          startMethod,
          onOutput: (line) => lines.push(line),
          expose: { spanInNode: () => trace.getActiveSpan()?.spanContext().spanId ?? null },
        });
      });
      after(() => pool?.stop());
      afterEach(() => instrumentation.disable());

      it('without the instrumentation, Python joins the caller\'s span', async () => {
        const [seen, spanId, traceId] = await inSpan(async (span) => [
          await pool.call<Seen>('traced', 'work'),
          span.spanContext().spanId,
          span.spanContext().traceId,
        ]);
        expect(seen.trace_id).to.equal(traceId);
        expect(seen.parent_span_id).to.equal(spanId);
        expect(seen.context_trace_id).to.equal(traceId);
        expect(seen.context_span_id).to.equal(spanId);
        expect(seen.call_id).to.match(new RegExp(`^${seen.pid}-\\d+$`));
      });

      it('outside any span, a call carries no trace context', async () => {
        const seen = await pool.call<Seen>('traced', 'work');
        expect(seen.context_trace_id).to.equal(null);
        expect(seen.parent_span_id).to.equal(null);
        expect(await pool.call('traced', 'outside_otel')).to.equal(null);
      });

      it('with the instrumentation, a span per call, and Python\'s span is its child', async () => {
        instrumentation.enable();
        const [seen, request] = await inSpan(async (span) => [await pool.call<Seen>('traced', 'work'), span.spanContext()] as const);
        const [callSpan] = spansNamed('piton.call traced.work');
        expect(callSpan, 'the call span').to.not.equal(undefined);
        expect(parentOf(callSpan!)).to.equal(request.spanId);
        expect(callSpan!.spanContext().traceId).to.equal(request.traceId);
        expect(seen.trace_id).to.equal(request.traceId);
        expect(seen.parent_span_id).to.equal(callSpan!.spanContext().spanId);
        const attributes = callSpan!.attributes;
        expect(attributes['piton.module']).to.equal('traced');
        expect(attributes['piton.function']).to.equal('work');
        expect(attributes['piton.worker']).to.equal('python-1');
        expect(attributes['piton.pid']).to.equal(seen.pid);
        expect(attributes['piton.outcome']).to.equal('ok');
        expect(attributes['piton.retries']).to.equal(0);
        expect(attributes['piton.queue_wait_ms']).to.be.a('number');
        expect(attributes['piton.run_ms']).to.be.a('number');
      });

      it('a failed call: its span has the error, and Python\'s span was still its child', async () => {
        instrumentation.enable();
        const error = await inSpan(() => pool.call('traced', 'fail').then(() => undefined, (e: unknown) => e));
        expect(error).to.be.instanceOf(PythonError);
        const [callSpan] = spansNamed('piton.call traced.fail');
        const [traceId, parent] = (error as PythonError).message.split(': ').at(-1)!.split(' ');
        expect(traceId).to.equal(callSpan!.spanContext().traceId);
        expect(parent).to.equal(callSpan!.spanContext().spanId);
        expect(callSpan!.status.code).to.equal(2); // SpanStatusCode.ERROR
        expect(callSpan!.attributes['error.type']).to.equal('PythonError');
        expect(callSpan!.attributes['piton.outcome']).to.equal('python_error');
      });

      it('a stream: one span, an event per batch, each item\'s Python span its child', async () => {
        instrumentation.enable();
        const items = await inSpan(async () => {
          const out: Seen[] = [];
          for await (const item of pool.stream<Seen>('traced', 'items', [5], { batch: 2 })) out.push(item);
          return out;
        });
        const [streamSpan] = spansNamed('piton.stream traced.items');
        expect(items).to.have.length(5);
        for (const item of items) expect(item.parent_span_id).to.equal(streamSpan!.spanContext().spanId);
        expect(new Set(items.map((i) => i.call_id)).size, 'one call id for the stream').to.equal(1);
        expect(streamSpan!.events.filter((e) => e.name === 'piton.items').map((e) => e.attributes?.['piton.items.count'])).to.deep.equal([2, 2, 1]);
        expect(streamSpan!.attributes['piton.items']).to.equal(5);
      });

      it('with the instrumentation, baggage still reaches Python, and each progress() value is an event on the call span', async () => {
        instrumentation.enable();
        const baggage = propagation.createBaggage({ tenant: { value: 'acme corp' } });
        const seen = await context.with(propagation.setBaggage(context.active(), baggage), () => inSpan(() => pool.call<Seen>('traced', 'work')));
        const [callSpan] = spansNamed('piton.call traced.work');
        expect(seen.baggage).to.equal('tenant=acme%20corp');
        expect(seen.parent_span_id).to.equal(callSpan!.spanContext().spanId);
        const values: unknown[] = [];
        await inSpan(() => pool.call('callbacks', 'count', [3], { onProgress: (value) => values.push(value) }));
        const [countSpan] = spansNamed('piton.call callbacks.count');
        expect(values).to.deep.equal([1, 2, 3].map((done) => ({ done, of: 3 })));
        const events = countSpan!.events.filter((e) => e.name === 'piton.progress').map((e) => e.attributes?.['piton.progress.value']);
        expect(events).to.deep.equal(values.map((value) => JSON.stringify(value)));
      });

      it('a callback into Node runs inside the call\'s span, and is an event on it', async () => {
        instrumentation.enable();
        const seen = await inSpan(() => pool.call<Seen & { node: string | null }>('traced', 'calls_back'));
        const [callSpan] = spansNamed('piton.call traced.calls_back');
        expect(seen.node).to.equal(callSpan!.spanContext().spanId);
        expect(callSpan!.events.map((e) => e.name)).to.include('piton.callback');
      });

      it('context values, baggage and the call id reach Python; prints and log records carry the call', async () => {
        lines.length = 0;
        const baggage = propagation.createBaggage({ tenant: { value: 'acme corp' } });
        const [seen, traceId] = await context.with(propagation.setBaggage(context.active(), baggage), () =>
          inSpan(async (span) => [await pool.call<Seen>('traced', 'work', [], { context: { requestId: 'r-17', n: [1, 2] } }), span.spanContext().traceId] as const),
        );
        expect(seen.values).to.deep.equal({ requestId: 'r-17', n: [1, 2] });
        expect(seen.baggage).to.equal('tenant=acme%20corp');
        expect(seen.trace_id).to.equal(traceId);
        expect(await pool.call('traced', 'mutate_context', [], { context: { a: 1 } })).to.equal("a call's context values are read-only");

        const callId = await inSpan(() => pool.call<string>('traced', 'logs_and_prints', ['hello']));
        const printed = await waitForLine(lines, 'printed hello');
        const logged = await waitForLine(lines, 'logged hello');
        expect(printed.callId).to.equal(callId);
        expect(printed.traceId).to.match(/^[0-9a-f]{32}$/);
        expect(logged.callId).to.equal(callId);
        expect(logged.line).to.equal(`log call_id=${callId} trace_id=${printed.traceId} logged hello`);
        expect(lines.some((l) => l.line.includes('piton-call')), 'markers are taken out').to.equal(false);
      });
    });
  }

  it('a retried call keeps its one span; the attempt that ran is its Python child', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piton-trace-'));
    const pool = await PythonPool.start({ size: 1, path: fixtures, onOutput: false });
    try {
      instrumentation.enable();
      const seen = await inSpan(() => pool.call<Seen>('traced', 'dies_once', [join(dir, 'marker')], { retries: 1 }));
      const [callSpan] = spansNamed('piton.call traced.dies_once');
      expect(seen.parent_span_id).to.equal(callSpan!.spanContext().spanId);
      expect(callSpan!.attributes['piton.retries']).to.equal(1);
    } finally {
      instrumentation.disable();
      await pool.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two instrumentations enabled at once each make and end their own span for a call', async () => {
    const otherExporter = new InMemorySpanExporter();
    const other = new PitonInstrumentation({ tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(otherExporter)] }) });
    const pool = await PythonPool.start({ size: 1, path: fixtures, onOutput: false });
    try {
      instrumentation.enable();
      other.enable();
      await inSpan(() => pool.call('traced', 'work'));
      const mine = spansNamed('piton.call traced.work');
      const theirs = otherExporter.getFinishedSpans().filter((s) => s.name === 'piton.call traced.work');
      expect(mine, 'spans ended by the first').to.have.length(1);
      expect(theirs, 'spans ended by the second').to.have.length(1);
      expect(mine[0]!.spanContext().spanId).to.not.equal(theirs[0]!.spanContext().spanId);
      expect(mine[0]!.attributes['piton.outcome']).to.equal('ok');
      expect(theirs[0]!.attributes['piton.outcome']).to.equal('ok');
    } finally {
      other.disable();
      instrumentation.disable();
      await pool.stop();
    }
  });

  it('refuses context values JSON cannot carry, and oversized ones, before anything is sent', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, onOutput: false });
    try {
      const bad: [unknown, ErrorConstructor][] = [
        [new Map(), TypeError],
        [{ d: new Date() }, TypeError],
        [{ n: Number.NaN }, TypeError],
        [{ f: () => 1 }, TypeError],
        ['id', TypeError],
        [{ big: 'x'.repeat(5000) }, RangeError],
      ];
      for (const [value, type] of bad) {
        const error = await pool.call('traced', 'context_values', [], { context: value as Record<string, unknown> }).catch((e: unknown) => e);
        expect(error, String(value)).to.be.instanceOf(type);
      }
      expect(await pool.call('traced', 'context_values', [], { context: { ok: true } })).to.deep.equal({ ok: true });
    } finally {
      await pool.stop();
    }
  });

  describe('on a remote host', () => {
    let hosts: TestHosts | undefined;
    before(async function () {
      const why = namespacesUnavailable();
      if (why !== undefined) {
        console.log(`      (skipped: network namespaces cannot be made here: ${why})`);
        this.skip();
      }
      hosts = await TestHosts.create(1);
    });
    after(async () => {
      instrumentation.disable();
      await hosts?.destroy();
    });

    it('a remote interpreter\'s span is the call span\'s child', async () => {
      const host = hosts!.hosts[0]!;
      const options: PoolOptions = { remote: { hosts: [{ agent: host.agent, serverKey: host.serverKey, size: 1 }], keys: hosts!.client }, path: fixtures, onOutput: false };
      const pool = await PythonPool.start(options);
      try {
        instrumentation.enable();
        const seen = await inSpan(() => pool.call<Seen>('traced', 'work'));
        const [callSpan] = spansNamed('piton.call traced.work');
        expect(seen.parent_span_id).to.equal(callSpan!.spanContext().spanId);
        expect(seen.trace_id).to.equal(callSpan!.spanContext().traceId);
        expect(TestHosts.runsIn(seen.pid, host)).to.equal(true);
      } finally {
        await pool.stop();
      }
    });
  });
});

async function waitForLine(lines: InterpreterOutput[], text: string): Promise<InterpreterOutput> {
  // Output arrives on its own pipe: wait for the line itself, not for time.
  for (;;) {
    const found = lines.find((l) => l.line.endsWith(text));
    if (found) return found;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('examples/http-service with PITON_TRACE=1: one trace from the HTTP request into the pool', function () {
  this.timeout(120_000);

  it('the call span is a child of the request span, in one trace', async () => {
    const { child, base, stdout } = await startHttpService({ PITON_TRACE: '1', POOL_SIZE: '1' });
    const spans: { trace: string; span: string; parent?: string; name: string; attributes: Record<string, unknown> }[] = [];
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const res = await fetch(`${base}/predict`, { method: 'POST', body: JSON.stringify({ features: [[5.1, 3.5, 1.4, 0.2]] }) });
      expect(res.status).to.equal(200);
      await res.text();
      // The server span ends when the response closes: wait for both lines.
      for (;;) {
        spans.length = 0;
        for (const line of stdout().split('\n')) if (line.startsWith('{')) spans.push(JSON.parse(line) as (typeof spans)[number]);
        if (spans.some((s) => s.name === 'POST /predict')) break;
        await new Promise((resolve) => child.stdout.once('data', resolve));
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const server = spans.find((s) => s.name === 'POST /predict')!;
    const call = spans.find((s) => s.name === 'piton.call model.predict')!;
    expect(call, 'the call span').to.not.equal(undefined);
    expect(call.parent).to.equal(server.span);
    expect(call.trace).to.equal(server.trace);
    expect(call.attributes['piton.outcome']).to.equal('ok');
    expect(call.attributes['piton.worker']).to.equal('python-1');
  });
});
