/**
 * The stream service in one test process, against what it really talks to: a real
 * nats-server, the room service (with an in-memory log the test can read and slow
 * down), the SRS stand-in posting hooks to the real hook endpoint (uWebSockets.js).
 * Reconcile rounds run only when the test calls `stream.reconcile()`.
 */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '#config/config.js';
import { createVerifier } from '#shared/auth/auth.js';
import type { Bus } from '#shared/runtime/bus.js';
import type { GrantsClaim } from '#shared/auth/grants.js';
import { createLogger } from '#shared/runtime/log.js';
import type { LiveRoom, RoomCommand, RoomReply } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { StreamMetric } from '#shared/stream/stream.protocol.js';
import { subjects } from '#shared/wire/subjects.js';
import { RoomClient } from '#shared/room/room.client.js';
import { mintToken } from '#shared/auth/tokens.js';
import { loadNativeUws } from '#shared/runtime/uws.js';
import { Gateway } from '../../gateway/gateway.server.js';
import { MemoryRoomLog, type LogPosition } from '../../room/room.log.js';
import { RoomService } from '../../room/room.service.js';
import type { RoomState } from '#shared/room/room.state.js';
import { SrsApi } from '../srs.api.js';
import { HookServer } from '../stream.http.js';
import { StreamService } from '../stream.service.js';
import { testBus } from '../../../test/helpers/bus.js';
import { startNats, type NatsServer } from '../../../test/helpers/nats.js';
import { TEST_SECRET, replyOf } from '../../../test/helpers/system.js';
import { SrsStandIn } from '../../../test/srs/srs.standin.js';

export const HOOK_SECRET = 'hook-secret-for-tests-0123456789';

/** A room log whose appends can be made slow: a slow (or stalled) room service. */
export class SlowLog extends MemoryRoomLog {
  delayMs = 0;

  /** Every event appended, per room (what the room service made durable). */
  readonly logs = new Map<string, RoomEvent[]>();

  override async append(
    roomId: string,
    events: readonly RoomEvent[],
    at: LogPosition,
  ): Promise<number> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    const streamSeq = await super.append(roomId, events, at);
    this.logs.set(roomId, [...(this.logs.get(roomId) ?? []), ...events]);
    return streamSeq;
  }
}

export interface StreamSystem {
  nats: NatsServer;
  config: Config;
  room: RoomService;
  log: SlowLog;
  stream: StreamService;
  hooks: HookServer;
  srs: SrsStandIn;
  /** The test's own bus. */
  bus: Bus;
  /** Every metric event published on metric.stream.>, in order. */
  metrics: StreamMetric[];
  /** Hook base URLs: with the secret, and without it (address-checked). */
  hookBase: { secret: string; plain: string };
  /** The gateway's HTTP base URL, when started with `gateway: true`. */
  gatewayUrl: string;
  createRoom(
    roomId: string,
    options?: { owner?: string; isPrivate?: boolean; maxViewers?: number },
  ): Promise<LiveRoom & { streamKey: string }>;
  command<T = object>(roomId: string, cmd: RoomCommand): Promise<RoomReply<T>>;
  state(roomId: string): RoomState | undefined;
  /** The SRS client id holding the room's publisher slot, if a stream holds it. */
  holder(roomId: string): string | null;
  /** The room's recorded events (its log), by type. */
  events(roomId: string): RoomEvent[];
  types(roomId: string): string[];
  /** A token signed like client tokens. */
  token(sub: string, grants?: GrantsClaim, ttlS?: number): Promise<string>;
  /** Waits until `pred` holds, polling; fails the test with `what` if it never does. */
  until(what: string, pred: () => boolean, timeoutMs?: number): Promise<void>;
  /** Pauses nats-server (SIGSTOP) and returns once the kernel shows it stopped. */
  pauseNats(): Promise<void>;
  resumeNats(): void;
}

export interface StreamSystemOptions {
  /** Environment overrides (config variables). */
  env?: Record<string, string>;
  /** How long the stand-in's SRS waits for a hook, in ms (SRS: 30 s). */
  srsHookTimeoutMs?: number;
  /** Post hooks to the path without the secret (address-checked). */
  plainHooks?: boolean;
  /** Source address of the stand-in's hooks. */
  hookLocalAddress?: string;
  /** Also run a gateway (for the REST routes). */
  gateway?: boolean;
}

export async function startStreamSystem(
  t: Test,
  options: StreamSystemOptions = {},
): Promise<StreamSystem> {
  const nats = await startNats();
  const srs = new SrsStandIn({
    hookBase: 'http://127.0.0.1:1/unset',
    ...(options.srsHookTimeoutMs === undefined ? {} : { hookTimeoutMs: options.srsHookTimeoutMs }),
    ...(options.hookLocalAddress === undefined
      ? {}
      : { hookLocalAddress: options.hookLocalAddress }),
  });
  await srs.start();
  const config = loadConfig({
    NATS_URL: nats.url,
    AUTH_JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'error',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    STREAM_HOST: '127.0.0.1',
    STREAM_PORT: '0',
    STREAM_HOOK_SECRET: HOOK_SECRET,
    STREAM_SRS_API_URL: srs.apiUrl,
    STREAM_SRS_API_TIMEOUT_MS: '500',
    // Rounds are run by the tests; the timer is only a backstop.
    STREAM_RECONCILE_INTERVAL_MS: '3600000',
    STREAM_RECONCILE_MIN_AGE_MS: '0',
    STREAM_CONFIRM_INTERVAL_MS: '20',
    STREAM_CONFIRM_TIMEOUT_MS: '3000',
    STREAM_PUBLISHER_GRACE_MS: '3600000',
    STREAM_END_AFTER_MS: '7200000',
    ...options.env,
  });
  const logger = createLogger('test', 'error');
  const connect = (name: string) => testBus(config, name, logger);
  const [roomBus, streamBus, gatewayBus, bus] = await Promise.all([
    connect('room'),
    connect('stream'),
    connect('gateway'),
    connect('test'),
  ]);
  const log = new SlowLog();
  const room = new RoomService({ bus: roomBus, config: config.room, log, logger });
  await room.start();
  // The server must hold the subscriptions before anyone sends to them.
  await roomBus.flush();
  const stream = new StreamService({
    bus: streamBus,
    config: config.stream,
    verify: createVerifier(config.auth),
    srs: new SrsApi({
      baseUrl: config.stream.srsApiUrl,
      timeoutMs: config.stream.srsApiTimeoutMs,
      pageSize: config.stream.srsPageSize,
      maxPages: config.stream.srsMaxPages,
    }),
    logger,
  });
  const hooks = new HookServer({
    uws: loadNativeUws(),
    config: config.stream,
    service: stream,
    logger,
  });
  const port = await hooks.listen();
  stream.start();
  await streamBus.flush();
  const hookBase = {
    secret: `http://127.0.0.1:${port}/api/srs/hooks/${HOOK_SECRET}`,
    plain: `http://127.0.0.1:${port}/api/srs/hooks`,
  };
  srs.hookBase = options.plainHooks === true ? hookBase.plain : hookBase.secret;
  let gateway: Gateway | undefined;
  if (options.gateway === true) {
    gateway = new Gateway({
      config,
      bus: gatewayBus,
      log: logger,
      verify: createVerifier(config.auth),
      uws: loadNativeUws(),
    });
    await gateway.listen();
  }
  const metrics: StreamMetric[] = [];
  bus.subscribe(subjects.metric('stream', '>'), (msg) => {
    metrics.push(JSON.parse(new TextDecoder().decode(msg.data)) as StreamMetric);
  });
  await bus.flush();
  t.teardown(async () => {
    log.delayMs = 0;
    await gateway?.close();
    hooks.close();
    await srs.stop();
    await stream.stop();
    await room.stop();
    await Promise.all([roomBus.close(), streamBus.close(), gatewayBus.close(), bus.close()]);
    await nats.stop();
  });
  const rooms = new RoomClient(bus);
  const command: StreamSystem['command'] = (roomId, cmd) => replyOf(rooms, roomId, cmd);
  const until: StreamSystem['until'] = async (what, pred, timeoutMs = 5000) => {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
      await sleep(10);
    }
  };
  const events = (roomId: string) => log.logs.get(roomId) ?? [];
  return {
    nats,
    config,
    room,
    log,
    stream,
    hooks,
    srs,
    bus,
    metrics,
    hookBase,
    gatewayUrl: `http://127.0.0.1:${gateway?.port ?? 0}`,
    command,
    events,
    types: (roomId) => events(roomId).map((e) => e.type),
    state: (roomId) => room.stateOf(roomId),
    holder: (roomId) => {
      const p = room.stateOf(roomId)?.publisher;
      return p?.kind === 'stream' ? p.clientId : null;
    },
    async createRoom(roomId, o = {}) {
      const reply = await command<{ room: LiveRoom }>(roomId, {
        type: 'create',
        userId: o.owner ?? 'owner',
        title: `Room ${roomId}`,
        isPrivate: o.isPrivate ?? false,
        ...(o.maxViewers === undefined ? {} : { maxViewers: o.maxViewers }),
      });
      if (!reply.ok) throw new Error(`create ${roomId}: ${reply.error.code}`);
      return reply.room as LiveRoom & { streamKey: string };
    },
    token: (sub, grants, ttlS) =>
      mintToken({
        secret: TEST_SECRET,
        issuer: config.auth.issuer,
        audience: config.auth.audience,
        sub,
        ...(grants === undefined ? {} : { grants }),
        ...(ttlS === undefined ? {} : { ttlS }),
      }),
    async pauseNats() {
      const pid = nats.process.pid;
      nats.process.kill('SIGSTOP');
      const state = () => readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1]?.[0];
      await until('nats-server stopped', () => state() === 'T');
    },
    resumeNats() {
      nats.process.kill('SIGCONT');
    },
    until,
  };
}
