/**
 * The registry: one typed instrument per spec (metrics.specs.ts), aggregating in
 * plain numbers. Recording is a map lookup and an addition (a bucket search for a
 * histogram), cheap enough for every frame on the relay path: the SDK's own
 * Histogram instrument measured about 1.5 µs per record here, a tenth of the
 * gateway's CPU per relayed frame. OpenTelemetry reads counters and gauges
 * through observable instruments (`bind`) and histograms through
 * `toMetricData` (a MetricProducer in metrics.prometheus.ts).
 */
import {
  ValueType,
  type BatchObservableResult,
  type HrTime,
  type Meter,
  type Observable,
} from '@opentelemetry/api';
import type { AggregationTemporality, HistogramMetricData } from '@opentelemetry/sdk-metrics';
import {
  instrumentSpecs,
  type AttrsArg,
  type InstrumentKey,
  type LabelOf,
  type Spec,
  type Specs,
} from './metrics.specs.js';

interface Point {
  readonly attrs: Record<string, string>;
  /** Counter: the total; gauge: the value; histogram: the sum. */
  value: number;
  /** Histogram only: how many values, how many per bucket (the last is +Inf), min and max. */
  count: number;
  buckets: number[];
  min: number;
  max: number;
}

/** One instrument's series: label values → point. */
abstract class Instrument<L extends string> {
  protected readonly points = new Map<string, Point>();
  constructor(readonly spec: Spec) {}

  protected point(attrs: { readonly [P in L]: string } | undefined): Point {
    const labels = this.spec.labels as readonly L[];
    let key = '';
    if (attrs !== undefined) {
      // One label (the hot ones): the value is the key, nothing is built.
      if (labels.length === 1) key = attrs[labels[0] as L];
      else for (const l of labels) key += `${attrs[l]}\u0000`;
    }
    let p = this.points.get(key);
    if (p === undefined) {
      const copy: Record<string, string> = {};
      if (attrs !== undefined) for (const l of labels) copy[l] = attrs[l];
      p = {
        attrs: copy,
        value: 0,
        count: 0,
        buckets: new Array<number>((this.spec.buckets?.length ?? 0) + 1).fill(0),
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
      };
      this.points.set(key, p);
    }
    return p;
  }

  /** The current points (a copy). */
  read(): MetricPoint[] {
    const out: MetricPoint[] = [];
    for (const p of this.points.values()) {
      out.push(
        this.spec.kind === 'histogram'
          ? { attrs: { ...p.attrs }, value: p.value, count: p.count }
          : { attrs: { ...p.attrs }, value: p.value },
      );
    }
    return out;
  }

  /** @internal Reports every point to an observable (Prometheus scrape). */
  observeInto(result: BatchObservableResult, observable: Observable): void {
    for (const p of this.points.values()) result.observe(observable, p.value, p.attrs);
  }
}

/** A running total that only goes up (Prometheus: `_total`). */
export class Counter<L extends string> extends Instrument<L> {
  add(n: number, ...attrs: AttrsArg<L>): void {
    this.point(attrs[0]).value += n;
  }

  /** One series, bound: adding to it skips the label lookup (for per-frame paths). */
  bind(...attrs: AttrsArg<L>): BoundCounter {
    const p = this.point(attrs[0]);
    return {
      add: (n) => {
        p.value += n;
      },
    };
  }
}

/** A counter's series bound to its labels (`Counter.bind`). */
export interface BoundCounter {
  add(n: number): void;
}

/** A histogram's series bound to its labels (`Histogram.bind`). */
export interface BoundHistogram {
  record(value: number): void;
}

/** A value that is set: the latest one counts. */
export class Gauge<L extends string> extends Instrument<L> {
  set(value: number, ...attrs: AttrsArg<L>): void {
    this.point(attrs[0]).value = value;
  }

  /** Forgets every series (before setting a fresh set, e.g. the streams of this poll). */
  reset(): void {
    this.points.clear();
  }
}

/** A distribution (latencies): buckets on /metrics, count and sum in metric events. */
export class Histogram<L extends string> extends Instrument<L> {
  private readonly bounds: readonly number[];
  constructor(spec: Spec) {
    super(spec);
    this.bounds = spec.buckets ?? [];
  }

  record(value: number, ...attrs: AttrsArg<L>): void {
    this.recordInto(this.point(attrs[0]), value);
  }

  /** One series, bound: recording into it skips the label lookup (for per-frame paths). */
  bind(...attrs: AttrsArg<L>): BoundHistogram {
    const p = this.point(attrs[0]);
    return {
      record: (value) => {
        this.recordInto(p, value);
      },
    };
  }

  private recordInto(p: Point, value: number): void {
    p.value += value;
    p.count++;
    // Bounds are inclusive upper limits; past the last one is the +Inf bucket.
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] ?? 0)) i++;
    p.buckets[i] = (p.buckets[i] ?? 0) + 1;
    if (value < p.min) p.min = value;
    if (value > p.max) p.max = value;
  }

  /**
   * @internal The histogram in OpenTelemetry's data model. The SDK's enums are
   * passed in: the SDK is loaded only when /metrics is served.
   */
  toMetricData(
    start: HrTime,
    end: HrTime,
    sdk: {
      dataPointType: HistogramMetricData['dataPointType'];
      cumulative: AggregationTemporality;
    },
  ): HistogramMetricData {
    return {
      descriptor: {
        name: `roomcast_${this.spec.name}`,
        description: this.spec.help,
        unit: this.spec.unit ?? '',
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality: sdk.cumulative,
      dataPointType: sdk.dataPointType,
      dataPoints: [...this.points.values()].map((p) => ({
        startTime: start,
        endTime: end,
        attributes: p.attrs,
        value: {
          buckets: { boundaries: [...this.bounds], counts: [...p.buckets] },
          sum: p.value,
          count: p.count,
          min: p.min,
          max: p.max,
        },
      })),
    };
  }
}

type InstrumentOf<K extends InstrumentKey> = Specs[K]['kind'] extends 'counter'
  ? Counter<LabelOf<K>>
  : Specs[K]['kind'] extends 'gauge'
    ? Gauge<LabelOf<K>>
    : Histogram<LabelOf<K>>;

/** The registry: one typed instrument per spec. */
export type Metrics = { readonly [K in InstrumentKey]: InstrumentOf<K> } & {
  /** Connects counters and gauges to an OpenTelemetry meter (the Prometheus side). */
  bind(meter: Meter): void;
  /** The histograms, for the MetricProducer of `startMetrics`. */
  histograms(): Histogram<string>[];
  /** The figures of every instrument that has any, for metric events. */
  snapshot(): { spec: Spec; points: MetricPoint[] }[];
};

/** A fresh registry; until `bind`, nothing leaves the process. */
export function createMetrics(): Metrics {
  const all: Record<string, Instrument<string>> = {};
  for (const [key, spec] of Object.entries(instrumentSpecs) as [string, Spec][]) {
    all[key] =
      spec.kind === 'counter'
        ? new Counter(spec)
        : spec.kind === 'gauge'
          ? new Gauge(spec)
          : new Histogram(spec);
  }
  const list = Object.values(all);
  const registry = {
    ...all,
    bind(meter: Meter): void {
      const observed: [Instrument<string>, Observable][] = [];
      for (const inst of list) {
        const spec = inst.spec;
        if (spec.prometheus === false || inst instanceof Histogram) continue;
        const options = {
          description: spec.help,
          ...(spec.unit === undefined ? {} : { unit: spec.unit }),
        };
        if (spec.kind === 'counter')
          observed.push([inst, meter.createObservableCounter(`roomcast_${spec.name}`, options)]);
        else observed.push([inst, meter.createObservableGauge(`roomcast_${spec.name}`, options)]);
      }
      meter.addBatchObservableCallback(
        (result) => {
          for (const [inst, observable] of observed) inst.observeInto(result, observable);
        },
        observed.map(([, o]) => o),
      );
    },
    histograms() {
      return list.filter((i): i is Histogram<string> => i instanceof Histogram);
    },
    snapshot() {
      const out: { spec: Spec; points: MetricPoint[] }[] = [];
      for (const inst of list) {
        const points = inst.read();
        if (points.length > 0) out.push({ spec: inst.spec, points });
      }
      return out;
    },
  };
  return registry as unknown as Metrics;
}

/** One series of an instrument, as metric events carry it. */
export interface MetricPoint {
  attrs: Record<string, string>;
  /** Counter: the total since the process started; gauge: the value now; histogram: the sum. */
  value: number;
  /** Histogram only: how many values were recorded. */
  count?: number;
}
