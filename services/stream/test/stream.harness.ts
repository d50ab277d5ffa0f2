/**
 * The stream service in one test process, against what it really talks to: the
 * in-process system of test/helpers/system.ts (a real nats-server, the room service,
 * a gateway) started with its stream side (the stream service, its hook endpoint on
 * uWebSockets.js, the SRS stand-in posting hooks to it). What this file adds are the
 * stream tests' conveniences: a room log the test can read and slow down, the
 * stream metric events, and views of the room's state.
 * Reconcile rounds run only when the test calls `stream.reconcile()`.
 */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GrantsClaim } from '#shared/auth/grants.js';
import { mintMediaToken, type MediaAction } from '#shared/auth/media.token.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { RoomState } from '#shared/room/room.state.js';
import type { StreamMetric } from '#shared/stream/stream.protocol.js';
import { subjects } from '#shared/wire/subjects.js';
import { MemoryRoomLog, type LogPosition } from '../../room/room.log.js';
import type { SrsStandIn } from '../../../test/srs/srs.standin.js';
import {
  TEST_HOOK_SECRET,
  TEST_SECRET,
  startSystem,
  type StreamParts,
  type StreamPartsOptions,
  type System,
} from '../../../test/helpers/system.js';
import type { HookServer } from '../stream.http.js';
import type { StreamService } from '../stream.service.js';

export const HOOK_SECRET = TEST_HOOK_SECRET;

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

/** The system with its stream side, and the stream tests' own tools. */
export interface StreamSystem extends Omit<System, 'createRoom' | 'token' | 'stream'> {
  log: SlowLog;
  stream: StreamService;
  hooks: HookServer;
  srs: SrsStandIn;
  /** Every metric event published on metric.stream.>, in order. */
  metrics: StreamMetric[];
  /** Hook base URLs: with the secret, and without it (address-checked). */
  hookBase: StreamParts['hookBase'];
  /** The gateway's HTTP base URL. */
  gatewayUrl: string;
  createRoom(
    roomId: string,
    options?: { owner?: string; isPrivate?: boolean; maxViewers?: number },
  ): Promise<LiveRoom & { streamKey: string }>;
  state(roomId: string): RoomState | undefined;
  /** The SRS client id holding the room's publisher slot, if a stream holds it. */
  holder(roomId: string): string | null;
  /** The room's recorded events (its log), by type. */
  events(roomId: string): RoomEvent[];
  types(roomId: string): string[];
  /** A login token (what the gateway takes; SRS hooks refuse it). */
  token(sub: string, grants?: GrantsClaim, ttlS?: number): Promise<string>;
  /** A media token for one room and action (what SRS hooks take), `ttlS` 600 by default. */
  mediaToken(sub: string, roomId: string, action: MediaAction, ttlS?: number): Promise<string>;
  /** Waits until `pred` holds, polling; fails the test with `what` if it never does. */
  until(what: string, pred: () => boolean, timeoutMs?: number): Promise<void>;
  /** Pauses nats-server (SIGSTOP) and returns once the kernel shows it stopped. */
  pauseNats(): Promise<void>;
  resumeNats(): void;
}

export interface StreamSystemOptions extends StreamPartsOptions {
  /** Environment overrides (config variables). */
  env?: Record<string, string>;
  /** Kept for callers that ask for the REST routes: a gateway always runs now. */
  gateway?: boolean;
}

export async function startStreamSystem(
  t: Test,
  options: StreamSystemOptions = {},
): Promise<StreamSystem> {
  const { env = {}, gateway: _gateway, ...stream } = options;
  const log = new SlowLog();
  const sys = await startSystem(t, env, { log: () => Promise.resolve(log), stream });
  if (sys.stream === undefined) throw new Error('the system started without its stream side');
  // Registered after the system's teardown, so it runs first: a stalled log would hold
  // up the room service's stop.
  t.teardown(() => {
    log.delayMs = 0;
  });
  const metrics: StreamMetric[] = [];
  sys.bus.subscribe(subjects.metric('stream', '>'), (msg) => {
    metrics.push(JSON.parse(new TextDecoder().decode(msg.data)) as StreamMetric);
  });
  await sys.bus.flush();
  const until: StreamSystem['until'] = async (what, pred, timeoutMs = 5000) => {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
      await sleep(10);
    }
  };
  const events = (roomId: string) => log.logs.get(roomId) ?? [];
  const { room, nats } = sys;
  return {
    ...sys,
    log,
    stream: sys.stream.service,
    hooks: sys.stream.hooks,
    srs: sys.stream.srs,
    hookBase: sys.stream.hookBase,
    metrics,
    gatewayUrl: `http://127.0.0.1:${sys.port}`,
    events,
    types: (roomId) => events(roomId).map((e) => e.type),
    state: (roomId) => room.stateOf(roomId),
    holder: (roomId) => {
      const p = room.stateOf(roomId)?.publisher;
      return p?.kind === 'stream' ? p.clientId : null;
    },
    async createRoom(roomId, o = {}) {
      const room = await sys.createRoom(roomId, o.owner ?? 'owner', o);
      return room as LiveRoom & { streamKey: string };
    },
    token: (sub, grants, ttlS) => sys.token(sub, grants, ttlS === undefined ? {} : { ttlS }),
    mediaToken: (sub, roomId, action, ttlS = 600) =>
      mintMediaToken({
        secret: TEST_SECRET,
        issuer: sys.config.auth.issuer,
        audience: sys.config.auth.mediaAudience,
        sub,
        roomId,
        action,
        ttlS,
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
