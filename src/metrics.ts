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

  /** Prometheus text format, version 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.#all.values()) {
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
