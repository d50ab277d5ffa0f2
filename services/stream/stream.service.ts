/**
 * The stream service: SRS's side of the rooms. It answers SRS's http_hooks by
 * asking each room's actor (hook.answer.ts), confirms new publishers with the SRS
 * API (publish.confirm.ts), reconciles what SRS carries with what the rooms
 * recorded and kicks what no room admitted (srs.reconcile.ts), watches the rooms
 * whose stream it follows (room.watch.ts), and answers stream status requests
 * (stream.status.ts). This file only builds those parts and wires them to the bus.
 */
import type { Subscription } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import type { VerifyStream } from '#shared/auth/stream.token.js';
import { RoomClient } from '#shared/room/room.client.js';
import type { LaneLimits } from '#shared/room/room.client.lanes.js';
import type { Bus } from '#shared/runtime/bus.js';
import type { Logger } from '#shared/runtime/log.js';
import { createMetrics, type Metrics } from '#shared/runtime/metrics.js';
import { metricNames, type StreamStatusReply } from '#shared/stream/stream.protocol.js';
import { ErrorCode } from '#shared/wire/errors.js';
import { subjects } from '#shared/wire/subjects.js';
import { HookAnswerer } from './hook.answer.js';
import { HookAdmissions } from './hook.admissions.js';
import { HookStats } from './hook.stats.js';
import { PublishConfirmer } from './publish.confirm.js';
import { RoomWatch } from './room.watch.js';
import type { SrsApi, SrsLists } from './srs.api.js';
import { SrsHealth } from './srs.health.js';
import type { HookAnswer, SrsHook } from './srs.hooks.js';
import { Reconciler } from './srs.reconcile.js';
import type { StreamContext } from './stream.context.js';
import { StreamRevocations } from './stream.revocations.js';
import { streamStatus } from './stream.status.js';

export type { HookResult } from './hook.stats.js';

export interface StreamServiceOptions {
  bus: Bus;
  config: Config['stream'];
  /** Verifies publish and play tokens for one room and action (createStreamVerifier). */
  verify: VerifyStream;
  /** How long a revocation matters, in s (revocationMaxAgeS of the auth settings). */
  revocationMaxAgeS: number;
  srs: SrsApi;
  logger: Logger;
  /** The registry hook calls and SRS polls are counted in (main.ts serves it); a fresh one by default. */
  metrics?: Metrics;
  /** The clock, ms since the epoch (tests may move it). */
  now?: () => number;
  /** Room commands in flight and waiting per room (ROOM_COMMANDS_*); unbounded without. */
  roomLanes?: LaneLimits;
}

export class StreamService {
  /** The registry hook calls and polls are counted in. */
  readonly metrics: Metrics;
  private readonly svc: StreamContext;
  private readonly watch: RoomWatch;
  private readonly confirmer: PublishConfirmer;
  private readonly stats: HookStats;
  private readonly admissions: HookAdmissions;
  private readonly hooks: HookAnswerer;
  private readonly reconciler: Reconciler;
  private readonly health: SrsHealth;
  private readonly revocations: StreamRevocations;
  private timer: NodeJS.Timeout | undefined;
  private sub: Subscription | undefined;

  constructor(private readonly o: StreamServiceOptions) {
    this.metrics = o.metrics ?? createMetrics();
    this.svc = {
      cfg: o.config,
      now: o.now ?? Date.now,
      rooms: new RoomClient(o.bus, o.roomLanes),
      srs: o.srs,
      logger: o.logger,
      metrics: this.metrics,
      metric: (m) => o.bus.publish(subjects.metric('stream', metricNames[m.type]), m),
      stopped: false,
    };
    this.watch = new RoomWatch(this.svc);
    this.confirmer = new PublishConfirmer(this.svc, this.watch);
    this.stats = new HookStats(this.svc);
    this.admissions = new HookAdmissions(this.svc);
    this.revocations = new StreamRevocations(this.svc, o.bus.nc, o.revocationMaxAgeS);
    this.hooks = new HookAnswerer(
      this.svc,
      o.verify,
      this.revocations,
      this.watch,
      this.confirmer,
      this.stats,
      this.admissions,
    );
    this.health = new SrsHealth(
      this.svc,
      (since) => void this.watch.unknown(since, () => this.health.downSince() !== null),
    );
    this.reconciler = new Reconciler(
      this.svc,
      this.watch,
      this.confirmer,
      this.stats,
      this.admissions,
      this.health,
    );
  }

  /**
   * Answers stream status requests, starts the reconcile rounds and the revocation
   * watch; the promise resolves once the revocations are loaded (the watch waits for
   * the gateway to create their bucket), and never rejects.
   */
  start(): Promise<void> {
    this.sub = this.o.bus.subscribe(
      subjects.streamStatusAll,
      (msg) => {
        const roomId = subjects.roomIdOfStreamStatus(msg.subject);
        void this.status(roomId).then((reply) => this.o.bus.respond(msg, reply));
      },
      { queue: 'stream' },
    );
    this.timer = setInterval(() => void this.reconcile(), this.svc.cfg.reconcileIntervalMs);
    this.health.start();
    return this.revocations.start();
  }

  /** Stops the rounds and the confirmation loops, and waits for the round under way. */
  async stop(): Promise<void> {
    this.svc.stopped = true;
    clearInterval(this.timer);
    this.health.stop();
    this.sub?.unsubscribe();
    this.confirmer.stop();
    this.watch.stop();
    this.revocations.stop();
    await this.reconciler.settled();
    this.stats.close();
  }

  /** Room commands waiting here for a slot (the `room_commands_waiting` gauge). */
  get roomCommandsWaiting(): number {
    return this.svc.rooms.waiting;
  }

  /** The SRS process id the last complete round saw. */
  get srsServiceId(): string | null {
    return this.reconciler.srsServiceId;
  }

  /** Since when SRS counts as down (no complete poll for STREAM_SRS_DOWN_AFTER_MS), or null. */
  get srsDownSince(): number | null {
    return this.health.downSince();
  }

  /** When the last complete poll of the SRS API was asked for, or null before the first. */
  get srsLastGoodPollAt(): number | null {
    return this.health.lastGoodPollAt;
  }

  /** The last complete lists read from SRS (for status answers and tests). */
  get lastSrsLists(): SrsLists | undefined {
    return this.reconciler.lastSrsLists;
  }

  /** Counts a callback refused for its source address or secret. */
  rejected(action: string): void {
    this.stats.rejected(action);
  }

  /** Counts a callback that was answered without being decided (a body that is not a hook). */
  malformed(action: string, reason: ErrorCode = ErrorCode.BAD_FRAME): void {
    this.stats.count(action, 'error', reason);
  }

  /**
   * Answers one callback, never later than `hookDeadlineMs` after `receivedAt`.
   * on_unpublish and on_stop are always answered "allow": SRS ignores their answer.
   */
  answer(hook: SrsHook, receivedAt: number = this.svc.now()): Promise<HookAnswer> {
    return this.hooks.answer(hook, receivedAt);
  }

  /**
   * One reconcile round (see srs.reconcile.ts). Rounds never overlap: a call during
   * a round waits for it.
   */
  reconcile(): Promise<void> {
    return this.reconciler.run();
  }

  /** Answers `stream.<roomId>.status`: the room's record joined with SRS's view. */
  status(roomId: string): Promise<StreamStatusReply> {
    return streamStatus(this.svc, roomId, this.health.downSince());
  }
}
