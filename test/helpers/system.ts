/**
 * The system in one test process: a real nats-server, the room service and a
 * gateway, each with its own NATS connection, torn down after the test. The
 * tools to drive it (tokens, room commands, clients) also serve systems of real
 * processes (see processes.ts) through `startTestTools`.
 */
import type { Test } from 'tap';
import { loadConfig, type Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import type { GrantsClaim } from '#shared/auth/grants.js';
import { createLogger } from '#shared/runtime/log.js';
import type { LiveRoom, RoomCommand, RoomReply } from '#shared/room/room.commands.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { mintToken } from '#shared/auth/tokens.js';
import { createVerifier } from '#shared/auth/auth.js';
import { Gateway } from '../../services/gateway/gateway.server.js';
import { loadNativeUws } from '#shared/runtime/uws.js';
import { MemoryRoomLog, type RoomLog } from '../../services/room/room.log.js';
import { RoomService } from '../../services/room/room.service.js';
import { testBus } from './bus.js';
import { Client } from './client.js';
import { startNats, type NatsServer } from './nats.js';
import { RawWs } from './rawws.js';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';

/** What a test drives a system with, from a bus of its own. */
export interface TestTools {
  config: Config;
  /** A bus for the test itself (to watch subjects). */
  bus: Bus;
  /** Room commands from the test, on `bus`. */
  rooms: RoomClient;
  token(
    sub: string,
    grants?: GrantsClaim,
    extra?: { ttlS?: number; extra?: Record<string, unknown> },
  ): Promise<string>;
  /** A client on the gateway at `url`, authenticated as `sub`, dropped in teardown. */
  connect(url: string, sub: string, grants?: GrantsClaim): Promise<Client>;
  /** Creates a room through the room service, as `owner`. */
  createRoom(
    roomId: string,
    owner: string,
    options?: { isPrivate?: boolean; maxViewers?: number },
  ): Promise<LiveRoom>;
  /** Sends a prebuilt command; a refusal resolves as the `{ ok: false }` reply, for assertions. */
  command<T = object>(roomId: string, cmd: RoomCommand): Promise<RoomReply<T>>;
}

/** `rooms.send`, with a refusal turned back into its reply (transport failures still reject). */
export async function replyOf<T = object>(
  rooms: RoomClient,
  roomId: string,
  cmd: RoomCommand,
): Promise<RoomReply<T>> {
  try {
    // The reply carries `ok: true` on the wire; RoomClient's type leaves it out.
    const reply: object = await rooms.send(roomId, cmd);
    return { ...reply, ok: true } as RoomReply<T>;
  } catch (err) {
    if (err instanceof RoomRefusedError) return { ok: false, error: err.body };
    throw err;
  }
}

export interface System extends TestTools {
  nats: NatsServer;
  gateway: Gateway;
  room: RoomService;
  url: string;
  /** The port of `gateway`. */
  port: number;
  /** A connected client, authenticated with a token for `sub` (on `url`, the first gateway by default). */
  client(sub: string, grants?: GrantsClaim, url?: string): Promise<Client>;
  /** A raw-socket client, authenticated with a token for `sub` (see rawws.ts). */
  raw(sub: string, grants?: GrantsClaim): Promise<RawWs>;
  /** Another gateway on the same NATS (its own connection and port), torn down with the system. */
  addGateway(env?: Record<string, string>): Promise<{ gateway: Gateway; url: string }>;
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

/** The tools over `bus`; clients they open are dropped in teardown. */
export function testTools(t: Test, bus: Bus, config: Config): TestTools {
  const token: TestTools['token'] = (sub, grants, extra) =>
    mintToken({
      secret: TEST_SECRET,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      sub,
      grants,
      ...extra,
    });
  const rooms = new RoomClient(bus);
  return {
    config,
    bus,
    rooms,
    token,
    command: (roomId, cmd) => replyOf(rooms, roomId, cmd),
    async connect(url, sub, grants) {
      const c = await Client.connect(`${url}?access_token=${await token(sub, grants)}`);
      t.teardown(() => c.drop());
      // The gateway sends `authenticated` on open. 15 s rather than the usual 5 s: twice,
      // on a machine with a busy loop beside the suite, none came within 5 s (see the
      // timeout's report of what the socket saw); a lost frame still fails here.
      await c.nextOf('authenticated', 15_000);
      return c;
    },
    async createRoom(roomId, owner, options = {}) {
      const reply = await replyOf<{ room: LiveRoom }>(rooms, roomId, {
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

/** Tools for a system of processes on `natsUrl` (configured with `testEnv(natsUrl, env)`). */
export async function startTestTools(
  t: Test,
  natsUrl: string,
  env: Record<string, string> = {},
): Promise<TestTools> {
  const config = loadConfig(testEnv(natsUrl, env));
  const bus = await testBus(config, 'test', createLogger('test', 'error'));
  t.teardown(() => bus.close());
  return testTools(t, bus, config);
}

export interface SystemOptions {
  /**
   * Receives every log line of the services (at debug level), e.g. to check that no
   * secret is ever logged. Without it only errors are printed.
   */
  logWrite?: (line: string) => void;
  /** The room service's log (in memory by default). */
  log?: (bus: Bus) => Promise<RoomLog>;
}

export async function startSystem(
  t: Test,
  env: Record<string, string> = {},
  options: SystemOptions = {},
): Promise<System> {
  const nats = await startNats();
  const config = loadConfig(testEnv(nats.url, env));
  const logger =
    options.logWrite === undefined
      ? createLogger('test', 'error')
      : createLogger('test', 'debug', {}, options.logWrite);
  const connect = (name: string) => testBus(config, name, logger);
  const [roomBus, gwBus, bus] = await Promise.all([
    connect('room'),
    connect('gateway'),
    connect('test'),
  ]);
  const room = new RoomService({
    bus: roomBus,
    config: config.room,
    log: options.log === undefined ? new MemoryRoomLog() : await options.log(roomBus),
    logger,
  });
  await room.start();
  const gateway = new Gateway({
    config,
    bus: gwBus,
    log: logger,
    verify: createVerifier(config.auth),
    uws: loadNativeUws(),
  });
  const port = await gateway.listen();
  const url = `ws://127.0.0.1:${port}/signaling`;
  const raws: RawWs[] = [];
  const extra: { gateway: Gateway; bus: Bus }[] = [];
  t.teardown(async () => {
    for (const r of raws) r.destroy();
    await Promise.all([gateway, ...extra.map((e) => e.gateway)].map((g) => g.close()));
    await room.stop();
    await Promise.all([roomBus, gwBus, bus, ...extra.map((e) => e.bus)].map((b) => b.close()));
    await nats.stop();
  });
  const tools = testTools(t, bus, config);
  return {
    ...tools,
    nats,
    gateway,
    room,
    url,
    port,
    client: (sub, grants, at = url) => tools.connect(at, sub, grants),
    async raw(sub, grants) {
      const token = await tools.token(sub, grants);
      const r = await RawWs.connect(port, `/signaling?access_token=${token}`);
      raws.push(r);
      await r.nextJson('authenticated');
      return r;
    },
    async addGateway(overrides = {}) {
      const cfg = loadConfig(testEnv(nats.url, { ...env, ...overrides }));
      const gwBus2 = await connect(`gateway-${extra.length + 2}`);
      const g = new Gateway({
        config: cfg,
        bus: gwBus2,
        log: logger,
        verify: createVerifier(cfg.auth),
        uws: loadNativeUws(),
      });
      extra.push({ gateway: g, bus: gwBus2 });
      return { gateway: g, url: `ws://127.0.0.1:${await g.listen()}/signaling` };
    },
  };
}
