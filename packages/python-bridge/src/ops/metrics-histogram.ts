/**
 * The exporter's duration histogram: a prom-client `Histogram` whose bucket counts the exporter
 * keeps itself, per series, in typed arrays. prom-client's own `observe()` validates and hashes
 * the labels on every call (~0.6 µs); here a call costs a bucket search and three additions, and
 * prom-client still renders the exposition (from `get()`, the values every metric hands its
 * registry), so scrapes read exactly as those of a plain `Histogram`.
 */
import { Histogram, type HistogramConfiguration, type LabelValues } from 'prom-client';

/** One series' buckets: counts per upper bound (not cumulative), plus sum and count. */
export class BucketCounts {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

type Value = {
  labels: Record<string, string | number | undefined>;
  sharedLabels?: Record<string, string | number | undefined>;
  value: number;
  metricName: string;
};

export class CountedHistogram<T extends string> extends Histogram<T> {
  readonly #name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  readonly #series: { labels: LabelValues<T>; counts: BucketCounts }[] = [];

  constructor(config: HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.#name = config.name;
    this.#help = config.help;
    this.#bounds = [...config.buckets];
  }

  /** The counts of the series with `labels`, made once; observe into it on the hot path. */
  series(labels: LabelValues<T>): BucketCounts {
    const counts = new BucketCounts(this.#bounds);
    this.#series.push({ labels, counts });
    return counts;
  }

  /** The values prom-client renders, shaped as its own Histogram shapes them (`le` first). */
  #metric(splay: boolean) {
    const name = this.#name;
    const values: Value[] = [];
    const value = (le: Record<string, string | number>, shared: Record<string, string | number | undefined>, v: number, suffix: string) =>
      values.push(splay ? { labels: { ...le, ...shared }, value: v, metricName: `${name}${suffix}` } : { labels: le, sharedLabels: shared, value: v, metricName: `${name}${suffix}` });
    for (const { labels, counts } of this.#series) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += counts.counts[i]!;
        value({ le }, labels, cumulative, '_bucket');
      });
      value({ le: '+Inf' }, labels, counts.count, '_bucket');
      value({}, labels, counts.sum, '_sum');
      value({}, labels, counts.count, '_count');
    }
    const metric = { name, help: this.#help, type: 'histogram', values, aggregator: 'sum' };
    return metric as unknown as Awaited<ReturnType<Histogram<T>['get']>>;
  }

  override async get() {
    return this.#metric(true);
  }

  /** What prom-client 15 renders text from, when a metric has it. */
  async getForPromString() {
    return this.#metric(false);
  }
}
