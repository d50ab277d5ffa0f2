/**
 * Alert service entry point: the only file here that reads the environment,
 * handles signals and opens connections.
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { ServiceName, startMetrics } from '#shared/metrics.js';
import { packageVersion, processInstanceId, setupTelemetry } from '#shared/telemetry.js';
import { AlertService } from './alert.service.js';

const config = loadConfig();
const instance = processInstanceId();
const log = createLogger(ServiceName.alert, config.log.level as LogLevel, { instance });
const version = packageVersion();
const telemetry = await setupTelemetry({
  service: ServiceName.alert,
  version,
  instance,
  config: config.telemetry,
  log,
});
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: `alert-${instance}`,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log,
});
const metrics = await startMetrics({
  service: ServiceName.alert,
  instance,
  version,
  config: config.telemetry,
  log,
  bus,
});
const service = new AlertService({
  bus,
  config: config.alert,
  log,
  metrics: metrics.metrics,
  requestTimeoutMs: config.nats.requestTimeoutMs,
});
await service.start();
log.info('alert service listening', {
  nats: config.nats.servers,
  metrics: metrics.port === undefined ? 'off' : `:${metrics.port}/metrics`,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal });
  await service.stop();
  await metrics.close();
  await bus.close();
  await telemetry.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
