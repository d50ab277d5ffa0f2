/**
 * Gateway entry point: the only file here that reads the environment, handles
 * signals and opens sockets.
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { createVerifier } from '#shared/auth.js';
import { ServiceName, createMetrics, startMetrics } from '#shared/metrics.js';
import { packageVersion, setupTelemetry } from '#shared/telemetry.js';
import { Gateway } from './gateway.server.js';
import { UwsUnavailableError, loadNativeUws } from '#shared/uws.js';

const config = loadConfig();
const instance = config.gateway.id ?? 'gateway';
const log = createLogger(ServiceName.gateway, config.log.level as LogLevel, { gateway: instance });
const version = packageVersion();

let uws;
try {
  uws = loadNativeUws();
} catch (err) {
  if (err instanceof UwsUnavailableError) {
    log.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}

const telemetry = await setupTelemetry({
  service: ServiceName.gateway,
  version,
  instance,
  config: config.telemetry,
  log,
});
const verify = createVerifier(config.auth);
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: `gateway-${instance}`,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log,
});
// The gateway counts into the registry from its first connection (ws_connections
// included, at every open and close); /metrics serves it.
const registry = createMetrics();
const gateway = new Gateway({ config, bus, log, verify, uws, metrics: registry });
const metrics = await startMetrics({
  service: ServiceName.gateway,
  instance,
  version,
  config: config.telemetry,
  log,
  bus,
  metrics: registry,
});
const port = await gateway.listen();
log.info('gateway ready', {
  url: `ws://${config.gateway.host}:${port}/signaling`,
  nats: config.nats.servers,
  metrics: metrics.port === undefined ? 'off' : `:${metrics.port}/metrics`,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal });
  await gateway.close();
  await metrics.close();
  await bus.close();
  await telemetry.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
