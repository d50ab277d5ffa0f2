/** Tracing (OTLP) and metrics: /metrics ports and the metric events every service publishes. */
import { bool, int, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';
import { httpUrlCheck } from './setting.checks.js';

export const telemetrySettings = {
  otlpEndpoint: str(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    undefined,
    'Base URL of an OTLP/HTTP receiver (e.g. http://jaeger:4318); spans go to <url>/v1/traces. Tracing is off when unset.',
  ),
  traceSamplePercent: int(
    'TRACE_SAMPLE_PERCENT',
    100,
    'Share of new traces recorded, in percent; a trace begun upstream follows its parent.',
    0,
    100,
  ),
  flushTimeoutMs: int(
    'TELEMETRY_FLUSH_TIMEOUT_MS',
    3000,
    'Time given to export the last spans on shutdown, in ms.',
    0,
    60_000,
  ),
  metricsEnabled: bool(
    'METRICS_ENABLED',
    true,
    'Serve /metrics (Prometheus text format) on the service metrics port.',
  ),
  metricsHost: str('METRICS_HOST', '0.0.0.0', 'Address the /metrics endpoints listen on.'),
  gatewayMetricsPort: int(
    'GATEWAY_METRICS_PORT',
    9464,
    'Port of the gateway /metrics (several gateways on one host need one each).',
    0,
    65_535,
  ),
  roomMetricsPort: int('ROOM_METRICS_PORT', 9465, 'Port of the room service /metrics.', 0, 65_535),
  streamMetricsPort: int(
    'STREAM_METRICS_PORT',
    9466,
    'Port of the stream service /metrics.',
    0,
    65_535,
  ),
  alertMetricsPort: int(
    'ALERT_METRICS_PORT',
    9467,
    'Port of the alert service /metrics.',
    0,
    65_535,
  ),
  catalogMetricsPort: int(
    'CATALOG_METRICS_PORT',
    9468,
    'Port of the catalogue /metrics.',
    0,
    65_535,
  ),
  metricsPublishIntervalMs: int(
    'METRICS_PUBLISH_INTERVAL_MS',
    5000,
    'How often each service samples its process figures (event-loop lag, memory, CPU) and publishes every figure as metric events on metric.<service>.<name>, in ms.',
    100,
    3_600_000,
  ),
  eventLoopResolutionMs: int(
    'METRICS_EVENT_LOOP_RESOLUTION_MS',
    20,
    'Sampling resolution of the event-loop delay monitor, in ms.',
    1,
    1000,
  ),
} satisfies SettingGroup;

export type TelemetryConfig = Values<typeof telemetrySettings>;

export const telemetryChecks: readonly Check<{ telemetry: TelemetryConfig }>[] = [
  httpUrlCheck(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    ({ telemetry }: { telemetry: TelemetryConfig }) => telemetry.otlpEndpoint,
  ),
];
