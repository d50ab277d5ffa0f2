/**
 * Catalogue entry point: the only file here that reads the environment, handles
 * signals and opens connections (through shared/runtime/service.main.ts).
 *
 * `main.ts`: follow ROOM_EVENTS into the store and answer `catalog.query`.
 * `main.ts rebuild`: clear the store, project the whole log again, and exit (stop
 * the running catalogue processes first).
 */
import { ServiceName, startMetrics } from '#shared/runtime/metrics.js';
import { processInstanceId } from '#shared/runtime/telemetry.js';
import { bootService, logReady, stopOnSignals } from '#shared/runtime/service.main.js';
import { catalogProjector, openCatalogStore, startCatalog } from './catalog.service.js';

const instance = processInstanceId();
const rebuild = process.argv[2] === 'rebuild';
// A rebuild is a one-off tool: no traces (it replays the whole log), no /metrics.
const boot = await bootService(ServiceName.catalog, () => instance, { tracing: !rebuild });
const { config, log, bus, version } = boot;
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
await logReady(boot, 'catalogue', metrics, {
  store: store.kind,
  durable: catalog.projector.durable,
});
stopOnSignals(boot, metrics, () => catalog.stop());
