/** A room service under test: its own NATS, a bus and a RoomClient, all stopped with the test. */
import type { Test } from 'tap';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { RoomClient } from '#shared/room/room.client.js';
import { RoomcastError } from '#shared/wire/errors.js';
import { RoomService, type RoomServiceOptions } from '../room.service.js';
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
