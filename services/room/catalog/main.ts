/**
 * Catalogue entry point: the only file here that reads the environment, handles
 * signals and opens connections.
 *
 * `main.ts`: follow ROOM_EVENTS into the store and answer `catalog.query`.
 * `main.ts rebuild`: clear the store, project the whole log again, and exit (stop
 * the running catalogue processes first).
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { ServiceName, startMetrics } from '#shared/metrics.js';
import { packageVersion, processInstanceId, setupTelemetry } from '#shared/telemetry.js';
import { catalogProjector, openCatalogStore, startCatalog } from './catalog.service.js';

const config = loadConfig();
const instance = processInstanceId();
const log = createLogger(ServiceName.catalog, config.log.level as LogLevel, { instance });
const rebuild = process.argv[2] === 'rebuild';
const version = packageVersion();
// A rebuild is a one-off tool: no traces (it replays the whole log), no /metrics.
const telemetry = rebuild
  ? undefined
  : await setupTelemetry({
      service: ServiceName.catalog,
      version,
      instance,
      config: config.telemetry,
      log,
    });
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: `catalog-${instance}`,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log,
});
const store = await openCatalogStore(bus, config, log);

if (rebuild) {
  const projector = await catalogProjector(bus, store, config, log);
  const result = await projector.rebuild();
  log.info('catalogue rebuilt from ROOM_EVENTS', { store: store.kind, ...result });
  await store.close();
  await bus.close();
  process.exit(0);
}

const catalog = await startCatalog({ bus, config, log, store });
const metrics = await startMetrics({
  service: ServiceName.catalog,
  instance,
  version,
  config: config.telemetry,
  log,
  bus,
});
log.info('catalogue ready', {
  store: store.kind,
  durable: catalog.projector.durable,
  metrics: metrics.port === undefined ? 'off' : `:${metrics.port}/metrics`,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal });
  await catalog.stop();
  await metrics.close();
  await bus.close();
  await telemetry?.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
