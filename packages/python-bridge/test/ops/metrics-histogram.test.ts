import { expect } from 'chai';
import { Histogram, Registry } from 'prom-client';
import { BucketCounts, CountedHistogram } from '../../src/ops/metrics-histogram.js';

const buckets = [0.001, 0.01, 0.1, 1];
const config = { name: 'd_seconds', help: 'durations', labelNames: ['pool', 'phase'] as const, buckets };

describe('CountedHistogram', () => {
  it('renders the same exposition as a prom-client Histogram fed the same values', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counted = new CountedHistogram({ ...config, registers: [ours] });
    const plain = new Histogram({ ...config, registers: [theirs] });
    const series = { wait: counted.series({ pool: 'p', phase: 'wait' }), run: counted.series({ pool: 'p', phase: 'run' }) };
    // Values on the bounds, between them, past the last one, and zero.
    const values = [0, 0.001, 0.0015, 0.01, 0.05, 0.1, 0.5, 1, 2, 30];
    values.forEach((v, i) => {
      const phase = i % 3 === 0 ? 'wait' : 'run';
      series[phase].observe(v);
      plain.observe({ pool: 'p', phase }, v);
    });
    expect(await ours.metrics()).to.equal(await theirs.metrics());
    // The JSON form too (prom-client adds an empty exemplar to its buckets; there are none here).
    const withoutExemplars = (metrics: { values: object[] }[]) =>
      metrics.map((m) => ({ ...m, values: m.values.map(({ exemplar: _none, ...v }: { exemplar?: unknown }) => v) }));
    expect(withoutExemplars(await ours.getMetricsAsJSON())).to.deep.equal(withoutExemplars(await theirs.getMetricsAsJSON()));
  });

  it('counts each value once, in the first bucket whose bound holds it', () => {
    const counts = new BucketCounts(buckets);
    for (const v of [0.0005, 0.001, 0.002, 5]) counts.observe(v);
    expect([...counts.counts]).to.deep.equal([2, 1, 0, 0]);
    expect(counts.count).to.equal(4);
    expect(counts.sum).to.be.closeTo(5.0035, 1e-12);
  });
});
