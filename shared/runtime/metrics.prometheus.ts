/**
 * `/metrics` in Prometheus text format, through the OpenTelemetry metrics API: an
 * SDK MeterProvider with the Prometheus exporter as its reader, on the service's
 * metrics port. The SDK is loaded only when this is started (METRICS_ENABLED).
 * Label values must come from closed sets; instruments marked `prometheus: false`
 * (per-room series) are left out.
 */
import { createServer } from 'node:http';
import type { HrTime } from '@opentelemetry/api';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import type { Config } from '#config/config.js';
import type { Metrics } from './metrics.registry.js';
import type { ServiceName } from './metrics.specs.js';

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

export interface PrometheusOptions {
  service: ServiceName;
  instance: string;
  version: string;
  config: Config['telemetry'];
}

/** A running /metrics endpoint. */
export interface PrometheusEndpoint {
  /** The port it listens on (read back, for a configured port of 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the registry on GET /metrics until `close()`. */
export async function servePrometheus(
  metrics: Metrics,
  o: PrometheusOptions,
): Promise<PrometheusEndpoint> {
  const cfg = o.config;
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
  const srv = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      exporter.getMetricsRequestHandler(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  const port = await new Promise<number>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(metricsPort(cfg, o.service), cfg.metricsHost, () => {
      const address = srv.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      srv.closeAllConnections();
      await closed;
      await provider.shutdown();
    },
  };
}

/** Now as OpenTelemetry's [seconds, nanoseconds]. */
function hrNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}
