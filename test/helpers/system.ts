/**
 * The system in one test process: a real nats-server, the room service and a
 * gateway, each with its own NATS connection, torn down after the test.
 */
import type { Test } from 'tap';
import { loadConfig, type Config } from '#config/config.js';
import type { Bus } from '#shared/bus.js';
import type { GrantsClaim } from '#shared/grants.js';
import { createLogger } from '#shared/log.js';
import type { LiveRoom, RoomCommand, RoomReply } from '#shared/room.commands.js';
import { subjects } from '#shared/subjects.js';
import { mintToken } from '#shared/tokens.js';
import { createVerifier } from '#shared/auth.js';
import { Gateway } from '../../services/gateway/gateway.server.js';
import { loadNativeUws } from '#shared/uws.js';
import { MemoryRoomLog } from '../../services/room/room.log.js';
import { RoomService } from '../../services/room/room.service.js';
import { testBus } from './bus.js';
import { Client } from './client.js';
import { startNats, type NatsServer } from './nats.js';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

export interface System {
  nats: NatsServer;
  config: Config;
  gateway: Gateway;
  room: RoomService;
  /** A bus for the test itself (to send room commands, watch subjects). */
  bus: Bus;
  url: string;
  token(
    sub: string,
    grants?: GrantsClaim,
    extra?: { ttlS?: number; extra?: Record<string, unknown> },
  ): Promise<string>;
  /** A connected client, authenticated with a token for `sub`. */
  client(sub: string, grants?: GrantsClaim): Promise<Client>;
  /** Creates a room through the room service, as `owner`. */
  createRoom(
    roomId: string,
    owner: string,
    options?: { isPrivate?: boolean; maxViewers?: number },
  ): Promise<LiveRoom>;
  command<T = object>(roomId: string, cmd: RoomCommand): Promise<RoomReply<T>>;
}

/** Environment every test system starts from; `env` overrides it. */
export function testEnv(natsUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    AUTH_JWT_SECRET: TEST_SECRET,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    LOG_LEVEL: 'error',
    ...env,
  };
}

export async function startSystem(t: Test, env: Record<string, string> = {}): Promise<System> {
  const nats = await startNats();
  const config = loadConfig(testEnv(nats.url, env));
  const logger = createLogger('test', 'error');
  const connect = (name: string) => testBus(config, name, logger);
  const [roomBus, gwBus, bus] = await Promise.all([
    connect('room'),
    connect('gateway'),
    connect('test'),
  ]);
  const room = new RoomService({
    bus: roomBus,
    config: config.room,
    log: new MemoryRoomLog(),
    logger,
  });
  room.start();
  const gateway = new Gateway({
    config,
    bus: gwBus,
    log: logger,
    verify: createVerifier(config.auth),
    uws: loadNativeUws(),
  });
  const port = await gateway.listen();
  const url = `ws://127.0.0.1:${port}/signaling`;
  const clients: Client[] = [];
  t.teardown(async () => {
    for (const c of clients) c.drop();
    await gateway.close();
    await room.stop();
    await Promise.all([roomBus.close(), gwBus.close(), bus.close()]);
    await nats.stop();
  });
  const token: System['token'] = (sub, grants, extra) =>
    mintToken({
      secret: TEST_SECRET,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      sub,
      grants,
      ...extra,
    });
  const command: System['command'] = (roomId, cmd) =>
    bus.request(subjects.roomCommand(roomId), cmd);
  return {
    nats,
    config,
    gateway,
    room,
    bus,
    url,
    token,
    command,
    async client(sub, grants) {
      const c = await Client.connect(`${url}?access_token=${await token(sub, grants)}`);
      clients.push(c);
      await c.nextOf('authenticated');
      return c;
    },
    async createRoom(roomId, owner, options = {}) {
      const reply = await command<{ room: LiveRoom }>(roomId, {
        type: 'create',
        userId: owner,
        title: `Room ${roomId}`,
        isPrivate: options.isPrivate ?? false,
        ...(options.maxViewers === undefined ? {} : { maxViewers: options.maxViewers }),
      });
      if (!reply.ok) throw new Error(`create ${roomId}: ${reply.error.code}`);
      return reply.room;
    },
  };
}
