/**
 * What tracing costs per call (issue: "one trace from the HTTP request into Python").
 *
 * In-process figures are CPU time of the Node process (`process.cpuUsage`), end-to-end latencies
 * wall time. Every comparison is made in the same run, in blocks that alternate within a round
 * (the order rotates from round to round), and a figure is the median over rounds of the
 * round's difference.
 *
 * - The path every call takes when no OpenTelemetry context is active (or `@opentelemetry/api`
 *   is absent): `activeTraceHeaders()` and the `context` option's check, against nothing, set
 *   against the same run's no-op round trip: the ratio is (round trip + path) / round trip.
 * - The instrumentation enabled, in-process: the pool's per-call tracing work as it runs it (the
 *   call's context object, `tracePromise` on `piton:pool:call`, the W3C headers encoded into the
 *   call's options item, the fields the dispatcher and the stats set) with `PitonInstrumentation`
 *   subscribed, minus the pool's path when nobody subscribes (no context object, no channel, no
 *   headers outside a span). The SDK is `BasicTracerProvider` with an `InMemorySpanExporter`,
 *   behind a `SimpleSpanProcessor` (one export per span) and, as production SDKs are set up,
 *   a `BatchSpanProcessor`. Each block ends with the processor's `forceFlush()`, so the exporter's
 *   work for the block's spans (its timers, its promises) is inside the block's CPU time; every
 *   span made must be in the exporter, or the figure would count dropped spans.
 *   Outside any span: each call's span is a root (a new trace id) and is the only reason the
 *   call carries a `traceparent`, so that encoding counts too.
 * - The SDK floor, same blocks: an empty instrumentation on the same channel, which only starts
 *   the SDK span (same name and kind, child of the active context) at `start` and ends it at
 *   `asyncEnd`. Total − floor is what PitonInstrumentation does beyond owning a span.
 * - End to end, on a pool of 1 inside an active request span: the Node process's CPU per no-op
 *   call with the instrumentation, with the empty one, and with none (the context travels
 *   either way), and the no-op p50 plain, inside a span and instrumented.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { context, SpanKind, trace, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { CALL_CHANNEL, type CallTraceContext, type PythonPool } from '@piton/python-bridge';
import { PitonInstrumentation } from '@piton/python-bridge/otel';
import type { BenchContext } from './lib/context.js';
import { activeTraceHeaders, createCodec, encodeCallBody, encodeCallOptions, withOptions } from './lib/internals.js';
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

/** The CPU µs of this process per call of `op`, over `count` calls then `settle()`. */
async function cpuPerCall(op: () => Promise<unknown>, count: number, settle: () => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    await op();
    // As a real call would, let the event loop turn now and then (the exporters' timers, I/O).
    if ((i & 255) === 255) await new Promise(setImmediate);
  }
  await settle();
  const { user, system } = process.cpuUsage(c0);
  return (user + system) / count;
}

/**
 * The least an instrumentation on `piton:pool:call` must do: own an SDK span per call, as a
 * child of the caller's context, named as PitonInstrumentation names it. Nothing else.
 */
class EmptyInstrumentation {
  static readonly #SPAN = Symbol('bench.span');
  readonly #handlers: { start(message: unknown): void; asyncEnd(message: unknown): void };

  constructor(tracer: Tracer) {
    const SPAN = EmptyInstrumentation.#SPAN;
    type Carrier = CallTraceContext & { [SPAN]?: Span };
    this.#handlers = {
      start: (message) => {
        const call = message as Carrier;
        call[SPAN] = tracer.startSpan('piton.call ' + call.module + '.' + call.fn, { kind: SpanKind.CLIENT }, context.active());
      },
      asyncEnd: (message) => (message as Carrier)[SPAN]?.end(),
    };
  }

  enable(): void {
    tracingChannel(CALL_CHANNEL).subscribe(this.#handlers as never);
  }

  disable(): void {
    tracingChannel(CALL_CHANNEL).unsubscribe(this.#handlers as never);
  }
}

/** A tracer provider with an in-memory exporter behind `processor`'s kind of span processor. */
function sdk(kind: 'simple' | 'batch') {
  const exporter = new InMemorySpanExporter();
  const processor: SpanProcessor = kind === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  return {
    exporter,
    processor,
    provider,
    floor: new EmptyInstrumentation(provider.getTracer('bench-floor')),
    instrumentation: new PitonInstrumentation({ tracerProvider: provider }),
  };
}

export async function runTracing(ctx: BenchContext): Promise<Row[]> {
  const calls = ctx.settings.quick ? 600 : 3_000;
  const inProcessCalls = ctx.settings.quick ? 2_000 : 5_000;
  const inProcessRounds = ctx.settings.quick ? 5 : 9;
  const e2eCalls = ctx.settings.quick ? 200 : 600;
  const e2eRounds = ctx.settings.quick ? 3 : 5;
  const simple = sdk('simple');
  const batch = sdk('batch');
  const tracer = simple.provider.getTracer('bench');
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const pool: PythonPool = await startPool(ctx, { size: 1 });
  const noop = () => pool.call('functions', 'noop', [1]);
  const inSpan = () => tracer.startActiveSpan('request', (span) => noop().finally(() => span.end()));

  // The pool's per-call tracing work, as pool-handle.ts runs it, around an already settled call.
  const channel = tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);
  const codec = createCodec();
  const args = [1];
  const body = encodeCallBody(codec, 'functions', 'noop', args, undefined);
  const carry = (headers: ReturnType<typeof activeTraceHeaders>) =>
    headers === undefined ? body : withOptions(body, encodeCallOptions(codec, { trace: headers }), codec.maxMessageSize);
  const untracedCall = () => {
    carry(activeTraceHeaders());
    return Promise.resolve(1);
  };
  const tracedCall = () => {
    const traced: CallTraceContext = { pool: pool.path, module: 'functions', fn: 'noop', args, kwargs: undefined };
    return channel.tracePromise(() => {
      carry(traced.traceHeaders ?? activeTraceHeaders());
      const callContext = traced.runInContext !== undefined || traced.onEvent !== undefined ? { trace: traced } : undefined;
      traced.worker = 'python-1';
      traced.pid = process.pid;
      traced.outcome = 'ok';
      traced.waitMs = 0.01;
      traced.runMs = 0.1;
      return Promise.resolve(callContext);
    }, traced);
  };
  const flushBoth = () => Promise.all([simple.processor.forceFlush(), batch.processor.forceFlush()]);

  type InProcessMode = 'off' | 'simpleFloor' | 'simple' | 'batchFloor' | 'batch';
  const inProcessModes: readonly InProcessMode[] = ['off', 'simpleFloor', 'simple', 'batchFloor', 'batch'];
  const listeners: Record<Exclude<InProcessMode, 'off'>, { enable(): unknown; disable(): unknown }> = {
    simpleFloor: simple.floor, simple: simple.instrumentation, batchFloor: batch.floor, batch: batch.instrumentation,
  };
  async function inProcessBlock(mode: InProcessMode, count: number): Promise<number> {
    simple.exporter.reset();
    batch.exporter.reset();
    if (mode === 'off') return cpuPerCall(untracedCall, count, flushBoth);
    listeners[mode].enable();
    try {
      return await cpuPerCall(tracedCall, count, flushBoth);
    } finally {
      listeners[mode].disable();
      const exported = simple.exporter.getFinishedSpans().length + batch.exporter.getFinishedSpans().length;
      simple.exporter.reset();
      batch.exporter.reset();
      if (exported !== count) throw new Error(`tracing bench: ${count} spans made, ${exported} exported (the figure would count dropped spans)`);
    }
  }

  type E2eMode = 'span' | 'floor' | 'instrumented';
  const e2eModes: readonly E2eMode[] = ['span', 'floor', 'instrumented'];
  async function e2eBlock(mode: E2eMode, count: number): Promise<number> {
    const listener = mode === 'floor' ? simple.floor : mode === 'instrumented' ? simple.instrumentation : undefined;
    listener?.enable();
    try {
      return await cpuPerCall(inSpan, count, () => simple.processor.forceFlush());
    } finally {
      listener?.disable();
      simple.exporter.reset();
    }
  }

  /** Median over `rounds` of each mode's per-round difference to `base`, the modes rotating within each round. */
  async function rounds<M extends string>(modes: readonly M[], base: M, rounds: number, block: (mode: M) => Promise<number>): Promise<Record<M, number>> {
    for (const mode of modes) await block(mode); // warm: JIT, the SDK's first spans
    const diffs = Object.fromEntries(modes.map((m) => [m, [] as number[]])) as Record<M, number[]>;
    for (let r = 0; r < rounds; r++) {
      const order = modes.slice(r % modes.length).concat(modes.slice(0, r % modes.length));
      if (r % 2 === 1) order.reverse();
      const t = {} as Record<M, number>;
      for (const mode of order) t[mode] = await block(mode);
      for (const mode of modes) diffs[mode].push(t[mode] - t[base]);
    }
    return Object.fromEntries(modes.map((m) => [m, summarize(diffs[m]).median])) as Record<M, number>;
  }

  const path: number[] = [];
  const added = { simple: [] as number[], simpleFloor: [] as number[], batch: [] as number[], batchFloor: [] as number[] };
  const nodeCpu = { instrumented: [] as number[], floor: [] as number[] };
  const p50 = { plain: [] as number[], span: [] as number[], instrumented: [] as number[] };
  try {
    for (const mode of ['plain', 'span', 'instrumented'] as const) await measure(mode, 300);
    for (let trial = 0; trial < ctx.settings.trials; trial++) {
      const order = (['plain', 'span', 'instrumented'] as const).slice();
      if (trial % 2 === 1) order.reverse();
      for (const mode of order) p50[mode].push(percentile(await measure(mode, calls), 0.5) * 1000);
      path.push(await difference(() => undefined, () => activeTraceHeaders(), 11));
      const inProcess = await rounds(inProcessModes, 'off', inProcessRounds, (mode) => inProcessBlock(mode, inProcessCalls));
      for (const mode of ['simple', 'simpleFloor', 'batch', 'batchFloor'] as const) added[mode].push(inProcess[mode]);
      const e2e = await rounds(e2eModes, 'span', e2eRounds, (mode) => e2eBlock(mode, e2eCalls));
      nodeCpu.instrumented.push(e2e.instrumented);
      nodeCpu.floor.push(e2e.floor);
    }
  } finally {
    simple.instrumentation.disable();
    batch.instrumentation.disable();
    await ctx.release(pool);
    await Promise.all([simple.provider.shutdown(), batch.provider.shutdown()]);
    context.disable();
  }

  async function measure(mode: 'plain' | 'span' | 'instrumented', count: number): Promise<Float64Array> {
    if (mode === 'plain') return latencies(noop, count);
    if (mode === 'instrumented') simple.instrumentation.enable();
    try {
      return await latencies(inSpan, count);
    } finally {
      simple.instrumentation.disable();
      simple.exporter.reset();
    }
  }

  const b = 'tracing: OpenTelemetry context and spans';
  const own = (total: number[], floor: number[]) => ({ label: '× the SDK floor', samples: total.map((v, i) => v / floor[i]!) });
  return [
    {
      benchmark: b, figure: 'the no-context path per call (in-process)', unit: 'µs', samples: path,
      ratio: { label: '× no-op round trip', samples: path.map((v, i) => (p50.plain[i]! + v) / p50.plain[i]!) },
      target: { text: 'round trip ≤ 1.02×', on: 'ratio', met: (r) => r <= 1.02 },
    },
    {
      benchmark: b, figure: 'instrumented, in-memory exporter (SimpleSpanProcessor): CPU added per call (in-process)', unit: 'µs', samples: added.simple,
      ratio: own(added.simple, added.simpleFloor),
      target: { text: '≤ 15 µs', on: 'value', met: (v) => v <= 15 },
    },
    {
      benchmark: b, figure: "…of which the SDK floor: an empty instrumentation's span (SimpleSpanProcessor)", unit: 'µs', samples: added.simpleFloor,
    },
    {
      benchmark: b, figure: 'instrumented, in-memory exporter (BatchSpanProcessor): CPU added per call (in-process)', unit: 'µs', samples: added.batch,
      ratio: own(added.batch, added.batchFloor),
      target: { text: '≤ 15 µs', on: 'value', met: (v) => v <= 15 },
    },
    {
      benchmark: b, figure: "…of which the SDK floor: an empty instrumentation's span (BatchSpanProcessor)", unit: 'µs', samples: added.batchFloor,
    },
    {
      benchmark: b, figure: "Node CPU added per no-op call in a span, instrumented (SimpleSpanProcessor; pool of 1)", unit: 'µs', samples: nodeCpu.instrumented,
      ratio: own(nodeCpu.instrumented, nodeCpu.floor),
    },
    {
      benchmark: b, figure: '…of which the SDK floor (an empty instrumentation)', unit: 'µs', samples: nodeCpu.floor,
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
