/**
 * Gateway entry point: the only file here that reads the environment, handles
 * signals and opens sockets (through shared/runtime/service.main.ts).
 */
import { createVerifier } from '#shared/auth/auth.js';
import { ServiceName, createMetrics, startMetrics } from '#shared/runtime/metrics.js';
import { bootHttpService, logReady, stopOnSignals } from '#shared/runtime/service.main.js';
import { Gateway } from './gateway.server.js';

const boot = await bootHttpService(ServiceName.gateway, (c) => c.gateway.id ?? 'gateway', {
  logFields: (gateway) => ({ gateway }),
});
const { config, log, bus, version, uws } = boot;
const instance = config.gateway.id ?? 'gateway';
// The gateway counts into the registry from its first connection (ws_connections
// included, at every open and close); /metrics serves it.
const registry = createMetrics();
const gateway = new Gateway({
  config,
  bus,
  log,
  verify: createVerifier(config.auth),
  uws,
  metrics: registry,
});
const metrics = await startMetrics({
  service: ServiceName.gateway,
  instance,
  version,
  config: config.telemetry,
  log,
  bus,
  metrics: registry,
  onSample: (m) => m.roomCommandsWaiting.set(gateway.roomCommandsWaiting),
});
const port = await gateway.listen();
await logReady(boot, 'gateway', metrics, {
  url: `ws://${config.gateway.host}:${port}/signaling`,
  nats: config.nats.servers,
});
stopOnSignals(boot, metrics, () => gateway.close());
