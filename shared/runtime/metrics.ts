/**
 * Metrics: one typed registry of every instrument the services record into,
 * exposed two ways:
 * - `/metrics` in Prometheus text format (metrics.prometheus.ts), on the
 *   service's metrics port;
 * - metric events on `metric.<service>.<name>` every METRICS_PUBLISH_INTERVAL_MS,
 *   for the alert service (metrics.events.ts).
 *
 * This module is the entry the services import, and `startMetrics` the one call
 * their main.ts makes. The parts, by job: metrics.specs.ts (the instruments'
 * definitions), metrics.registry.ts (recording), metrics.sampler.ts (process
 * figures), metrics.prometheus.ts, metrics.events.ts.
 */
import type { Config } from '#config/config.js';
import type { Bus } from './bus.js';
import type { Logger } from './log.js';
import { subjects } from '../wire/subjects.js';
import { metricEvents } from './metrics.events.js';
import { servePrometheus, type PrometheusEndpoint } from './metrics.prometheus.js';
import { createMetrics, type Metrics } from './metrics.registry.js';
import { ProcessSampler } from './metrics.sampler.js';
import type { ServiceName } from './metrics.specs.js';

export {
  ServiceName,
  closeReason,
  instrumentSpecs,
  type AttrsArg,
  type InstrumentKey,
} from './metrics.specs.js';
export {
  Counter,
  Gauge,
  Histogram,
  createMetrics,
  type BoundCounter,
  type BoundHistogram,
  type MetricPoint,
  type Metrics,
} from './metrics.registry.js';
export { metricEvents, type MetricEvent } from './metrics.events.js';
export { ProcessSampler } from './metrics.sampler.js';
export { metricsPort } from './metrics.prometheus.js';

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
  const endpoint: PrometheusEndpoint | undefined = cfg.metricsEnabled
    ? await servePrometheus(metrics, o)
    : undefined;

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
    port: endpoint?.port,
    tick,
    async close() {
      closing.abort();
      clearInterval(timer);
      sampler.stop();
      await endpoint?.close();
    },
  };
}
