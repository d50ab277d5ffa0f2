/** A room service under test: its own NATS, a bus and a RoomClient, all stopped with the test. */
import type { Test } from 'tap';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient } from '#shared/room/room.client.js';
import { RoomcastError } from '#shared/wire/errors.js';
import { JetStreamRoomLog } from '../room.log.js';
import { RoomService, type RoomServiceOptions } from '../room.service.js';
import type { SnapshotStore } from '../room.snapshots.js';
import { startNats, type NatsServer } from '../../../test/helpers/nats.js';

/** A room service on a NATS of its own (stopped with the test), built from `options`. */
export async function serviceUnderTest(
  t: Test,
  options: Omit<RoomServiceOptions, 'bus' | 'logger' | 'config'>,
  configEnv: Record<string, string> = {},
): Promise<{
  service: RoomService;
  bus: Bus;
  rooms: RoomClient;
  natsUrl: string;
  nats: NatsServer;
}> {
  const nats = await startNats();
  const logger = createLogger('test', 'error');
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name: 'svc',
    requestTimeoutMs: 2000,
    log: logger,
  });
  const service = new RoomService({ ...options, bus, logger, config: loadConfig(configEnv).room });
  await service.start();
  t.teardown(async () => {
    await service.stop();
    await bus.close();
    await nats.stop();
  });
  return { service, bus, rooms: new RoomClient(bus), natsUrl: nats.url, nats };
}

/** 'ok' when the command was accepted, else the code it was refused with. */
export async function outcome(reply: Promise<unknown>): Promise<string> {
  try {
    await reply;
    return 'ok';
  } catch (err) {
    if (err instanceof RoomcastError) return err.code;
    throw err;
  }
}

/**
 * A room service on a NATS of its own with a JetStream log and the snapshot store
 * `snapshotsOn` opens, all stopped with the test.
 */
export async function durableServiceUnderTest<S extends SnapshotStore>(
  t: Test,
  name: string,
  env: Record<string, string>,
  snapshotsOn: (bus: Bus) => S | Promise<S>,
): Promise<{
  bus: Bus;
  log: JetStreamRoomLog;
  snapshots: S;
  service: RoomService;
  nats: NatsServer;
}> {
  const nats = await startNats();
  const logger = createLogger('test', 'error');
  const config = loadConfig({ NATS_URL: nats.url, ...env });
  const bus = await Bus.connect({
    ...nats.connectOptions(Credential.room),
    name,
    requestTimeoutMs: 2000,
    log: logger,
  });
  const log = await JetStreamRoomLog.open(bus.nc, { writer: 'w1', replicas: 1, timeoutMs: 2000 });
  const snapshots = await snapshotsOn(bus);
  const service = new RoomService({ bus, config: config.room, log, snapshots, logger });
  await service.start();
  t.teardown(async () => {
    await service.stop();
    await bus.close();
    await nats.stop();
  });
  return { bus, log, snapshots, service, nats };
}
