/**
 * Room service entry point: the only file here that reads the environment,
 * handles signals and opens connections (through shared/runtime/service.main.ts).
 */
import { ServiceName, startMetrics } from '#shared/runtime/metrics.js';
import { bootService, logReady, stopOnSignals } from '#shared/runtime/service.main.js';
import { KvLeases } from './room.leases.kv.js';
import { SoleOwner } from './room.leases.js';
import { JetStreamRoomLog, MemoryRoomLog } from './room.log.js';
import { RoomService } from './room.service.js';
import { KvSnapshotStore, MemorySnapshotStore } from './room.snapshots.js';

const boot = await bootService(ServiceName.room, (c) => c.room.replicaId ?? 'room', {
  logFields: (replica) => ({ replica }),
});
const { config, log: logger, bus, version } = boot;
const replicaId = config.room.replicaId ?? 'room';
const replicas = config.nats.replicas;

const durable = config.room.storage === 'jetstream';
const service = new RoomService({
  bus,
  config: config.room,
  logger,
  log: durable
    ? await JetStreamRoomLog.open(bus.nc, {
        writer: replicaId,
        replicas,
        timeoutMs: config.nats.requestTimeoutMs,
      })
    : new MemoryRoomLog(),
  snapshots: durable ? await KvSnapshotStore.open(bus.nc, { replicas }) : new MemorySnapshotStore(),
  leases: durable
    ? await KvLeases.open(bus.nc, {
        replicaId,
        partitions: config.room.partitions,
        leaseMs: config.room.leaseMs,
        replicas,
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
await logReady(boot, 'room service', metrics, {
  nats: config.nats.servers,
  storage: config.room.storage,
  rooms: service.size,
});
stopOnSignals(boot, metrics, () => service.stop());
