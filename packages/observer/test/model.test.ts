import { expect } from 'chai';
import { describeEvent, RATE_WINDOW_MS, sampleOf, type PoolSample } from '../src/model.js';

const stats = (completed: number, extra: object = {}) => ({ size: 2, ready: 1, busy: 1, queued: 3, restarts: 0, completed, failed: 0, ...extra });

describe('observer model: pool samples', () => {
  it('reads an elastic pool\'s bounds, growth and shrink, and its hosts by state; a fixed pool\'s bounds are its size', () => {
    const elastic = sampleOf(
      stats(0, { size: 5, limits: { min: 1, max: 8 }, stopping: 1, grown: 6, shrunk: 2, hosts: [{ state: 'connected' }, { state: 'refused' }, { state: 'connected' }] }),
      0,
      [],
    );
    expect(elastic).to.include({ size: 5, min: 1, max: 8, stopping: 1, grown: 6, shrunk: 2 });
    expect(elastic.hosts).to.deep.equal({ connected: 2, refused: 1 });
    expect(sampleOf(stats(0), 0, [])).to.include({ min: 2, max: 2, grown: 0, shrunk: 0 });
  });

  it('reads counts, and the split wait/run latencies where the pool has them', () => {
    const s = sampleOf(stats(10, { starting: 1, wait: { p50: 1, p99: 2 }, run: { p50: 3, p99: 4 }, state: 'running' }), 1_000, []);
    expect(s).to.include({ size: 2, ready: 1, busy: 1, starting: 1, queued: 3, waitP50: 1, waitP99: 2, runP50: 3, runP99: 4, state: 'running' });
  });

  it('reads calls in flight per interpreter and the capacity; an older shape reads as concurrency 1', () => {
    const s = sampleOf(stats(0, { concurrency: 4, capacity: 8, inFlight: 5, inFlightByInterpreter: { 'python-1': 4, 'python-2': 1 } }), 0, []);
    expect(s).to.include({ concurrency: 4, capacity: 8, inFlight: 5 });
    expect(s.inFlightByInterpreter).to.deep.equal({ 'python-1': 4, 'python-2': 1 });
    expect(sampleOf(stats(0), 0, [])).to.include({ concurrency: 1, capacity: 2, inFlight: 1 });
  });

  it('falls back to the overall latency of an older stats() shape', () => {
    const s = sampleOf(stats(0, { latency: { p50: 5, p99: 9 } }), 0, []);
    expect(s).to.include({ runP50: 5, runP99: 9, waitP50: 0 });
  });

  it('measures calls per second over at least the rate window, however close the last sample', () => {
    const history: PoolSample[] = [];
    history.push(sampleOf(stats(0), 0, history));
    history.push(sampleOf(stats(500), RATE_WINDOW_MS, history));
    // A sample 5 ms later (taken on an event) still reads the rate over the last full window.
    const quick = sampleOf(stats(505), RATE_WINDOW_MS + 5, history);
    expect(quick.callsPerSecond).to.be.closeTo(505 / ((RATE_WINDOW_MS + 5) / 1000), 0.1);
    expect(sampleOf(stats(0), 0, []).callsPerSecond).to.equal(0);
  });

  it('reads restarts by cause, ignoring what is not a number', () => {
    const s = sampleOf(stats(0, { restartsByCause: { crash: 2, recycle: 1, bogus: 'x' } }), 0, []);
    expect(s.restartsByCause).to.deep.equal({ crash: 2, recycle: 1, bogus: 0 });
  });
});

describe('observer model: events', () => {
  it('carries the reason as text and a restart its attempt and delay', () => {
    const e = describeEvent({ type: 'restarting', supervisor: 's', id: 'w', path: 's/w', at: 1, reason: new Error('boom'), attempt: 2, delay: 40 });
    expect(e).to.deep.include({ type: 'restarting', path: 's/w', attempt: 2, delay: 40 });
    expect(e.reason).to.contain('boom');
    expect(JSON.parse(JSON.stringify(e))).to.deep.equal(e);
  });
});
