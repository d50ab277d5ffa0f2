/**
 * Reconciliation: reads every stream and client from the SRS API, syncs each room
 * that SRS carries or that the service watches with what SRS shows, and kicks the
 * SRS clients no room admitted (or whose room ended or never was).
 *
 * What must hold: a round that cannot read SRS completely judges nothing; the first
 * complete round after an outage or an SRS restart times what SRS lost from the last
 * complete round before it (srs.health.ts), not from when it noticed.
 */
import { RoomRefusedError } from '#shared/room/room.client.js';
import type { RoomReplies, RoomStreamState } from '#shared/room/room.commands.js';
import { SpanKind, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import { ErrorCode } from '#shared/wire/errors.js';
import { isSubjectToken } from '#shared/wire/subjects.js';
import type { HookAdmissions } from './hook.admissions.js';
import type { HookStats } from './hook.stats.js';
import type { PublishConfirmer } from './publish.confirm.js';
import type { RoomWatch } from './room.watch.js';
import type { SrsHealth } from './srs.health.js';
import { SrsApiError, type SrsLists } from './srs.api.js';
import type { StreamContext } from './stream.context.js';

/** An SRS stream of one room as a reconcile round read it. */
interface Carried {
  streamId: string | null;
  publisher: string | null;
  viewers: string[];
  /** Every client of the stream: what a kick for an unknown or ended room disconnects. */
  clients: string[];
}

const nothingCarried: Carried = { streamId: null, publisher: null, viewers: [], clients: [] };

export class Reconciler {
  private srsService: string | null = null;
  private lastLists: SrsLists | undefined;
  /** How the SRS API failed in the last round; undefined while it answers. */
  private srsFailure: string | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly svc: StreamContext,
    private readonly watch: RoomWatch,
    private readonly confirmer: PublishConfirmer,
    /** Its period ends with each round. */
    private readonly stats: HookStats,
    /** Which listed players the hooks admitted: only those count as viewers. */
    private readonly admissions: HookAdmissions,
    /** Told of each complete poll; says how late this one is after the last. */
    private readonly health: SrsHealth,
  ) {}

  /** The SRS process id the last complete round saw. */
  get srsServiceId(): string | null {
    return this.srsService;
  }

  /** The last complete lists read from SRS (for status answers and tests). */
  get lastSrsLists(): SrsLists | undefined {
    return this.lastLists;
  }

  /** Waits for the round under way, if any. */
  async settled(): Promise<void> {
    await this.round;
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
  run(): Promise<void> {
    this.round ??= withSpan('srs reconcile', {}, () => this.reconcileRound()).finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async reconcileRound(): Promise<void> {
    const started = this.svc.now();
    this.stats.publish(started);
    let lists: SrsLists;
    try {
      lists = await this.svc.srs.lists();
    } catch (err) {
      const failure = err instanceof SrsApiError ? err.failure : 'network';
      this.svc.metrics.srsUp.set(0);
      this.svc.metrics.srsPollErrors.add(1);
      // Once per outage (and when its kind changes), not every round: SRS being away
      // (npm start without SRS, say) must not drown the log. Metrics count every round.
      if (this.srsFailure !== failure) {
        this.svc.logger.warn('SRS API unusable: nothing is reconciled until it answers', {
          failure,
          err,
        });
      }
      this.srsFailure = failure;
      setSpanAttributes({ 'srs.api.error': failure });
      this.svc.metric({
        type: 'srs_api',
        v: 1,
        at: this.svc.now(),
        ok: false,
        latencyMs: this.svc.now() - started,
        streams: 0,
        clients: 0,
        error: failure,
      });
      return;
    }
    const recovering = this.srsFailure !== undefined;
    if (recovering) this.svc.logger.info('SRS API answers again', { after: this.srsFailure });
    this.srsFailure = undefined;
    const previous = this.srsService;
    const restarted = previous !== null && lists.service !== previous;
    const gapMs = this.health.good(started);
    this.lastLists = lists;
    this.recordPoll(lists);
    this.svc.metric({
      type: 'srs_api',
      v: 1,
      at: this.svc.now(),
      ok: true,
      latencyMs: this.svc.now() - started,
      streams: lists.streams.length,
      clients: lists.clients.length,
    });
    if (restarted) {
      this.svc.logger.warn('SRS restarted: reconciling every room', {
        previous,
        current: lists.service,
      });
      this.svc.metric({
        type: 'srs_restarted',
        v: 1,
        at: this.svc.now(),
        previous,
        current: lists.service,
      });
    }
    this.srsService = lists.service;
    const { byRoom, foreign, handshaking } = this.group(lists, started);
    for (const id of foreign) await this.kick('(foreign app)', id, 'unknown_room');
    const listAgeMs = this.svc.now() - started + this.svc.cfg.reconcileMinAgeMs;
    // What SRS lost during an outage or in a restart was last known there at the
    // previous complete poll: its grace and end deadlines run from then, so they are
    // shortened by the time since.
    const lateMs = recovering || restarted ? gapMs : 0;
    const rooms = [...new Set([...byRoom.keys(), ...this.watch.roomIds()])];
    setSpanAttributes({
      'srs.service': lists.service,
      'srs.streams': lists.streams.length,
      'srs.clients': lists.clients.length,
      'roomcast.rooms': rooms.length,
    });
    const step = this.svc.cfg.reconcileConcurrency;
    for (let i = 0; i < rooms.length && !this.svc.stopped; i += step) {
      await Promise.all(
        rooms
          .slice(i, i + step)
          .map((roomId) =>
            this.sync(
              roomId,
              byRoom.get(roomId) ?? nothingCarried,
              this.ageFor(roomId, listAgeMs, handshaking.get(roomId)),
              lists.service,
              lateMs,
            ),
          ),
      );
    }
  }

  /**
   * How old this round's lists count as for `roomId`. A grant still in its
   * confirmation window (a WebRTC publisher before DTLS shows `publish.active:false`)
   * is made too young to judge: neither released as unconfirmed by this round, nor
   * its client kicked as not admitted once it turns active. The grant happened at
   * most one hook deadline before its confirmation began. `handshakingMs`: how long
   * SRS has listed an inactive publisher of the room (the same rule without this
   * process's memory, e.g. after a restart of the stream service).
   */
  private ageFor(roomId: string, listAgeMs: number, handshakingMs = 0): number {
    const since = this.confirmer.confirmingSince(roomId);
    const confirming = since === undefined ? 0 : this.svc.now() - since;
    const young = Math.max(confirming, handshakingMs);
    if (since === undefined && handshakingMs === 0) return listAgeMs;
    return Math.max(listAgeMs, young + this.svc.cfg.hookDeadlineMs);
  }

  /** What a complete poll read: SRS is up, and the streams with an active publisher in our app. */
  private recordPoll(lists: SrsLists): void {
    const m = this.svc.metrics;
    m.srsUp.set(1);
    // Streams that stopped since the last poll must not linger as series.
    m.streamRecvBytes.reset();
    let active = 0;
    for (const s of lists.streams) {
      if (s.app !== this.svc.cfg.app || !s.publish.active) continue;
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
    const horizon = started - this.svc.cfg.reconcileIntervalMs - 2 * this.svc.cfg.srsApiTimeoutMs;
    this.confirmer.pruneGone(horizon);
    this.admissions.prune(new Set(lists.clients.map((c) => c.id)), started);
    const byRoom = new Map<string, Carried>();
    const byStreamId = new Map<string, Carried>();
    const foreign: string[] = [];
    const foreignStreams = new Set<string>();
    /** Rooms whose SRS stream has a publisher not active yet (WebRTC before DTLS), by its age in ms. */
    const handshaking = new Map<string, number>();
    const inactive = new Map<string, string>();
    for (const s of lists.streams) {
      if (s.app !== this.svc.cfg.app) {
        foreignStreams.add(s.id);
        continue;
      }
      const cid = s.publish.active ? (s.publish.cid ?? null) : null;
      const publisher = cid !== null && this.confirmer.isRecentlyGone(cid) ? null : cid;
      const carried: Carried = {
        streamId: s.id,
        publisher,
        viewers: [],
        clients: publisher === null ? [] : [publisher],
      };
      byRoom.set(s.name, carried);
      byStreamId.set(s.id, carried);
      if (!s.publish.active) inactive.set(s.id, s.name);
    }
    for (const c of lists.clients) {
      if (foreignStreams.has(c.stream)) {
        foreign.push(c.id);
        continue;
      }
      const room = inactive.get(c.stream);
      const ageMs = (c.alive ?? Infinity) * 1000;
      const young = ageMs < this.svc.cfg.confirmTimeoutMs && !this.admissions.isRefused(c.id);
      if (c.publish && room !== undefined && young) handshaking.set(room, ageMs);
      const carried = byStreamId.get(c.stream);
      if (carried === undefined || c.publish || this.confirmer.isRecentlyGone(c.id)) continue;
      // Being decided, refused (SRS keeps refused HLS/WHIP sessions listed a while), or
      // an HLS session no on_play admitted here: neither a viewer nor kicked.
      if (!this.admissions.counts(c.id, c.type)) continue;
      carried.viewers.push(c.id);
      carried.clients.push(c.id);
    }
    return { byRoom, foreign, handshaking };
  }

  private async sync(
    roomId: string,
    carried: Carried,
    listAgeMs: number,
    serviceId: string,
    lateMs: number,
  ): Promise<void> {
    if (!isSubjectToken(roomId)) {
      for (const id of carried.clients) await this.kick(roomId, id, 'unknown_room');
      return;
    }
    let reply: RoomReplies['stream_sync'];
    try {
      reply = await this.svc.rooms.streamSync(roomId, {
        serviceId,
        streamId: carried.streamId,
        publisher: carried.publisher,
        viewers: carried.viewers,
        listAgeMs,
        graceMs: Math.max(0, this.svc.cfg.publisherGraceMs - lateMs),
        endAfterMs: Math.max(0, this.svc.cfg.endAfterMs - lateMs),
      });
    } catch (err) {
      if (err instanceof RoomRefusedError) return this.refusedSync(roomId, carried, err.body.code);
      this.svc.logger.warn('room did not answer its sync', { roomId, err });
      return;
    }
    this.watch.observe(roomId, reply.seq, reply.stream);
    for (const id of reply.kick) await this.kick(roomId, id, 'not_admitted');
    if (carried === nothingCarried && isQuiet(reply.stream)) this.watch.unwatch(roomId);
  }

  /** The room refused a sync: if it ended or never was, whatever SRS carries for it goes. */
  private async refusedSync(roomId: string, carried: Carried, code: ErrorCode): Promise<void> {
    if (code !== ErrorCode.ROOM_NOT_FOUND && code !== ErrorCode.ROOM_ENDED) return;
    this.watch.gone(roomId, code);
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
        () => this.svc.srs.kick(clientId),
        { kind: SpanKind.CLIENT },
      );
    } catch (err) {
      ok = false;
      this.svc.logger.warn('kick failed', { roomId, clientId, err });
    }
    this.svc.logger.info('kicked an SRS client', { roomId, clientId, reason });
    this.svc.metric({ type: 'srs_kick', v: 1, at: this.svc.now(), roomId, clientId, reason, ok });
  }
}

/** Nothing left to watch: no publisher, no player, no absence being timed. */
const isQuiet = (st: RoomStreamState): boolean =>
  st.publisher === null && st.streamViewers === 0 && st.endAt === null;
