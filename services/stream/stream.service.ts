/**
 * The stream service: SRS's side of the rooms. It answers SRS's http_hooks by
 * asking each room's actor, confirms new publishers with the SRS API, reconciles
 * what SRS carries with what the rooms recorded, kicks what no room admitted, and
 * answers stream status requests.
 *
 * What must hold:
 * - Every hook is answered within `hookDeadlineMs`, whatever NATS or the room
 *   service do. A publish or play that could not be decided in time is denied, and
 *   what the room may still grant afterwards is taken back (the room's mailbox runs
 *   commands in order, so the take-back lands after the late grant).
 * - An accepted on_publish is not proof of a live stream (SRS asks the hook before
 *   it checks whether the stream is busy): the room goes live only when the SRS API
 *   shows this very client publishing.
 * - A reconcile round that cannot read SRS completely judges nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Subscription } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import { toAuthError, type Identity, type Verify } from '#shared/auth/auth.js';
import type { Bus } from '#shared/runtime/bus.js';
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import { permsFor, type RoomPerms } from '#shared/auth/grants.js';
import type { Logger } from '#shared/runtime/log.js';
import { createMetrics, type Metrics } from '#shared/runtime/metrics.js';
import type { RoomReplies, RoomStreamState } from '#shared/room/room.commands.js';
import {
  RoomClient,
  RoomRefusedError,
  type CallOptions,
  type CommandArgs,
} from '#shared/room/room.client.js';
import type { StreamStopReason } from '#shared/room/room.events.js';
import {
  metricNames,
  type StreamMetric,
  type StreamStatus,
  type StreamStatusReply,
} from '#shared/stream/stream.protocol.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import { SpanKind, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import { SrsApiError, type SrsApi, type SrsLists, type SrsStream } from './srs.api.js';
import { HookAction, allow, deny, readParam, type HookAnswer, type SrsHook } from './srs.hooks.js';

export interface StreamServiceOptions {
  bus: Bus;
  config: Config['stream'];
  /** Verifies publish and play tokens (signed like client tokens). */
  verify: Verify;
  srs: SrsApi;
  logger: Logger;
  /** The registry hook calls and SRS polls are counted in (main.ts serves it); a fresh one by default. */
  metrics?: Metrics;
  /** The clock, ms since the epoch (tests may move it). */
  now?: () => number;
}

/** How a hook call went, for `srs_hook_calls`: `error` when it could not be decided. */
export type HookResult = 'allowed' | 'denied' | 'error';

const noPerms: RoomPerms = { publish: false, view: false, admin: false };

/** One hook being decided: its deadline, and whether the answer already went out. */
interface Deciding {
  deadlineAt: number;
  late: boolean;
}

/** A room whose stream the service watches, and what it last learnt of it. */
interface Watched {
  last: RoomStreamState | null;
  seq: number;
  /** Looks at the room again when its absence deadline (gone, end) has passed. */
  timer?: NodeJS.Timeout;
}

/** An SRS stream of one room as a reconcile round read it. */
interface Carried {
  streamId: string | null;
  publisher: string | null;
  viewers: string[];
  /** Every client of the stream: what a kick for an unknown or ended room disconnects. */
  clients: string[];
}

const nothingCarried: Carried = { streamId: null, publisher: null, viewers: [], clients: [] };

export class StreamService {
  private readonly cfg: Config['stream'];
  private readonly now: () => number;
  /** The registry hook calls and polls are counted in. */
  readonly metrics: Metrics;
  private readonly rooms: RoomClient;
  private readonly watched = new Map<string, Watched>();
  /** Confirmation loops of granted publishers, by SRS client id. */
  private readonly confirming = new Map<string, AbortController>();
  /**
   * SRS clients whose on_unpublish/on_stop (or denial) this service handled lately,
   * with when: a list read before that must not bring them back.
   */
  private readonly recentlyGone = new Map<string, number>();
  private srsService: string | null = null;
  private lastLists: SrsLists | undefined;
  /** How the SRS API failed in the last round; undefined while it answers. */
  private srsFailure: string | undefined;
  private round: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sub: Subscription | undefined;
  private stopped = false;
  private stats = { allowed: 0, denied: 0, timedOut: 0, rejected: 0, maxLatencyMs: 0, since: 0 };

  constructor(private readonly o: StreamServiceOptions) {
    this.cfg = o.config;
    this.now = o.now ?? Date.now;
    this.metrics = o.metrics ?? createMetrics();
    this.rooms = new RoomClient(o.bus);
    this.stats.since = this.now();
  }

  /** Answers stream status requests and starts the reconcile rounds. */
  start(): void {
    this.sub = this.o.bus.subscribe(
      subjects.streamStatusAll,
      (msg) => {
        const roomId = subjects.roomIdOfStreamStatus(msg.subject);
        void this.status(roomId).then((reply) => this.o.bus.respond(msg, reply));
      },
      { queue: 'stream' },
    );
    this.timer = setInterval(() => void this.reconcile(), this.cfg.reconcileIntervalMs);
  }

  /** Stops the rounds and the confirmation loops, and waits for the round under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.sub?.unsubscribe();
    for (const c of this.confirming.values()) c.abort();
    for (const w of this.watched.values()) clearTimeout(w.timer);
    await this.round;
  }

  /** The SRS process id the last complete round saw. */
  get srsServiceId(): string | null {
    return this.srsService;
  }

  /** Counts a callback refused for its source address or secret. */
  rejected(action: string): void {
    this.stats.rejected++;
    this.countHook(action, 'denied');
  }

  /** Counts a callback that was answered without being decided (a body that is not a hook). */
  malformed(action: string): void {
    this.countHook(action, 'error');
  }

  private countHook(action: string, result: HookResult): void {
    this.metrics.hookCalls.add(1, { action, result });
  }

  /**
   * Answers one callback, never later than `hookDeadlineMs` after `receivedAt`.
   * on_unpublish and on_stop are always answered "allow": SRS ignores their answer.
   */
  async answer(hook: SrsHook, receivedAt: number = this.now()): Promise<HookAnswer> {
    const ctx: Deciding = { deadlineAt: receivedAt + this.cfg.hookDeadlineMs, late: false };
    const work = this.decide(hook, ctx).catch((err: unknown) => {
      if (err instanceof RoomRefusedError) return refused(err);
      if (err instanceof RoomcastError) return deny(err.code, err.message);
      this.o.logger.error('hook failed', { action: hook.action, err });
      return deny(ErrorCode.INTERNAL);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, ctx.deadlineAt - this.now()));
    });
    const first = await Promise.race([work, late]);
    clearTimeout(timer);
    let answer: HookAnswer;
    if (first === 'late') {
      ctx.late = true;
      this.stats.timedOut++;
      answer = deny(ErrorCode.UNAVAILABLE, 'the room service did not answer in time');
    } else {
      answer = first;
    }
    // Unavailable means "unknown": the room may still grant what SRS was told is denied.
    if (answer.code === ErrorCode.UNAVAILABLE) this.takeBack(hook);
    // Undecided (room service too slow, or a bug) is an error even where SRS is told "allow".
    const result: HookResult =
      answer.code === ErrorCode.UNAVAILABLE || answer.code === ErrorCode.INTERNAL
        ? 'error'
        : answer.allow
          ? 'allowed'
          : 'denied';
    if (hook.action === HookAction.onUnpublish || hook.action === HookAction.onStop) answer = allow;
    if (answer.allow) this.stats.allowed++;
    else this.stats.denied++;
    this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, this.now() - receivedAt);
    this.countHook(hook.action, result);
    setSpanAttributes({
      'srs.hook.result': result,
      'srs.hook.allow': answer.allow,
      ...(answer.code === undefined ? {} : { 'roomcast.error.code': answer.code }),
    });
    return answer;
  }

  private async decide(hook: SrsHook, ctx: Deciding): Promise<HookAnswer> {
    const roomId = hook.stream;
    if (hook.app !== this.cfg.app || !isSubjectToken(roomId)) {
      return deny(ErrorCode.ROOM_NOT_FOUND, `no room streams at ${hook.app}/${roomId}`);
    }
    switch (hook.action) {
      case HookAction.onPublish:
        return this.onPublish(roomId, hook, ctx);
      case HookAction.onPlay:
        return this.onPlay(roomId, hook, ctx);
      case HookAction.onUnpublish: {
        this.forget(hook.clientId);
        await this.release(roomId, hook.clientId, 'unpublished', ctx);
        return allow;
      }
      case HookAction.onStop:
        this.forget(hook.clientId);
        // A refusal (no such room, no such viewer) leaves nothing to stop.
        await ignoreRefusal(
          this.rooms.streamStop(roomId, stopArgs(hook.clientId, 'stopped'), this.within(ctx)),
        );
        return allow;
    }
  }

  private async onPublish(roomId: string, hook: SrsHook, ctx: Deciding): Promise<HookAnswer> {
    const { key, token } = readParam(hook.param);
    let identity: Identity | undefined;
    if (key === null && token !== null) {
      const verified = await this.verifyToken(token);
      if ('allow' in verified) return verified;
      identity = verified;
    } else if (key === null) {
      return deny(
        ErrorCode.NOT_ALLOWED,
        'publish with ?key=<stream key> or ?token=<publish token>',
      );
    }
    const args: CommandArgs<'stream_publish'> = {
      clientId: hook.clientId,
      serviceId: hook.serviceId,
      key,
      userId: identity?.userId ?? null,
      perms: identity === undefined ? noPerms : permsFor(identity.grants, roomId),
    };
    let reply: RoomReplies['stream_publish'];
    try {
      reply = await this.rooms.streamPublish(roomId, args, this.within(ctx));
    } catch (err) {
      if (!(err instanceof RoomRefusedError) || err.code !== ErrorCode.PUBLISHER_TAKEN) throw err;
      if (!(await this.freeStaleSlot(roomId, hook, ctx))) return refused(err);
      reply = await this.rooms.streamPublish(roomId, args, this.within(ctx));
    }
    if (ctx.late) return allow;
    this.observe(roomId, reply.seq, reply.stream);
    this.confirm(roomId, hook);
    return allow;
  }

  /**
   * The slot is taken: by an encoder SRS still carries (the busy-stream case, or two
   * racing), or by one whose on_unpublish was lost. Only the second is freed, at once,
   * so that a reconnecting encoder need not wait for the next reconcile round.
   */
  private async freeStaleSlot(roomId: string, hook: SrsHook, ctx: Deciding): Promise<boolean> {
    const st = await ignoreRefusal(this.rooms.streamStatus(roomId, this.within(ctx)));
    const holder = st?.stream.publisher ?? null;
    if (holder === null) return false;
    let reason: StreamStopReason;
    if (
      holder.serviceId !== null &&
      hook.serviceId !== null &&
      holder.serviceId !== hook.serviceId
    ) {
      reason = 'srs_restarted';
    } else {
      try {
        const present = await this.o.srs.hasClient(
          holder.clientId,
          Math.min(this.cfg.srsApiTimeoutMs, ctx.deadlineAt - this.now()),
        );
        if (present) return false;
      } catch {
        return false;
      }
      reason = 'vanished';
    }
    this.forget(holder.clientId);
    await this.release(roomId, holder.clientId, reason, ctx);
    return true;
  }

  private async onPlay(roomId: string, hook: SrsHook, ctx: Deciding): Promise<HookAnswer> {
    const { token } = readParam(hook.param);
    let identity: Identity | undefined;
    if (token !== null) {
      const verified = await this.verifyToken(token);
      if ('allow' in verified) return verified;
      identity = verified;
    }
    await this.rooms.streamPlay(
      roomId,
      {
        clientId: hook.clientId,
        serviceId: hook.serviceId,
        userId: identity?.userId ?? null,
        perms: identity === undefined ? noPerms : permsFor(identity.grants, roomId),
      },
      this.within(ctx),
    );
    this.watch(roomId);
    return allow;
  }

  /** A publish or play token: a valid token of ours, and a short-lived one. */
  private async verifyToken(token: string): Promise<Identity | HookAnswer> {
    let identity: Identity;
    try {
      identity = await this.o.verify(token);
    } catch (err) {
      const e = toAuthError(err);
      return deny(e.code, e.message);
    }
    const maxMs = this.cfg.tokenMaxTtlS * 1000;
    if (identity.issuedAt === undefined || identity.expiresAt - identity.issuedAt > maxMs) {
      return deny(
        ErrorCode.TOKEN_INVALID,
        `a stream token needs iat and lives at most ${this.cfg.tokenMaxTtlS} s`,
      );
    }
    return identity;
  }

  /** After a deadline passed: whatever the room may still grant is given back. */
  private takeBack(hook: SrsHook): void {
    const roomId = hook.stream;
    if (hook.app !== this.cfg.app || !isSubjectToken(roomId)) return;
    this.forget(hook.clientId);
    let sent: Promise<unknown>;
    if (hook.action === HookAction.onPublish) {
      sent = this.rooms.streamUnpublish(roomId, this.unpublishArgs(hook.clientId, 'hook_timeout'));
    } else if (hook.action === HookAction.onPlay) {
      sent = this.rooms.streamStop(roomId, stopArgs(hook.clientId, 'hook_timeout'));
    } else {
      return;
    }
    // A refusal means there was nothing to take back; only a lost command is worth a warning.
    ignoreRefusal(sent).catch((err: unknown) => {
      this.o.logger.warn('take-back not acknowledged', { roomId, clientId: hook.clientId, err });
    });
  }

  private async release(
    roomId: string,
    clientId: string,
    reason: StreamStopReason,
    ctx?: Deciding,
  ): Promise<void> {
    const reply = await ignoreRefusal(
      this.rooms.streamUnpublish(roomId, this.unpublishArgs(clientId, reason), this.within(ctx)),
    );
    if (reply !== undefined) this.observe(roomId, reply.seq, reply.stream);
  }

  private unpublishArgs(
    clientId: string,
    reason: StreamStopReason,
  ): CommandArgs<'stream_unpublish'> {
    return {
      clientId,
      reason,
      graceMs: this.cfg.publisherGraceMs,
      endAfterMs: this.cfg.endAfterMs,
    };
  }

  /** A room command's options: within what is left of the hook's deadline (if any). */
  private within(ctx?: Deciding): CallOptions {
    return ctx === undefined ? {} : { timeoutMs: Math.max(1, ctx.deadlineAt - this.now()) };
  }

  private forget(clientId: string): void {
    this.confirming.get(clientId)?.abort();
    this.confirming.delete(clientId);
    this.recentlyGone.set(clientId, this.now());
  }

  /**
   * Asks the SRS API, every `confirmIntervalMs`, whether the granted client publishes;
   * confirms it to the room when it does, releases it after `confirmTimeoutMs` when not.
   */
  private confirm(roomId: string, hook: SrsHook): void {
    if (this.confirming.has(hook.clientId) || this.stopped) return;
    const ac = new AbortController();
    this.confirming.set(hook.clientId, ac);
    void this.confirmLoop(roomId, hook, ac.signal)
      .catch((err: unknown) => {
        if (!ac.signal.aborted) this.o.logger.warn('confirmation failed', { roomId, err });
      })
      .finally(() => {
        if (this.confirming.get(hook.clientId) === ac) this.confirming.delete(hook.clientId);
      });
  }

  private async confirmLoop(roomId: string, hook: SrsHook, signal: AbortSignal): Promise<void> {
    const until = this.now() + this.cfg.confirmTimeoutMs;
    let answered = false;
    while (this.now() < until) {
      await sleep(this.cfg.confirmIntervalMs, undefined, { signal });
      let stream: SrsStream | undefined;
      try {
        stream = await this.carrying(roomId, hook);
        answered = true;
      } catch {
        continue;
      }
      if (signal.aborted) return;
      if (stream !== undefined) {
        const reply = await ignoreRefusal(
          this.rooms.streamConfirm(roomId, { clientId: hook.clientId, streamId: stream.id }),
        );
        if (reply !== undefined) this.observe(roomId, reply.seq, reply.stream);
        return;
      }
    }
    if (signal.aborted) return;
    // Released only when SRS said "not this one"; if its API never answered, the
    // reconcile rounds confirm or release the grant once it is back.
    if (answered) await this.release(roomId, hook.clientId, 'unconfirmed');
    else this.watch(roomId);
  }

  /** The SRS stream when it shows `hook`'s client as its active publisher. */
  private async carrying(roomId: string, hook: SrsHook): Promise<SrsStream | undefined> {
    let stream: SrsStream | null | undefined;
    if (hook.streamId !== null) {
      stream = (await this.o.srs.stream(hook.streamId)).stream;
    } else {
      const lists = await this.o.srs.lists();
      stream = lists.streams.find((s) => s.app === this.cfg.app && s.name === roomId);
    }
    return stream?.publish.active === true && stream.publish.cid === hook.clientId
      ? stream
      : undefined;
  }

  /**
   * One reconcile round: reads every stream and client from SRS and syncs each room
   * that SRS carries or that this service watches. Rounds never overlap: a call
   * during a round waits for it.
   *
   * Each round is one trace: the room syncs it asks for and the kicks it decides are
   * its children, so an operator finds why a stream was kicked or a room unpublished
   * under the round that did it (not as a scatter of parentless room spans).
   */
  reconcile(): Promise<void> {
    this.round ??= withSpan('srs reconcile', {}, () => this.reconcileRound()).finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async reconcileRound(): Promise<void> {
    const started = this.now();
    this.publishHookStats(started);
    let lists: SrsLists;
    try {
      lists = await this.o.srs.lists();
    } catch (err) {
      const failure = err instanceof SrsApiError ? err.failure : 'network';
      this.metrics.srsUp.set(0);
      this.metrics.srsPollErrors.add(1);
      // Once per outage (and when its kind changes), not every round: SRS being away
      // (npm start without SRS, say) must not drown the log. Metrics count every round.
      if (this.srsFailure !== failure) {
        this.o.logger.warn('SRS API unusable: nothing is reconciled until it answers', {
          failure,
          err,
        });
      }
      this.srsFailure = failure;
      setSpanAttributes({ 'srs.api.error': failure });
      this.metric({
        type: 'srs_api',
        v: 1,
        at: this.now(),
        ok: false,
        latencyMs: this.now() - started,
        streams: 0,
        clients: 0,
        error: failure,
      });
      return;
    }
    if (this.srsFailure !== undefined)
      this.o.logger.info('SRS API answers again', { after: this.srsFailure });
    this.srsFailure = undefined;
    this.lastLists = lists;
    this.recordPoll(lists);
    this.metric({
      type: 'srs_api',
      v: 1,
      at: this.now(),
      ok: true,
      latencyMs: this.now() - started,
      streams: lists.streams.length,
      clients: lists.clients.length,
    });
    if (this.srsService !== null && lists.service !== this.srsService) {
      this.o.logger.warn('SRS restarted: reconciling every room', {
        previous: this.srsService,
        current: lists.service,
      });
      this.metric({
        type: 'srs_restarted',
        v: 1,
        at: this.now(),
        previous: this.srsService,
        current: lists.service,
      });
    }
    this.srsService = lists.service;
    const { byRoom, foreign } = this.group(lists, started);
    for (const id of foreign) await this.kick('(foreign app)', id, 'unknown_room');
    const listAgeMs = this.now() - started + this.cfg.reconcileMinAgeMs;
    const rooms = [...new Set([...byRoom.keys(), ...this.watched.keys()])];
    setSpanAttributes({
      'srs.service': lists.service,
      'srs.streams': lists.streams.length,
      'srs.clients': lists.clients.length,
      'roomcast.rooms': rooms.length,
    });
    const step = this.cfg.reconcileConcurrency;
    for (let i = 0; i < rooms.length && !this.stopped; i += step) {
      await Promise.all(
        rooms
          .slice(i, i + step)
          .map((roomId) =>
            this.sync(roomId, byRoom.get(roomId) ?? nothingCarried, listAgeMs, lists.service),
          ),
      );
    }
  }

  /** What a complete poll read: SRS is up, and the streams with an active publisher in our app. */
  private recordPoll(lists: SrsLists): void {
    const m = this.metrics;
    m.srsUp.set(1);
    // Streams that stopped since the last poll must not linger as series.
    m.streamRecvBytes.reset();
    let active = 0;
    for (const s of lists.streams) {
      if (s.app !== this.cfg.app || !s.publish.active) continue;
      active++;
      // Bytes, not SRS's `frames`: the recorded SRS 6 reports `frames: 0` on a stream
      // that is plainly publishing, while its received bytes grow.
      m.streamRecvBytes.set(s.recv_bytes ?? 0, { room: s.name });
    }
    m.streamsActive.set(active);
  }

  /** SRS's streams and clients by room; clients of streams in another app are foreign. */
  private group(lists: SrsLists, started: number) {
    // Clients gone since well before this round cannot be in its lists any more.
    const horizon = started - this.cfg.reconcileIntervalMs - 2 * this.cfg.srsApiTimeoutMs;
    for (const [id, at] of this.recentlyGone) if (at < horizon) this.recentlyGone.delete(id);
    const byRoom = new Map<string, Carried>();
    const byStreamId = new Map<string, Carried>();
    const foreign: string[] = [];
    const foreignStreams = new Set<string>();
    for (const s of lists.streams) {
      if (s.app !== this.cfg.app) {
        foreignStreams.add(s.id);
        continue;
      }
      const cid = s.publish.active ? (s.publish.cid ?? null) : null;
      const publisher = cid !== null && this.recentlyGone.has(cid) ? null : cid;
      const carried: Carried = {
        streamId: s.id,
        publisher,
        viewers: [],
        clients: publisher === null ? [] : [publisher],
      };
      byRoom.set(s.name, carried);
      byStreamId.set(s.id, carried);
    }
    for (const c of lists.clients) {
      if (foreignStreams.has(c.stream)) {
        foreign.push(c.id);
        continue;
      }
      const carried = byStreamId.get(c.stream);
      if (carried === undefined || c.publish || this.recentlyGone.has(c.id)) continue;
      carried.viewers.push(c.id);
      carried.clients.push(c.id);
    }
    return { byRoom, foreign };
  }

  private async sync(
    roomId: string,
    carried: Carried,
    listAgeMs: number,
    serviceId: string,
  ): Promise<void> {
    if (!isSubjectToken(roomId)) {
      for (const id of carried.clients) await this.kick(roomId, id, 'unknown_room');
      return;
    }
    let reply: RoomReplies['stream_sync'];
    try {
      reply = await this.rooms.streamSync(roomId, {
        serviceId,
        streamId: carried.streamId,
        publisher: carried.publisher,
        viewers: carried.viewers,
        listAgeMs,
        graceMs: this.cfg.publisherGraceMs,
        endAfterMs: this.cfg.endAfterMs,
      });
    } catch (err) {
      if (err instanceof RoomRefusedError) return this.refusedSync(roomId, carried, err.body.code);
      this.o.logger.warn('room did not answer its sync', { roomId, err });
      return;
    }
    this.observe(roomId, reply.seq, reply.stream);
    for (const id of reply.kick) await this.kick(roomId, id, 'not_admitted');
    if (carried === nothingCarried && isQuiet(reply.stream)) this.unwatch(roomId);
  }

  /** The room refused a sync: if it ended or never was, whatever SRS carries for it goes. */
  private async refusedSync(roomId: string, carried: Carried, code: ErrorCode): Promise<void> {
    if (code !== ErrorCode.ROOM_NOT_FOUND && code !== ErrorCode.ROOM_ENDED) return;
    this.gone(roomId, code);
    const reason = code === ErrorCode.ROOM_ENDED ? 'room_ended' : 'unknown_room';
    for (const id of carried.clients) await this.kick(roomId, id, reason);
  }

  private async kick(
    roomId: string,
    clientId: string,
    reason: 'unknown_room' | 'room_ended' | 'not_admitted',
  ): Promise<void> {
    let ok = true;
    try {
      // A span of its own (a failed kick marks it failed), under the round or hook that decided it.
      await withSpan(
        'srs kick',
        { 'roomcast.room': roomId, 'srs.client': clientId, 'srs.kick.reason': reason },
        () => this.o.srs.kick(clientId),
        { kind: SpanKind.CLIENT },
      );
    } catch (err) {
      ok = false;
      this.o.logger.warn('kick failed', { roomId, clientId, err });
    }
    this.o.logger.info('kicked an SRS client', { roomId, clientId, reason });
    this.metric({ type: 'srs_kick', v: 1, at: this.now(), roomId, clientId, reason, ok });
  }

  /** Answers `stream.<roomId>.status`: the room's record joined with SRS's view. */
  async status(roomId: string): Promise<StreamStatusReply> {
    if (!isSubjectToken(roomId)) return { ok: false, error: errorBody(ErrorCode.ROOM_NOT_FOUND) };
    let reply: RoomReplies['stream_status'];
    try {
      reply = await this.rooms.streamStatus(roomId);
    } catch (err) {
      if (!(err instanceof RoomRefusedError)) {
        return { ok: false, error: errorBody(ErrorCode.UNAVAILABLE, (err as Error).message) };
      }
      return err.body.code === ErrorCode.ROOM_ENDED
        ? { ok: true, stream: endedStatus(roomId) }
        : { ok: false, error: err.body };
    }
    const st = reply.stream;
    let srs: SrsStream | null = null;
    let reachable = true;
    if (st.streamId !== null) {
      try {
        srs = (await this.o.srs.stream(st.streamId)).stream;
      } catch {
        reachable = false;
      }
    }
    const active = srs !== null && srs.publish.active && srs.publish.cid === st.publisher?.clientId;
    return {
      ok: true,
      stream: {
        roomId,
        status: st.status,
        active,
        since: active ? st.confirmedAt : null,
        publisher:
          st.publisher === null
            ? null
            : { clientId: st.publisher.clientId, userId: st.publisher.userId },
        video:
          srs?.video == null
            ? null
            : {
                codec: srs.video.codec,
                profile: srs.video.profile ?? '',
                level: srs.video.level ?? '',
                width: srs.video.width ?? 0,
                height: srs.video.height ?? 0,
              },
        audio:
          srs?.audio == null
            ? null
            : {
                codec: srs.audio.codec,
                sampleRate: srs.audio.sample_rate ?? 0,
                channels: srs.audio.channel ?? 0,
                profile: srs.audio.profile ?? '',
              },
        kbps: srs?.kbps === undefined ? null : { recv: srs.kbps.recv_30s, send: srs.kbps.send_30s },
        srsClients: srs?.clients ?? null,
        gone: st.gone,
        viewers: st.viewers,
        streamViewers: st.streamViewers,
        maxViewers: st.maxViewers,
        srs: reachable ? 'ok' : 'unreachable',
      },
    };
  }

  /** The last complete lists read from SRS (for status answers and tests). */
  get lastSrsLists(): SrsLists | undefined {
    return this.lastLists;
  }

  /** The room ended or does not exist: says so once (if it was watched) and stops watching. */
  private gone(roomId: string, code: ErrorCode): void {
    const w = this.watched.get(roomId);
    if (code === ErrorCode.ROOM_ENDED && w !== undefined && w.last?.status !== 'ended') {
      this.stateMetric(roomId, 'ended', null);
    }
    this.unwatch(roomId);
  }

  private unwatch(roomId: string): void {
    clearTimeout(this.watched.get(roomId)?.timer);
    this.watched.delete(roomId);
  }

  /**
   * The room service times a stopped stream's absence itself; this looks again once
   * a deadline has passed, applying what is due (a backstop for a room service whose
   * timer did not fire, e.g. after a restart), so that "gone" and "ended" also reach
   * the metrics promptly.
   */
  private lookAgain(roomId: string, w: Watched): void {
    const st = w.last;
    // One look at a time; with the slot held nothing is due.
    if (w.timer !== undefined || st === null || this.stopped) return;
    if (st.publisher !== null || st.peerPublishing) return;
    const due = st.goneAt !== null && !st.gone ? st.goneAt : st.endAt;
    if (due === null) return;
    const delay = Math.max(0, due - this.now()) + this.cfg.confirmIntervalMs;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      this.rooms.streamExpire(roomId).then(
        (reply) => this.observe(roomId, reply.seq, reply.stream),
        (err: unknown) => {
          if (err instanceof RoomRefusedError) this.gone(roomId, err.body.code);
          else this.o.logger.warn('room did not answer', { roomId, err });
        },
      );
    }, delay);
    w.timer.unref();
  }

  private watch(roomId: string): Watched {
    let w = this.watched.get(roomId);
    if (w === undefined) {
      w = { last: null, seq: 0 };
      this.watched.set(roomId, w);
    }
    return w;
  }

  /** Learns a room's stream side; what changed since the last reply becomes metric events. */
  private observe(roomId: string, seq: number, st: RoomStreamState): void {
    const w = this.watch(roomId);
    // Replies may overtake each other: only a newer state is news.
    if (seq < w.seq) return;
    const prev = w.last;
    w.last = st;
    w.seq = seq;
    const was = prev?.publisher?.clientId ?? null;
    const is = st.publisher?.clientId ?? null;
    if (was !== null && was !== is) {
      const stop = st.lastStop?.clientId === was ? st.lastStop.reason : undefined;
      this.stateMetric(roomId, 'stopped', was, stop);
    }
    if (is !== null && is !== was) this.stateMetric(roomId, 'granted', is);
    if (st.confirmedAt !== null && (is !== was || prev?.confirmedAt == null))
      this.stateMetric(roomId, 'live', is);
    if (st.gone && prev?.gone !== true) this.stateMetric(roomId, 'gone', null);
    if (st.status === 'ended') {
      if (prev?.status !== 'ended') this.stateMetric(roomId, 'ended', null);
      this.unwatch(roomId);
      return;
    }
    this.lookAgain(roomId, w);
  }

  private stateMetric(
    roomId: string,
    state: 'granted' | 'live' | 'stopped' | 'gone' | 'ended',
    clientId: string | null,
    reason?: string,
  ): void {
    this.metric({
      type: 'stream_state',
      v: 1,
      at: this.now(),
      roomId,
      state,
      clientId,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  private publishHookStats(at: number): void {
    const s = this.stats;
    if (s.allowed + s.denied + s.rejected > 0) {
      this.metric({
        type: 'hooks',
        v: 1,
        at,
        periodMs: at - s.since,
        allowed: s.allowed,
        denied: s.denied,
        timedOut: s.timedOut,
        rejected: s.rejected,
        maxLatencyMs: s.maxLatencyMs,
      });
    }
    this.stats = { allowed: 0, denied: 0, timedOut: 0, rejected: 0, maxLatencyMs: 0, since: at };
  }

  private metric(m: StreamMetric): void {
    this.o.bus.publish(subjects.metric('stream', metricNames[m.type]), m);
  }
}

const stopArgs = (
  clientId: string,
  reason: CommandArgs<'stream_stop'>['reason'],
): CommandArgs<'stream_stop'> => ({ clientId, reason });

/** SRS is told the room's own refusal, code and message as the room gave them. */
const refused = (err: RoomRefusedError): HookAnswer => deny(err.body.code, err.body.message);

/**
 * The reply, or undefined when the room refused the command: for the commands whose
 * refusal leaves nothing to do. Transport failures (UNAVAILABLE) still reject.
 */
async function ignoreRefusal<T>(sent: Promise<T>): Promise<T | undefined> {
  try {
    return await sent;
  } catch (err) {
    if (err instanceof RoomRefusedError) return undefined;
    throw err;
  }
}

/** Nothing left to watch: no publisher, no player, no absence being timed. */
const isQuiet = (st: RoomStreamState): boolean =>
  st.publisher === null && st.streamViewers === 0 && st.endAt === null;

function endedStatus(roomId: string): StreamStatus {
  return {
    roomId,
    status: 'ended',
    active: false,
    since: null,
    publisher: null,
    video: null,
    audio: null,
    kbps: null,
    srsClients: null,
    gone: false,
    viewers: 0,
    streamViewers: 0,
    maxViewers: 0,
    srs: 'ok',
  };
}
