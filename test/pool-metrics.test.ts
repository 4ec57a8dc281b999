import { once } from 'node:events';
import { tracingChannel } from 'node:diagnostics_channel';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ActorSystem, NoProcessError, supervisor } from '@piton/core';
import { CALL_CHANNEL, pythonPool, PythonError, PythonPool, type CallTraceContext, type PoolRef } from '@piton/python-bridge';
import { poolMetrics, type PoolMetrics } from '@piton/python-bridge/metrics';
import { fixtures, parsePrometheusText, promValue, type PromExposition } from './helpers.js';
import { until } from './support.js';

/** The registry's exposition, parsed by the Prometheus project's parser. */
async function scrape(registry: Registry): Promise<PromExposition> {
  return parsePrometheusText(await registry.metrics());
}

describe('PythonPool: Prometheus metrics and tracing', () => {
  let pool: PythonPool;
  let metrics: PoolMetrics | undefined;
  afterEach(async () => {
    metrics?.close();
    metrics = undefined;
    await pool?.stop();
  });

  it('exports calls, durations, interpreters, restarts and queue length in the text format', async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, preload: ['calls'] });
    const registry = new Registry();
    metrics = poolMetrics(pool, { registry });
    const labels = { pool: pool.path };

    let { types, samples } = await scrape(registry);
    expect(types).to.deep.equal({
      piton_pool_calls: 'counter',
      piton_pool_call_duration_seconds: 'histogram',
      piton_pool_interpreters: 'gauge',
      piton_pool_restarts: 'counter',
      piton_pool_queue_length: 'gauge',
      piton_pool_target_interpreters: 'gauge',
      piton_pool_size_limit: 'gauge',
      piton_pool_grown: 'counter',
      piton_pool_shrunk: 'counter',
      piton_pool_capacity: 'gauge',
      piton_pool_calls_in_flight: 'gauge',
    });
    expect(promValue(samples, 'piton_pool_calls_total', { ...labels, outcome: 'ok' })).to.equal(0);
    expect(promValue(samples, 'piton_pool_interpreters', { ...labels, state: 'ready' })).to.equal(2);

    await Promise.all([1, 2, 3].map((i) => pool.call('calls', 'echo', [i])));
    await pool.call('calls', 'fail', ['no']).catch((e: unknown) => expect(e).to.be.instanceOf(PythonError));
    const pid = pool.interpreters()[0]!.pid;
    const replaced = once(pool.system.events, 'interpreter');
    process.kill(pid, 'SIGKILL');
    await replaced;
    await pool.whenReady();

    ({ samples } = await scrape(registry));
    expect(promValue(samples, 'piton_pool_calls_total', { ...labels, outcome: 'ok' })).to.equal(3);
    expect(promValue(samples, 'piton_pool_calls_total', { ...labels, outcome: 'python_error' })).to.equal(1);
    expect(promValue(samples, 'piton_pool_restarts_total', { ...labels, cause: 'crash' })).to.equal(1);
    expect(promValue(samples, 'piton_pool_restarts_total', { ...labels, cause: 'recycle' })).to.equal(0);
    expect(promValue(samples, 'piton_pool_interpreters', { ...labels, state: 'ready' })).to.equal(2);
    expect(promValue(samples, 'piton_pool_queue_length', labels)).to.equal(0);
    for (const phase of ['wait', 'run']) {
      expect(promValue(samples, 'piton_pool_call_duration_seconds_count', { ...labels, phase })).to.equal(4);
      expect(promValue(samples, 'piton_pool_call_duration_seconds_bucket', { ...labels, phase, le: '+Inf' })).to.equal(4);
    }
    expect(promValue(samples, 'piton_pool_call_duration_seconds_sum', { ...labels, phase: 'run' })).to.be.greaterThan(0);
  });

  it('shows an elastic pool: its target size, bounds, growth and shrink, and the interpreters stopping', async () => {
    // idleTimeout well past a loaded machine's delays: a grown interpreter stopped before the scrape
    // after the burst would lower the target it reads.
    pool = await PythonPool.start({ size: { min: 1, max: 3 }, idleTimeout: 1_000, path: fixtures });
    const registry = new Registry();
    metrics = poolMetrics(pool, { registry });
    const labels = { pool: pool.path };
    let { samples } = await scrape(registry);
    expect(promValue(samples, 'piton_pool_target_interpreters', labels)).to.equal(1);
    expect(promValue(samples, 'piton_pool_size_limit', { ...labels, bound: 'min' })).to.equal(1);
    expect(promValue(samples, 'piton_pool_size_limit', { ...labels, bound: 'max' })).to.equal(3);
    expect(promValue(samples, 'piton_pool_grown_total', labels)).to.equal(0);
    await Promise.all(Array.from({ length: 6 }, () => pool.call('calls', 'sleep', [0.1])));
    ({ samples } = await scrape(registry));
    const grown = promValue(samples, 'piton_pool_grown_total', labels);
    expect(grown).to.be.within(1, 2);
    expect(promValue(samples, 'piton_pool_target_interpreters', labels)).to.equal(1 + grown);
    await until(() => pool.stats().shrunk === grown && pool.stats().stopping === 0, 'the pool to shrink back to min');
    ({ samples } = await scrape(registry));
    expect(promValue(samples, 'piton_pool_shrunk_total', labels)).to.equal(grown);
    expect(promValue(samples, 'piton_pool_target_interpreters', labels)).to.equal(1);
    expect(promValue(samples, 'piton_pool_interpreters', { ...labels, state: 'stopping' })).to.equal(0);
  });

  it('close() unregisters the metrics, so a new exporter can take the same registry', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures });
    const registry = new Registry();
    poolMetrics(pool, { registry }).close();
    expect(await registry.metrics()).to.equal('\n');
    metrics = poolMetrics(pool, { registry });
    expect(Object.keys((await scrape(registry)).types)).to.have.length(11);
  });

  it('refuses what is not a pool, unknown options and bad buckets', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures });
    expect(() => poolMetrics({} as never)).to.throw(TypeError, 'pools must be a pool (PythonPool or PoolRef) or an array of them, got {} (object)');
    expect(() => poolMetrics(pool, { registry: new Registry(), prefix: 'x' } as never)).to.throw(TypeError, 'options.prefix is not an option (known: registry, buckets)');
    expect(() => poolMetrics(pool, { registry: new Registry(), buckets: [1, 0.5] })).to.throw(RangeError, 'options.buckets');
  });

  it('follows a pool mounted in a tree through its whereis handle, across a restart of the pool', async () => {
    const system = new ActorSystem({ name: 'metered' });
    try {
      const root = await system.start(supervisor({ children: [{ id: 'py', name: 'py', type: 'supervisor', start: pythonPool({ size: 1, path: fixtures }) }] }));
      const py = system.whereis<PoolRef>('py');
      const registry = new Registry();
      metrics = poolMetrics(py, { registry });
      await py.call('calls', 'echo', [1]);
      const labels = { pool: 'metered/root/py' };
      expect(promValue((await scrape(registry)).samples, 'piton_pool_calls_total', { ...labels, outcome: 'ok' })).to.equal(1);
      // A new incarnation of the pool, as its supervisor would start after a give-up.
      await root.terminateChild('py');
      await root.restartChild('py');
      await py.call('calls', 'echo', [2]);
      const { samples } = await scrape(registry);
      // Counters start again with the new incarnation (Prometheus reads that as a counter reset).
      expect(promValue(samples, 'piton_pool_calls_total', { ...labels, outcome: 'ok' })).to.equal(1);
      expect(promValue(samples, 'piton_pool_call_duration_seconds_count', { ...labels, phase: 'run' })).to.equal(2);
    } finally {
      await system.stop();
    }
  });

  it('leaves out of a scrape a pool that has no running incarnation, rather than failing it', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures });
    // What a whereis handle does between two incarnations: its methods reject with NoProcessError.
    const between = { path: 'app/root/gone', stats: () => Promise.reject(new NoProcessError('registered name "gone"')) };
    const registry = new Registry();
    metrics = poolMetrics([pool, between as unknown as PoolRef], { registry });
    const { samples } = await scrape(registry);
    expect(samples.some((s) => s.labels.pool === pool.path)).to.equal(true);
    // Only its (empty) duration series remain: no counter or gauge reads a pool that is not there.
    const gone = samples.filter((s) => s.labels.pool === 'app/root/gone');
    expect([...new Set(gone.map((s) => s.family))]).to.deep.equal(['piton_pool_call_duration_seconds']);
    expect(gone.every((s) => s.value === 0)).to.equal(true);
  });

  it('publishes each call on the piton:pool:call tracing channel, with its outcome and timings', async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['calls'] });
    const channel = tracingChannel<unknown, CallTraceContext>(CALL_CHANNEL);
    const seen: string[] = [];
    const ended: CallTraceContext[] = [];
    const handlers = {
      start: (c: CallTraceContext) => seen.push(`start ${c.fn}`),
      end: (c: CallTraceContext) => seen.push(`end ${c.fn}`),
      asyncStart: (c: CallTraceContext) => seen.push(`asyncStart ${c.fn}`),
      asyncEnd: (c: CallTraceContext) => {
        seen.push(`asyncEnd ${c.fn}`);
        ended.push(c);
      },
      error: (c: CallTraceContext) => seen.push(`error ${c.fn}`),
    };
    channel.subscribe(handlers);
    try {
      expect(await pool.call('calls', 'add', [1, 2], { kwargs: { scale: 2 } })).to.equal(6);
      await pool.call('calls', 'fail', ['no']).catch(() => {});
    } finally {
      channel.unsubscribe(handlers);
    }
    expect(seen).to.deep.equal([
      'start add', 'end add', 'asyncStart add', 'asyncEnd add',
      'start fail', 'end fail', 'error fail', 'asyncStart fail', 'asyncEnd fail',
    ]);
    const [ok, failed] = ended;
    expect(ok).to.include({ pool: pool.path, module: 'calls', fn: 'add', outcome: 'ok', result: 6 });
    expect(ok!.args).to.deep.equal([1, 2]);
    expect(ok!.kwargs).to.deep.equal({ scale: 2 });
    expect(ok!.runMs).to.be.a('number').greaterThan(0);
    expect(ok!.waitMs).to.be.a('number').at.least(0);
    expect(failed).to.include({ outcome: 'python_error' });
    expect(failed!.error).to.be.instanceOf(PythonError);
  });
});
