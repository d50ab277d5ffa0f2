/**
 * Metric events: what every service publishes on `metric.<service>.<name>` each
 * METRICS_PUBLISH_INTERVAL_MS, for the alert service. Per-room instruments
 * (`srs_stream_recv_bytes`) leave the process only this way.
 */
import type { MetricPoint, Metrics } from './metrics.registry.js';
import type { Kind, ServiceName } from './metrics.specs.js';

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
