/**
 * Metrics: one typed registry of every instrument the services record into,
 * exposed two ways:
 * - `/metrics` in Prometheus text format, through the OpenTelemetry metrics API
 *   (an SDK MeterProvider with the Prometheus exporter as its reader), on the
 *   service's metrics port;
 * - metric events on `metric.<service>.<name>` every METRICS_PUBLISH_INTERVAL_MS,
 *   for the alert service.
 *
 * Every instrument aggregates in plain numbers: recording is a map lookup and an
 * addition (a bucket search for a histogram), cheap enough for every frame on the
 * relay path. OpenTelemetry reads counters and gauges through observable
 * instruments when Prometheus scrapes, and histograms through a MetricProducer:
 * the SDK's own Histogram instrument measured about 1.5 µs per record here, a
 * tenth of the gateway's CPU per relayed frame. Label values must come from
 * closed sets (frame types, close reasons, statuses); the one per-room
 * instrument (`srs_stream_recv_bytes`) is published as events only.
 */
import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import {
  ValueType,
  type BatchObservableResult,
  type HrTime,
  type Meter,
  type Observable,
} from '@opentelemetry/api';
import type {
  AggregationTemporality,
  HistogramMetricData,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Config } from '#config/config.js';
import type { Bus } from './bus.js';
import { CloseCode } from '../wire/errors.js';
import type { Logger } from './log.js';
import { subjects } from '../wire/subjects.js';

/** The services, as they name themselves in metrics, traces and subjects. */
export const ServiceName = {
  gateway: 'gateway',
  room: 'room',
  stream: 'stream',
  alert: 'alert',
  catalog: 'catalog',
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

type Kind = 'counter' | 'gauge' | 'histogram';
interface Spec {
  readonly kind: Kind;
  /** The name in metric events; Prometheus shows `roomcast_<name>` (counters end in `_total`). */
  readonly name: string;
  readonly help: string;
  /** UCUM unit, for those with one (seconds, bytes). */
  readonly unit?: string;
  readonly labels: readonly string[];
  /** Histogram bucket bounds, in the instrument's unit. */
  readonly buckets?: readonly number[];
  /** False for instruments published as metric events only (per-room series). */
  readonly prometheus?: boolean;
}

/** Every instrument, by the name services call it by. */
export const instrumentSpecs = {
  // gateway
  wsConnections: {
    kind: 'gauge',
    name: 'ws_connections',
    help: 'WebSocket connections open now.',
    labels: [],
  },
  wsOpened: {
    kind: 'counter',
    name: 'ws_connections_opened',
    help: 'WebSocket connections accepted.',
    labels: [],
  },
  wsClosed: {
    kind: 'counter',
    name: 'ws_connections_closed',
    help: 'WebSocket connections closed, by reason (see closeReason).',
    labels: ['reason'],
  },
  framesIn: {
    kind: 'counter',
    name: 'ws_frames_in',
    help: 'Frames received from clients, by frame type (`invalid` for those refused by the parser, `rate_limited` for those dropped by the rate limit).',
    labels: ['type'],
  },
  framesOut: {
    kind: 'counter',
    name: 'ws_frames_out',
    help: 'Frames sent to clients, by frame type.',
    labels: ['type'],
  },
  messageDuration: {
    kind: 'histogram',
    name: 'message_duration_seconds',
    help: 'Time from a client frame arriving to its handling being done (reply sent or frame relayed), by frame type.',
    unit: 's',
    labels: ['type'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  // room service
  rooms: {
    kind: 'gauge',
    name: 'rooms',
    help: 'Rooms held by this room-service replica, by status.',
    labels: ['status'],
  },
  members: {
    kind: 'gauge',
    name: 'room_members',
    help: 'Members of the rooms held by this replica (connected or within their resume grace), by role.',
    labels: ['role'],
  },
  publishers: {
    kind: 'gauge',
    name: 'room_publishers',
    help: 'Rooms with a publisher, by publisher kind (peer: WebRTC through the gateway; stream: into SRS).',
    labels: ['kind'],
  },
  roomPartitions: {
    kind: 'gauge',
    name: 'room_partitions',
    help: 'Room partitions this replica owns now (its leases).',
    labels: [],
  },
  roomCommandsMoved: {
    kind: 'counter',
    name: 'room_commands_moved',
    help: 'Room commands not run here because their partition moved to another replica before their turn; their callers are answered UNAVAILABLE and retry.',
    labels: [],
  },
  // stream service
  streamsActive: {
    kind: 'gauge',
    name: 'streams_active',
    help: 'Streams SRS carries with an active publisher, as of the last poll.',
    labels: [],
  },
  hookCalls: {
    kind: 'counter',
    name: 'srs_hook_calls',
    help: 'SRS http_hooks answered, by action (on_publish, ...) and result (allowed, denied, error).',
    labels: ['action', 'result'],
  },
  srsPollErrors: {
    kind: 'counter',
    name: 'srs_poll_errors',
    help: 'Polls of the SRS HTTP API that failed.',
    labels: [],
  },
  srsUp: {
    kind: 'gauge',
    name: 'srs_up',
    help: '1 when the last poll of the SRS HTTP API succeeded, else 0.',
    labels: [],
  },
  streamRecvBytes: {
    kind: 'gauge',
    name: 'srs_stream_recv_bytes',
    help: 'Bytes SRS has received on each stream with an active publisher, by room: it grows while media arrives (events only).',
    labels: ['room'],
    prometheus: false,
  },
  // every service
  natsReconnects: {
    kind: 'counter',
    name: 'nats_reconnects',
    help: 'Reconnections to NATS.',
    labels: [],
  },
  eventLoopLag: {
    kind: 'gauge',
    name: 'event_loop_lag_seconds',
    help: 'Event-loop delay over the last sample interval: p50, p99 and max.',
    unit: 's',
    labels: ['stat'],
  },
  residentMemory: {
    kind: 'gauge',
    name: 'process_resident_memory_bytes',
    help: 'Resident set size of the process.',
    unit: 'By',
    labels: [],
  },
  heapUsed: {
    kind: 'gauge',
    name: 'process_heap_used_bytes',
    help: 'V8 heap in use.',
    unit: 'By',
    labels: [],
  },
  cpuSeconds: {
    kind: 'counter',
    name: 'process_cpu_seconds',
    help: 'CPU time of the process, user and system.',
    unit: 's',
    labels: [],
  },
  cpuUtilization: {
    kind: 'gauge',
    name: 'process_cpu_utilization_ratio',
    help: 'CPU time over wall time in the last sample interval (1 = one core busy).',
    labels: [],
  },
  // alert service
  alertsActive: {
    kind: 'gauge',
    name: 'alerts_active',
    help: 'Alerts raised now, by severity.',
    labels: ['severity'],
  },
} as const satisfies Record<string, Spec>;

type Specs = typeof instrumentSpecs;
export type InstrumentKey = keyof Specs;
type LabelOf<K extends InstrumentKey> = Specs[K]['labels'][number];
/** The attributes an instrument takes: one string per label; none for an unlabelled one. */
export type AttrsArg<L extends string> = [L] extends [never]
  ? []
  : [attrs: { readonly [P in L]: string }];

/** The reason label of `ws_connections_closed` for a WebSocket close code. */
export const closeReason = (code: number): string => {
  switch (code) {
    // 1005: a close frame without a status, what a browser's close() sends: a clean close.
    case 1000:
    case 1005:
      return 'normal';
    case CloseCode.GOING_AWAY:
      return 'going_away';
    // No close frame at all: the connection was cut.
    case 1006:
      return 'dropped';
    case CloseCode.TOO_LARGE:
      return 'too_large';
    case CloseCode.AUTH_FAILED:
      return 'auth_failed';
    case CloseCode.TIMEOUT:
      return 'timeout';
    case CloseCode.RATE_LIMITED:
      return 'rate_limited';
    case CloseCode.SLOW_CONSUMER:
      return 'slow_consumer';
    default:
      return 'other';
  }
};

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

/** One series of a metric event. */
export interface MetricPoint {
  attrs: Record<string, string>;
  /** Counter: the total since the process started; gauge: the value now; histogram: the sum. */
  value: number;
  /** Histogram only: how many values were recorded. */
  count?: number;
}

/** What every service publishes on `metric.<service>.<name>`, one per instrument and interval. */
export interface MetricEvent {
  v: 1;
  type: 'metric_sampled';
  service: ServiceName;
  /** Which process: the gateway id, or host-pid. */
  instance: string;
  name: string;
  kind: Kind;
  /** When it was sampled, ms since the epoch. */
  at: number;
  points: MetricPoint[];
}

/**
 * Event-loop delay, memory and CPU, sampled into the registry. Percentiles and
 * CPU utilization cover the time since the previous sample.
 */
export class ProcessSampler {
  private readonly delay: IntervalHistogram;
  private lastCpu = process.cpuUsage();
  private lastAt: number;

  private readonly resolutionS: number;

  constructor(
    private readonly metrics: Metrics,
    resolutionMs: number,
    private readonly clock: () => number = performance.now.bind(performance),
  ) {
    this.resolutionS = resolutionMs / 1000;
    this.delay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.delay.enable();
    this.lastAt = clock();
  }

  sample(): void {
    const m = this.metrics;
    // The monitor measures its own timer's period: an idle loop shows the resolution.
    // Before its first tick the histogram holds nothing (NaN).
    const lag = (ns: number) =>
      this.delay.count > 0 ? Math.max(0, ns * 1e-9 - this.resolutionS) : 0;
    m.eventLoopLag.set(lag(this.delay.percentile(50)), { stat: 'p50' });
    m.eventLoopLag.set(lag(this.delay.percentile(99)), { stat: 'p99' });
    m.eventLoopLag.set(lag(this.delay.max), { stat: 'max' });
    this.delay.reset();
    const mem = process.memoryUsage();
    m.residentMemory.set(mem.rss);
    m.heapUsed.set(mem.heapUsed);
    const now = this.clock();
    const cpu = process.cpuUsage();
    const usedUs = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    m.cpuSeconds.add(usedUs / 1e6);
    const wallMs = now - this.lastAt;
    if (wallMs > 0) m.cpuUtilization.set(usedUs / 1000 / wallMs);
    this.lastCpu = cpu;
    this.lastAt = now;
  }

  stop(): void {
    this.delay.disable();
  }
}

/** Builds the metric events of one sample of the registry. */
export function metricEvents(
  metrics: Metrics,
  service: ServiceName,
  instance: string,
  at: number,
): MetricEvent[] {
  return metrics.snapshot().map(({ spec, points }) => ({
    v: 1,
    type: 'metric_sampled',
    service,
    instance,
    name: spec.name,
    kind: spec.kind,
    at,
    points,
  }));
}

/** The /metrics port of a service. */
export function metricsPort(config: Config['telemetry'], service: ServiceName): number {
  switch (service) {
    case 'gateway':
      return config.gatewayMetricsPort;
    case 'room':
      return config.roomMetricsPort;
    case 'stream':
      return config.streamMetricsPort;
    case 'alert':
      return config.alertMetricsPort;
    case 'catalog':
      return config.catalogMetricsPort;
  }
}

export interface MetricsOptions {
  service: ServiceName;
  instance: string;
  version: string;
  config: Config['telemetry'];
  log: Logger;
  /** Where metric events go; none are published without one. */
  bus?: Bus;
  /** The registry the service records into; a fresh one by default. */
  metrics?: Metrics;
  /**
   * Called before each sample: where a service sets the gauges it reads off its
   * own state (rooms by status, connections), once per interval.
   */
  onSample?: (metrics: Metrics) => void;
  /** Sample and publish on a timer (default); tests call `tick()` themselves. */
  timers?: boolean;
  /** Wall clock for `at`, in ms since the epoch. */
  now?: () => number;
}

/** Running metrics of one service. */
export interface MetricsHandle {
  readonly metrics: Metrics;
  /** Port /metrics listens on; `undefined` with METRICS_ENABLED=false. */
  readonly port: number | undefined;
  /** Samples the process figures and publishes every metric event once. */
  tick(): void;
  close(): Promise<void>;
}

/**
 * Starts a service's metrics: the Prometheus endpoint (GET /metrics), the process
 * sampler, NATS reconnect counting, and the metric-event publisher. Called from
 * main.ts, next to `setupTelemetry`.
 */
export async function startMetrics(o: MetricsOptions): Promise<MetricsHandle> {
  const metrics = o.metrics ?? createMetrics();
  const now = o.now ?? Date.now;
  const cfg = o.config;
  const sampler = new ProcessSampler(metrics, cfg.eventLoopResolutionMs);
  let server: Server | undefined;
  let port: number | undefined;
  let shutdownProvider: (() => Promise<void>) | undefined;

  if (cfg.metricsEnabled) {
    const [
      { MeterProvider, DataPointType, AggregationTemporality },
      { PrometheusExporter },
      { resourceFromAttributes },
    ] = await Promise.all([
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/exporter-prometheus'),
      import('@opentelemetry/resources'),
    ]);
    const resource = resourceFromAttributes({
      'service.name': o.service,
      'service.version': o.version,
      'service.instance.id': o.instance,
    });
    const started = hrNow();
    const histograms: MetricProducer = {
      collect: () =>
        Promise.resolve({
          resourceMetrics: {
            resource,
            scopeMetrics: [
              {
                scope: { name: 'roomcast', version: o.version },
                metrics: metrics.histograms().map((h) =>
                  h.toMetricData(started, hrNow(), {
                    dataPointType: DataPointType.HISTOGRAM,
                    cumulative: AggregationTemporality.CUMULATIVE,
                  }),
                ),
              },
            ],
          },
          errors: [],
        }),
    };
    // Our own HTTP server around the exporter's handler: a port of 0 (tests) can be
    // read back, and close() really closes it.
    const exporter = new PrometheusExporter({
      preventServerStart: true,
      withResourceConstantLabels: /^service\.name$/,
      withoutScopeInfo: true,
      metricProducers: [histograms],
    });
    const provider = new MeterProvider({ resource, readers: [exporter] });
    metrics.bind(provider.getMeter('roomcast', o.version));
    shutdownProvider = () => provider.shutdown();
    const srv = createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
        exporter.getMetricsRequestHandler(req, res);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
    server = srv;
    port = await new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(metricsPort(cfg, o.service), cfg.metricsHost, () => {
        const address = srv.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  }

  const closing = new AbortController();
  const status = o.bus?.nc.status();
  if (status !== undefined) {
    // Ends when the connection closes; `closing` lets go of it earlier.
    void (async () => {
      for await (const s of status) {
        if (closing.signal.aborted) break;
        if (s.type === 'reconnect') metrics.natsReconnects.add(1);
      }
    })();
  }

  const tick = (): void => {
    try {
      o.onSample?.(metrics);
    } catch (err) {
      o.log.warn('metrics onSample failed', { err });
    }
    sampler.sample();
    if (o.bus === undefined) return;
    for (const event of metricEvents(metrics, o.service, o.instance, now()))
      o.bus.publish(subjects.metric(o.service, event.name), event);
  };
  sampler.sample();
  const timer =
    o.timers === false ? undefined : setInterval(tick, cfg.metricsPublishIntervalMs).unref();

  return {
    metrics,
    port,
    tick,
    async close() {
      closing.abort();
      clearInterval(timer);
      sampler.stop();
      if (server !== undefined) {
        const s = server;
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeAllConnections();
        await closed;
      }
      await shutdownProvider?.();
    },
  };
}

/** Now as OpenTelemetry's [seconds, nanoseconds]. */
function hrNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}
