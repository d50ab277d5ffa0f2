/**
 * The system in one test process: a real nats-server, the room service and a
 * gateway, each with its own NATS connection, torn down after the test; with the
 * `stream` option also the stream service, its hook endpoint and the SRS stand-in
 * posting hooks to it (services/stream/test/stream.harness.ts adds the stream
 * tests' conveniences on top). The tools to drive it (tokens, room commands,
 * clients) also serve systems of real processes (see processes.ts) through
 * `startTestTools`.
 */
import type { Test } from 'tap';
import { loadConfig, type Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import { Credential } from '#shared/runtime/bus.permissions.js';
import type { GrantsClaim } from '#shared/auth/grants.js';
import { createLogger, type Logger } from '#shared/runtime/log.js';
import type { LiveRoom, RoomCommand, RoomReply } from '#shared/room/room.commands.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { mintToken } from '#shared/auth/tokens.js';
import { createVerifier } from '#shared/auth/auth.js';
import { revocationMaxAgeS } from '#shared/auth/revocations.js';
import { createStreamVerifier } from '#shared/auth/stream.token.js';
import { Gateway } from '../../services/gateway/gateway.server.js';
import { loadNativeUws } from '#shared/runtime/uws.js';
import { MemoryRoomLog, type RoomLog } from '../../services/room/room.log.js';
import { RoomService } from '../../services/room/room.service.js';
import { SrsApi } from '../../services/stream/srs.api.js';
import { HookServer } from '../../services/stream/stream.http.js';
import { StreamService } from '../../services/stream/stream.service.js';
import { SrsStandIn } from '../srs/srs.standin.js';
import { testBus } from './bus.js';
import { Client } from './client.js';
import { startNats, type NatsServer } from './nats.js';
import { RawWs } from './rawws.js';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';
/** The stream service's hook secret in an in-process system. */
export const TEST_HOOK_SECRET = 'hook-secret-for-tests-0123456789';

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
  /** The stream side, when started with the `stream` option. */
  stream?: StreamParts;
}

/** The stream service of a system, its hook endpoint and the SRS stand-in it talks to. */
export interface StreamParts {
  service: StreamService;
  hooks: HookServer;
  srs: SrsStandIn;
  /** Hook base URLs: with the secret, and without it (address-checked). */
  hookBase: { secret: string; plain: string };
}

/** How the stream side of a system starts. */
export interface StreamPartsOptions {
  /** How long the stand-in's SRS waits for a hook, in ms (SRS: 30 s). */
  srsHookTimeoutMs?: number;
  /** Post hooks to the path without the secret (address-checked). */
  plainHooks?: boolean;
  /** Source address of the stand-in's hooks. */
  hookLocalAddress?: string;
  /** The stand-in's SRS timings (HLS linger, STUN timeout, ...) times this; 1 = as recorded. */
  srsTimeScale?: number;
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
      // The gateway sends `authenticated` once the token is verified. 15 s rather than the
      // usual 5 s: on a busy machine none came within 5 s; a lost frame still fails here.
      const closedFirst = c.waitClose(15_000).then(
        (closed) => closed,
        () => undefined,
      );
      const first = await Promise.race([
        c.nextOf('authenticated', 15_000).then(() => undefined),
        closedFirst,
      ]);
      if (first !== undefined) throw new Error(`${sub}: ${c.closeCause()} before authenticated`);
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
  const bus = await testBus(config, 'test', createLogger('test', 'error'), Credential.operator);
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
  /** Also run the stream service against an SRS stand-in (its config defaults: `streamTestEnv`). */
  stream?: StreamPartsOptions;
}

/**
 * The stream service's configuration in an in-process system, under the test's own
 * `env`: reconcile rounds run when the test calls `reconcile()` (the timer is only a
 * backstop), confirmation is quick, and grace and end deadlines never pass by themselves.
 */
export function streamTestEnv(srs: SrsStandIn): Record<string, string> {
  return {
    STREAM_HOST: '127.0.0.1',
    STREAM_PORT: '0',
    STREAM_HOOK_SECRET: TEST_HOOK_SECRET,
    STREAM_SRS_API_URL: srs.apiUrl,
    // The stand-in serves HLS, HTTP-FLV and WHIP/WHEP on its API's port (srs.media.ts).
    STREAM_PUBLIC_HTTP_URL: srs.apiUrl,
    STREAM_PUBLIC_RTC_URL: srs.apiUrl,
    STREAM_SRS_API_TIMEOUT_MS: '500',
    STREAM_RECONCILE_INTERVAL_MS: '3600000',
    STREAM_RECONCILE_MIN_AGE_MS: '0',
    STREAM_CONFIRM_INTERVAL_MS: '20',
    STREAM_CONFIRM_TIMEOUT_MS: '3000',
    STREAM_PUBLISHER_GRACE_MS: '3600000',
    STREAM_END_AFTER_MS: '7200000',
  };
}

/** The SRS stand-in, its hooks going nowhere until the stream service listens. */
async function startStandIn(o: StreamPartsOptions): Promise<SrsStandIn> {
  const srs = new SrsStandIn({
    hookBase: 'http://127.0.0.1:1/unset',
    ...(o.srsHookTimeoutMs === undefined ? {} : { hookTimeoutMs: o.srsHookTimeoutMs }),
    ...(o.hookLocalAddress === undefined ? {} : { hookLocalAddress: o.hookLocalAddress }),
    ...(o.srsTimeScale === undefined ? {} : { timeScale: o.srsTimeScale }),
  });
  await srs.start();
  return srs;
}

/** The stream service on `bus`, its hook endpoint listening, and `srs` hooking into it. */
async function startStreamParts(
  config: Config,
  bus: Bus,
  logger: Logger,
  srs: SrsStandIn,
  o: StreamPartsOptions,
): Promise<StreamParts> {
  const s = config.stream;
  const service = new StreamService({
    bus,
    config: s,
    verify: createStreamVerifier(config.auth, s.tokenMaxTtlS),
    revocationMaxAgeS: revocationMaxAgeS(config.auth),
    srs: new SrsApi({
      baseUrl: s.srsApiUrl,
      timeoutMs: s.srsApiTimeoutMs,
      pageSize: s.srsPageSize,
      maxPages: s.srsMaxPages,
    }),
    logger,
  });
  const hooks = new HookServer({ uws: loadNativeUws(), config: s, service, logger });
  const port = await hooks.listen();
  // Not awaited: the gateway, started after this, creates the revocations bucket.
  void service.start();
  await bus.flush();
  const plain = `http://127.0.0.1:${port}/api/srs/hooks`;
  const hookBase = { secret: `${plain}/${s.hookSecret ?? ''}`, plain };
  srs.hookBase = o.plainHooks === true ? hookBase.plain : hookBase.secret;
  return { service, hooks, srs, hookBase };
}

export async function startSystem(
  t: Test,
  env: Record<string, string> = {},
  options: SystemOptions = {},
): Promise<System> {
  const nats = await startNats();
  const srs = options.stream === undefined ? undefined : await startStandIn(options.stream);
  const baseEnv = srs === undefined ? env : { ...streamTestEnv(srs), ...env };
  const config = loadConfig(testEnv(nats.url, baseEnv));
  const logger =
    options.logWrite === undefined
      ? createLogger('test', 'error')
      : createLogger('test', 'debug', {}, options.logWrite);
  // Each component as its own credential, with the permissions that ship; the test as the superuser.
  const connect = (name: string, credential: Credential) =>
    testBus(config, name, logger, credential);
  const [roomBus, gwBus, bus, streamBus] = await Promise.all([
    connect('room', Credential.room),
    connect('gateway', Credential.gateway),
    connect('test', Credential.operator),
    srs === undefined ? undefined : connect('stream', Credential.stream),
  ]);
  const room = new RoomService({
    bus: roomBus,
    config: config.room,
    log: options.log === undefined ? new MemoryRoomLog() : await options.log(roomBus),
    logger,
  });
  await room.start();
  // The server must hold the subscriptions before anyone sends to them.
  await roomBus.flush();
  const stream =
    srs === undefined || streamBus === undefined || options.stream === undefined
      ? undefined
      : await startStreamParts(config, streamBus, logger, srs, options.stream);
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
    if (stream !== undefined) {
      stream.hooks.close();
      await stream.srs.stop();
      await stream.service.stop();
    }
    await room.stop();
    const buses = [roomBus, gwBus, bus, ...(streamBus === undefined ? [] : [streamBus])];
    await Promise.all([...buses, ...extra.map((e) => e.bus)].map((b) => b.close()));
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
    ...(stream === undefined ? {} : { stream }),
    client: (sub, grants, at = url) => tools.connect(at, sub, grants),
    async raw(sub, grants) {
      const token = await tools.token(sub, grants);
      const r = await RawWs.connect(port, `/signaling?access_token=${token}`);
      raws.push(r);
      await r.nextJson('authenticated');
      return r;
    },
    async addGateway(overrides = {}) {
      const cfg = loadConfig(testEnv(nats.url, { ...baseEnv, ...overrides }));
      const gwBus2 = await connect(`gateway-${extra.length + 2}`, Credential.gateway);
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
