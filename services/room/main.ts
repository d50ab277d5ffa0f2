/**
 * Room service entry point: the only file here that reads the environment,
 * handles signals and opens connections.
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { ServiceName, startMetrics } from '#shared/metrics.js';
import { packageVersion, setupTelemetry } from '#shared/telemetry.js';
import { KvLeases, SoleOwner } from './room.leases.js';
import { JetStreamRoomLog, MemoryRoomLog } from './room.log.js';
import { RoomService } from './room.service.js';
import { KvSnapshotStore, MemorySnapshotStore } from './room.snapshots.js';

const config = loadConfig();
const replicaId = config.room.replicaId ?? 'room';
const logger = createLogger(ServiceName.room, config.log.level as LogLevel, { replica: replicaId });
const version = packageVersion();
const telemetry = await setupTelemetry({
  service: ServiceName.room,
  version,
  instance: replicaId,
  config: config.telemetry,
  log: logger,
});
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: `room-${replicaId}`,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log: logger,
});

const durable = config.room.storage === 'jetstream';
const service = new RoomService({
  bus,
  config: config.room,
  logger,
  log: durable
    ? await JetStreamRoomLog.open(bus.nc, {
        writer: replicaId,
        replicas: config.nats.replicas,
        timeoutMs: config.nats.requestTimeoutMs,
      })
    : new MemoryRoomLog(),
  snapshots: durable
    ? await KvSnapshotStore.open(bus.nc, { replicas: config.nats.replicas })
    : new MemorySnapshotStore(),
  leases: durable
    ? await KvLeases.open(bus.nc, {
        replicaId,
        partitions: config.room.partitions,
        leaseMs: config.room.leaseMs,
        replicas: config.nats.replicas,
        log: logger,
      })
    : new SoleOwner(config.room.partitions),
});
await service.start();
const metrics = await startMetrics({
  service: ServiceName.room,
  instance: replicaId,
  version,
  config: config.telemetry,
  log: logger,
  bus,
  onSample: (m) => service.reportMetrics(m),
});
logger.info('room service ready', {
  nats: config.nats.servers,
  storage: config.room.storage,
  rooms: service.size,
  metrics: metrics.port === undefined ? 'off' : `:${metrics.port}/metrics`,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('stopping', { signal });
  await service.stop();
  await metrics.close();
  await bus.close();
  await telemetry.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
