/**
 * The host loop of the rooms this replica holds: decide → append → broadcast →
 * snapshot. Commands arrive here one at a time per room (the mailbox serializes
 * them) and already checked against their schemas (room.nats.ts).
 *
 * What must hold:
 * - A command is answered only after its recorded events are in the room log.
 * - Everything nondeterministic (time, ids, secrets) is made here and passed into
 *   the machine inside the command.
 */
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import {
  formatResumeToken,
  parseResumeToken,
  resumeSecretHash,
} from '#shared/room/resume.token.js';
import { maySeeRoom, privacyOf } from '#shared/room/room.access.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import { setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import { peersOf, toLiveRoom } from '#shared/room/room.state.js';
import { RoomActor, stateHash, type Decision } from './room.actor.js';
import { LogConflictError, type LogPosition, type RoomLog } from './room.log.js';
import { rebuildRoom, type RoomEntry } from './room.recovery.js';
import type { SnapshotRecord, SnapshotStore } from './room.snapshots.js';
import { roomCreated } from './room.create.js';
import { fail, membershipOf, refusal } from './room.replies.js';
import { streamDeadlines } from './room.stream.js';
import { streamCommand, streamReply } from './room.stream.reply.js';
import type { RoomEnvironment } from './room.environment.js';

export interface RoomHostOptions {
  bus: Bus;
  config: Config['room'];
  log: RoomLog;
  snapshots: SnapshotStore;
  logger: Logger;
  env: RoomEnvironment;
  /** The replica answering (`state` tells it). */
  replicaId: () => string;
  /** Arms a timer that expires the room's due members and stream deadlines at `at`. */
  scheduleExpiry: (roomId: string, at: number) => void;
}

export class RoomHost {
  /** The rooms this replica holds. */
  readonly rooms = new Map<string, RoomEntry>();
  /** Rooms dropped because their log could not be read: reloaded on their next command. */
  private readonly failedRooms = new Set<string>();
  /** Rooms with a snapshot write under way (one at a time per room). */
  private readonly snapshotting = new Set<string>();
  /**
   * Rooms whose actor has decided a command the log has not confirmed yet. Their
   * state is ahead of the log until the append returns: no snapshot of it then,
   * or a crash (or a failed append) would restore a transition the log never held.
   */
  private readonly appending = new Set<string>();

  constructor(private readonly o: RoomHostOptions) {}

  /** Handles one command; the caller has serialized it with the room's others. */
  async handle(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply> {
    if (!isSubjectToken(roomId)) return fail(ErrorCode.BAD_FRAME, 'invalid room id');
    if (this.failedRooms.has(roomId)) {
      this.failedRooms.delete(roomId);
      await this.reload(roomId);
      if (this.failedRooms.has(roomId))
        return fail(ErrorCode.UNAVAILABLE, 'the room log cannot be read; try again');
    }
    if (cmd.type === 'create') return this.create(roomId, cmd);
    const entry = this.rooms.get(roomId);
    if (entry === undefined) return fail(ErrorCode.ROOM_NOT_FOUND);
    const room = entry.actor;
    if (cmd.type === 'state') {
      return {
        ok: true,
        seq: room.state.seq,
        status: room.status,
        hash: stateHash(room),
        state: room.state,
        owner: this.o.replicaId(),
      };
    }
    if (cmd.type === 'get') {
      const withKey = cmd.userId === undefined || cmd.userId === room.state.ownerId;
      const s = room.state;
      // Services ask without a user: they see every room.
      if (cmd.userId !== undefined && !maySeeRoom(privacyOf(s), cmd.userId, cmd.perms))
        return fail(ErrorCode.ROOM_NOT_FOUND);
      return { ok: true, room: toLiveRoom(s, withKey), peers: peersOf(s) };
    }
    if (room.ended) return fail(ErrorCode.ROOM_ENDED);
    const at = this.o.env.now();

    switch (cmd.type) {
      case 'join': {
        const peerId = cmd.peerId;
        const secret = this.o.env.id(24);
        const d = await this.commit(roomId, entry, {
          ...cmd,
          resumeHash: resumeSecretHash(secret),
          at,
        });
        return d.refused
          ? refusal(d)
          : { ok: true, ...membershipOf(room.state, peerId, formatResumeToken(peerId, secret)) };
      }
      case 'resume': {
        const token = parseResumeToken(cmd.token);
        if (token === null) return fail(ErrorCode.RESUME_FAILED);
        const { peerId } = token;
        const d = await this.commit(roomId, entry, {
          type: 'resume',
          peerId,
          resumeHash: resumeSecretHash(token.secret),
          userId: cmd.userId,
          gateway: cmd.gateway,
          conn: cmd.conn,
          at,
        });
        return d.refused
          ? refusal(d)
          : { ok: true, ...membershipOf(room.state, peerId, cmd.token) };
      }
      case 'leave': {
        const d = await this.commit(roomId, entry, {
          type: 'leave',
          peerId: cmd.peerId,
          userId: cmd.userId,
          at,
        });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      case 'disconnect': {
        const awayUntil = at + this.o.config.resumeGraceMs;
        await this.commit(roomId, entry, {
          type: 'disconnect',
          peerId: cmd.peerId,
          conn: cmd.conn,
          awayUntil,
          at,
        });
        return { ok: true, seq: room.state.seq };
      }
      case 'set_status': {
        const d = await this.commit(roomId, entry, {
          type: 'set_status',
          status: cmd.status,
          userId: cmd.userId,
          perms: cmd.perms,
          at,
        });
        if (d.refused) {
          const current = room.state.status;
          return {
            ok: false,
            error: errorBody(
              d.refused.code,
              `${d.refused.message ?? d.refused.code} (status is ${current})`,
            ),
          };
        }
        return { ok: true, room: toLiveRoom(room.state, cmd.userId === room.state.ownerId) };
      }
      case 'kick': {
        const d = await this.commit(roomId, entry, {
          type: 'kick',
          peerId: cmd.peerId,
          reason: cmd.reason,
          userId: cmd.userId,
          perms: cmd.perms,
          at,
        });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      case 'raise_hand':
      case 'lower_hand': {
        const d = await this.commit(roomId, entry, { ...cmd, at });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      case 'invite':
      case 'demote': {
        const d = await this.commit(roomId, entry, {
          ...cmd,
          stageMax: this.o.config.stageMax,
          at,
        });
        return d.refused ? refusal(d) : { ok: true, seq: room.state.seq };
      }
      // The stream service (SRS's side): decided in room.stream.ts. The absence of a
      // stopped stream is timed with the member expiry timers.
      case 'stream_publish':
      case 'stream_confirm':
      case 'stream_unpublish':
      case 'stream_play':
      case 'stream_stop':
      case 'stream_sync':
      case 'stream_expire': {
        const { event, kick } = streamCommand(room.state, cmd, at);
        const d = await this.commit(roomId, entry, event);
        for (const deadline of streamDeadlines(room.state)) this.o.scheduleExpiry(roomId, deadline);
        return d.refused ? refusal(d) : streamReply(room.state, cmd, kick);
      }
      case 'stream_status':
        return streamReply(room.state, cmd, []);
    }
  }

  private async create(
    roomId: string,
    cmd: Extract<RoomCommand, { type: 'create' }>,
  ): Promise<AnyRoomReply> {
    if (this.rooms.has(roomId)) return fail(ErrorCode.ROOM_EXISTS);
    const created = roomCreated(this.o.config, this.o.env, roomId, cmd);
    if (!('type' in created)) return created;
    let streamSeq: number;
    try {
      streamSeq = await this.o.log.append(roomId, [created], { seq: 0, streamSeq: 0 });
    } catch (err) {
      // A conflict here means the id is taken in the log although not loaded here: never reuse it.
      if (err instanceof LogConflictError) return fail(ErrorCode.ROOM_EXISTS);
      throw new RoomcastError(ErrorCode.UNAVAILABLE, 'the room log did not confirm the write', {
        cause: err,
      });
    }
    const entry: RoomEntry = {
      actor: RoomActor.create(created),
      streamSeq,
      batches: 1,
      snapSeq: 0,
    };
    this.rooms.set(roomId, entry);
    // A first snapshot right away: a restart then finds the room without scanning the log.
    void this.snapshot(roomId);
    return { ok: true, room: toLiveRoom(entry.actor.state, true) };
  }

  /**
   * Decides a command, appends what it recorded, then broadcasts: nothing is
   * broadcast or answered that the log does not hold. When the append fails the
   * actor is ahead of its log (or behind another writer's): the room is rebuilt
   * from the log before anything else touches it, and the caller hears UNAVAILABLE.
   */
  private async commit(
    roomId: string,
    entry: RoomEntry,
    command: Parameters<RoomActor['decide']>[0],
  ): Promise<Decision> {
    const at = { seq: entry.actor.state.seq, streamSeq: entry.streamSeq };
    // The span covers the decision and its append: a transition is done once it is in the log.
    const d = await withSpan(
      'room transition',
      { 'roomcast.room': roomId, 'roomcast.command': command.type },
      async () => {
        this.appending.add(roomId);
        try {
          const decision = entry.actor.decide(command);
          setSpanAttributes({
            'roomcast.recorded': decision.recorded.map((e) => e.type).join(','),
            ...(decision.refused ? { 'roomcast.refused': decision.refused.code } : {}),
          });
          if (decision.recorded.length > 0) await this.record(roomId, entry, decision, at);
          return decision;
        } finally {
          this.appending.delete(roomId);
        }
      },
    );
    if (d.recorded.length === 0) return d;
    for (const b of d.broadcasts) this.o.bus.publish(subjects.roomBroadcast(roomId), b);
    for (const e of d.recorded)
      if (e.type === 'member_disconnected') this.o.scheduleExpiry(roomId, e.awayUntil);
    if (entry.actor.state.seq - entry.snapSeq >= this.o.config.snapshotEvery)
      void this.snapshot(roomId);
    return d;
  }

  /** Appends what a decision recorded; when the log does not confirm it, the room is rebuilt from the log. */
  private async record(
    roomId: string,
    entry: RoomEntry,
    d: Decision,
    at: LogPosition,
  ): Promise<void> {
    try {
      entry.streamSeq = await this.o.log.append(roomId, d.recorded, at);
      entry.batches++;
    } catch (err) {
      this.o.logger.warn('append failed; reloading the room from its log', { roomId, err });
      await this.reload(roomId);
      throw new RoomcastError(
        ErrorCode.UNAVAILABLE,
        'the room log did not confirm the write; try again',
        { cause: err },
      );
    }
  }

  /** Replaces the room with what its log says; if the log cannot be read, drops it until it can. */
  private async reload(roomId: string): Promise<void> {
    const old = this.rooms.get(roomId);
    try {
      const { entry } = await rebuildRoom(this.o.log, roomId);
      if (entry === undefined) this.rooms.delete(roomId);
      else this.rooms.set(roomId, entry);
    } catch (err) {
      // Unreadable now (NATS down): forget it; the next load of its partition brings it back.
      this.o.logger.error('room reload failed', { roomId, err });
      this.rooms.delete(roomId);
      this.failedRooms.add(roomId);
    }
    old?.actor.stop();
  }

  /**
   * Writes the room's snapshot (at most one write per room in flight). Skipped while
   * an append is under way: the next interval (or the next commit) takes it.
   */
  async snapshot(roomId: string): Promise<void> {
    const entry = this.rooms.get(roomId);
    if (entry === undefined || this.snapshotting.has(roomId) || this.appending.has(roomId)) return;
    this.snapshotting.add(roomId);
    const record: SnapshotRecord = {
      v: 1,
      roomId,
      seq: entry.actor.state.seq,
      streamSeq: entry.streamSeq,
      batches: entry.batches,
      snapshot: entry.actor.persisted(),
    };
    try {
      await this.o.snapshots.save(record);
      entry.snapSeq = Math.max(entry.snapSeq, record.seq);
    } catch (err) {
      this.o.logger.warn('snapshot failed', { roomId, err });
    } finally {
      this.snapshotting.delete(roomId);
    }
  }

  /** Snapshots every room with events not in its snapshot yet. */
  async snapshotDirty(all = false): Promise<void> {
    const dirty = [...this.rooms]
      .filter(([, e]) => e.actor.state.seq > e.snapSeq)
      .map(([id]) => id);
    if (!all && dirty.length === 0) return;
    await Promise.allSettled(dirty.map((id) => this.snapshot(id)));
  }

  /** Applies what is due at `deadline` (timers may fire a little early by the wall clock). */
  async expire(roomId: string, deadline: number): Promise<AnyRoomReply> {
    const entry = this.rooms.get(roomId);
    if (entry === undefined || entry.actor.ended) return { ok: true };
    await this.commit(roomId, entry, {
      type: 'expire',
      at: Math.max(this.o.env.now(), deadline),
    });
    return { ok: true };
  }
}
