/**
 * A tiny Prometheus-style metrics registry shared by every module (no I/O: `/metrics` renders it).
 *
 * @module
 */

/** A monotonically increasing count. */
export class Counter {
  value = 0;
  constructor(readonly name: string, readonly help: string) {}
  inc(by = 1): void {
    this.value += by;
  }
}

/** A value that goes up and down. */
export class Gauge {
  value = 0;
  constructor(readonly name: string, readonly help: string) {}
  set(value: number): void {
    this.value = value;
  }
}

/** A latency histogram in milliseconds with fixed buckets. */
export class Histogram {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000],
  ) {
    this.buckets = buckets;
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(ms: number): void {
    this.sum += ms;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (ms <= this.buckets[i]) {
        this.counts[i]++;
        break;
      }
    }
  }
}

type Metric = Counter | Gauge | Histogram;

/**
 * One metric's figures as plain data: what another thread's registry ships so that one `/metrics` shows the
 * whole process (see {@link Metrics.render}).
 */
export type MetricSample =
  | {
    readonly kind: "counter" | "gauge";
    readonly name: string;
    readonly help: string;
    readonly value: number;
  }
  | {
    readonly kind: "histogram";
    readonly name: string;
    readonly help: string;
    readonly buckets: readonly number[];
    readonly counts: readonly number[];
    readonly sum: number;
    readonly count: number;
  };

/** Holds every metric by name; `render()` gives the Prometheus text exposition. */
export class Metrics {
  readonly #all = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.#get(name, () => new Counter(name, help)) as Counter;
  }
  gauge(name: string, help: string): Gauge {
    return this.#get(name, () => new Gauge(name, help)) as Gauge;
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.#get(name, () => new Histogram(name, help, buckets)) as Histogram;
  }
  /** Current value of a counter or gauge (0 when unknown): handy for tests and `/health`. */
  value(name: string): number {
    const metric = this.#all.get(name);
    return metric instanceof Histogram ? metric.count : metric?.value ?? 0;
  }

  #get(name: string, make: () => Metric): Metric {
    let metric = this.#all.get(name);
    if (!metric) {
      metric = make();
      this.#all.set(name, metric);
    }
    return metric;
  }

  /** Every metric's current figures as plain data (structured-clone safe). */
  samples(): MetricSample[] {
    const out: MetricSample[] = [];
    for (const m of this.#all.values()) {
      if (m instanceof Histogram) {
        out.push({
          kind: "histogram",
          name: m.name,
          help: m.help,
          buckets: m.buckets,
          counts: [...m.counts],
          sum: m.sum,
          count: m.count,
        });
      } else {out.push({
          kind: m instanceof Counter ? "counter" : "gauge",
          name: m.name,
          help: m.help,
          value: m.value,
        });}
    }
    return out;
  }

  /**
   * Prometheus text format, version 0.0.4. `others`: other registries' samples (other threads of the process)
   * added in, same name summed (counters, gauges and histograms with the same buckets), so the figures are
   * the whole process's.
   */
  render(others: readonly (readonly MetricSample[])[] = []): string {
    const all = new Map<string, Metric>();
    for (const [name, metric] of this.#all) all.set(name, metric);
    if (others.length > 0) {
      for (const [name, metric] of this.#all) all.set(name, copy(metric));
      for (const samples of others) {
        for (const sample of samples) {
          let metric = all.get(sample.name);
          if (metric === undefined) {
            metric = sample.kind === "histogram"
              ? new Histogram(sample.name, sample.help, sample.buckets)
              : sample.kind === "counter"
              ? new Counter(sample.name, sample.help)
              : new Gauge(sample.name, sample.help);
            all.set(sample.name, metric);
          }
          if (metric instanceof Histogram) {
            if (sample.kind !== "histogram" || sample.counts.length !== metric.counts.length) continue;
            for (let i = 0; i < metric.counts.length; i++) metric.counts[i] += sample.counts[i];
            metric.sum += sample.sum;
            metric.count += sample.count;
          } else if (sample.kind !== "histogram") metric.value += sample.value;
        }
      }
    }
    const out: string[] = [];
    for (const metric of all.values()) {
      out.push(`# HELP ${metric.name} ${metric.help}`);
      if (metric instanceof Histogram) {
        out.push(`# TYPE ${metric.name} histogram`);
        let cumulative = 0;
        for (let i = 0; i < metric.buckets.length; i++) {
          cumulative += metric.counts[i];
          out.push(`${metric.name}_bucket{le="${metric.buckets[i]}"} ${cumulative}`);
        }
        out.push(`${metric.name}_bucket{le="+Inf"} ${metric.count}`);
        out.push(`${metric.name}_sum ${metric.sum}`);
        out.push(`${metric.name}_count ${metric.count}`);
      } else {
        out.push(`# TYPE ${metric.name} ${metric instanceof Counter ? "counter" : "gauge"}`);
        out.push(`${metric.name} ${metric.value}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

function copy(metric: Metric): Metric {
  if (metric instanceof Histogram) {
    const out = new Histogram(metric.name, metric.help, metric.buckets);
    out.counts.splice(0, out.counts.length, ...metric.counts);
    out.sum = metric.sum;
    out.count = metric.count;
    return out;
  }
  const out = metric instanceof Counter
    ? new Counter(metric.name, metric.help)
    : new Gauge(metric.name, metric.help);
  out.value = metric.value;
  return out;
}
