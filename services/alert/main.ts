/**
 * Alert service entry point: the only file here that reads the environment,
 * handles signals and opens connections (through shared/service.main.ts).
 */
import { ServiceName, startMetrics } from '#shared/metrics.js';
import { processInstanceId } from '#shared/telemetry.js';
import { bootService, logReady, stopOnSignals } from '#shared/service.main.js';
import { AlertService } from './alert.service.js';

const instance = processInstanceId();
const boot = await bootService(ServiceName.alert, () => instance);
const { config, log, bus, version } = boot;
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
await logReady(boot, 'alert service', metrics, { nats: config.nats.servers });
stopOnSignals(boot, metrics, () => service.stop());
