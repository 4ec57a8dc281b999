/**
 * What tracing costs per call (issue: "one trace from the HTTP request into Python").
 *
 * In-process figures are CPU time of the Node process (alternating blocks); end-to-end ones wall time.
 *
 * - The path every call takes when no OpenTelemetry context is active (or `@opentelemetry/api`
 *   is absent): `activeTraceHeaders()` and the `context` option's check. Timed in-process in
 *   alternating blocks against nothing, and set against the same run's no-op round trip: the
 *   ratio is (round trip + path) / round trip.
 * - The instrumentation's work per call, in-process: a call traced on `piton:pool:call` with
 *   `PitonInstrumentation` subscribed (a span started, its W3C headers written, attributes set,
 *   ended into an in-memory exporter), against the same traced call with nobody subscribed.
 * - End to end, for scale: no-op p50 on a pool of 1, plain, inside an active span (the context
 *   travels; Python makes it current only when it has opentelemetry-api), and instrumented; the
 *   three alternate within each trial.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { CALL_CHANNEL, type CallTraceContext, type PythonPool } from '@piton/python-bridge';
import { PitonInstrumentation } from '@piton/python-bridge/otel';
import type { BenchContext } from './lib/context.js';
import { activeTraceHeaders } from './lib/internals.js';
import { startPool } from './lib/pool.js';
import type { Row } from './lib/report.js';
import { percentile, summarize } from './lib/stats.js';
import { latencies } from './lib/timing.js';

const PER_BLOCK = 20_000;

/**
 * Median over alternating blocks of (µs per iteration of `b`) − (µs per iteration of `a`), in this
 * process's CPU time: what the work costs Node, whatever else the machine runs meanwhile.
 */
async function difference(a: () => unknown, b: () => unknown, blocks: number): Promise<number> {
  const time = async (op: () => unknown) => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < PER_BLOCK; i++) await op();
    const { user, system } = process.cpuUsage(c0);
    return (user + system) / PER_BLOCK;
  };
  await time(a);
  await time(b);
  const out: number[] = [];
  for (let i = 0; i < blocks; i++) {
    if (i % 2 === 0) out.push(-(await time(a)) + (await time(b)));
    else out.push((await time(b)) - (await time(a)));
  }
  return summarize(out).median;
}

export async function runTracing(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 600 : 3_000;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('bench');
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const instrumentation = new PitonInstrumentation({ tracerProvider: provider });
  const pool: PythonPool = await startPool(ctx, { size: 1 });
  const noop = () => pool.call('functions', 'noop', [1]);
  const inSpan = () => tracer.startActiveSpan('request', (span) => noop().finally(() => span.end()));
  const channel = tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);
  const args = [1];
  const tracedCall = () => {
    const traced: CallTraceContext = { pool: pool.path, module: 'functions', fn: 'noop', args, kwargs: undefined };
    return channel.tracePromise(() => {
      traced.traceHeaders ??= activeTraceHeaders();
      traced.outcome = 'ok';
      traced.waitMs = 0.01;
      traced.runMs = 0.1;
      return Promise.resolve(1);
    }, traced);
  };

  const path: number[] = [];
  const work: number[] = [];
  const p50 = { plain: [] as number[], span: [] as number[], instrumented: [] as number[] };
  try {
    for (const mode of ['plain', 'span', 'instrumented'] as const) await measure(mode, 300);
    for (let trial = 0; trial < ctx.settings.trials; trial++) {
      const order = (['plain', 'span', 'instrumented'] as const).slice();
      if (trial % 2 === 1) order.reverse();
      for (const mode of order) p50[mode].push(percentile(await measure(mode, calls), 0.5) * 1000);
      path.push(await difference(() => undefined, () => activeTraceHeaders(), 11));
      instrumentation.enable();
      const on = await difference(() => undefined, tracedCall, 11);
      instrumentation.disable();
      const off = await difference(() => undefined, tracedCall, 11);
      work.push(on - off);
      exporter.reset();
    }
  } finally {
    instrumentation.disable();
    await ctx.release(pool);
    context.disable();
  }

  async function measure(mode: 'plain' | 'span' | 'instrumented', count: number): Promise<Float64Array> {
    if (mode === 'plain') return latencies(noop, count);
    if (mode === 'span') return latencies(inSpan, count);
    instrumentation.enable();
    try {
      return await latencies(inSpan, count);
    } finally {
      instrumentation.disable();
      exporter.reset();
    }
  }

  const b = 'tracing: OpenTelemetry context and spans';
  return [
    {
      benchmark: b, figure: 'the no-context path per call (in-process)', unit: 'µs', samples: path,
      ratio: { label: '× no-op round trip', samples: path.map((v, i) => (p50.plain[i]! + v) / p50.plain[i]!) },
      target: { text: 'round trip ≤ 1.02×', on: 'ratio', met: (r) => r <= 1.02 },
    },
    {
      benchmark: b, figure: "the instrumentation's work per call (in-process)", unit: 'µs', samples: work,
      target: { text: '≤ 15 µs', on: 'value', met: (v) => v <= 15 },
    },
    { benchmark: b, figure: 'no-op p50, pool of 1, no span', unit: 'µs', samples: p50.plain },
    {
      benchmark: b, figure: 'no-op p50, inside a span (context travels)', unit: 'µs', samples: p50.span,
      ratio: { label: '× no span', samples: p50.span.map((v, i) => v / p50.plain[i]!) },
    },
    {
      benchmark: b, figure: 'no-op p50, instrumented (a span per call)', unit: 'µs', samples: p50.instrumented,
      ratio: { label: '× no span', samples: p50.instrumented.map((v, i) => v / p50.plain[i]!) },
    },
  ];
}
