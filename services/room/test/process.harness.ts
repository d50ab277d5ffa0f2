/** A room service as a real process (to kill -9), on a NATS of its own, with a RoomClient. */
import type { Test } from 'tap';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient } from '#shared/room/room.client.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService, type ServiceProcess } from '../../../test/helpers/processes.js';

/**
 * Settings of a room service that is killed and started again: the restarted process
 * has the same replica id (it takes its leases back at once), and the members'
 * gateway, which sends no heartbeats, is never taken for dead mid-test.
 */
export function restartableEnv(natsUrl: string, replicaId: string): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    LOG_LEVEL: 'info',
    ROOM_REPLICA_ID: replicaId,
    ROOM_LEASE_MS: '3000',
    ROOM_GATEWAY_TIMEOUT_MS: '3600000',
  };
}

/** NATS, a restartable room-service process with `env` on top, and a client; all stopped with the test. */
export async function roomProcessUnderTest(
  t: Test,
  name: string,
  env: Record<string, string>,
): Promise<{ bus: Bus; rooms: RoomClient; start: () => Promise<ServiceProcess> }> {
  const nats = await startNats();
  const full = { ...restartableEnv(nats.url, name), ...env };
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name,
    requestTimeoutMs: 5000,
    log: createLogger('test', 'error'),
  });
  let service: ServiceProcess | undefined;
  t.teardown(async () => {
    await service?.signal('SIGKILL');
    await bus.close();
    await nats.stop();
  });
  return {
    bus,
    rooms: new RoomClient(bus),
    start: async () => (service = await startService(t, 'room', full)),
  };
}
