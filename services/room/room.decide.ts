/**
 * What each command becomes: the machine command it is decided as (stamped with
 * the time, ids and secrets made here, so the machine stays pure) and the reply it
 * gets. Synchronous: the reply is made against the state right after the decision,
 * and sent once the log holds what the command recorded (room.host.ts).
 */
import type { Config } from '#config/config.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import {
  formatResumeToken,
  parseResumeToken,
  resumeSecretHash,
} from '#shared/room/resume.token.js';
import { maySeeRoom, privacyOf } from '#shared/room/room.access.js';
import { peersOf, toLiveRoom } from '#shared/room/room.state.js';
import { stateHash, type Decision, type RoomActor } from './room.actor.js';
import type { Pending } from './room.mailbox.js';
import { fail, membershipOf, refusal } from './room.replies.js';
import { streamDeadlines } from './room.stream.js';
import { streamCommand, streamReply } from './room.stream.reply.js';
import type { RoomEnvironment } from './room.environment.js';

export type MachineCommand = Parameters<RoomActor['decide']>[0];

/** A decided command: its decision, and how to answer it once the log holds what it recorded. */
export interface Committed {
  d: Decision;
  answer: (reply: AnyRoomReply) => Pending;
}

export interface DecideContext {
  config: Config['room'];
  env: RoomEnvironment;
  /** The replica answering (`state` tells it). */
  replicaId: () => string;
  /** Decides `command` and queues its events; `deadlines` (after the decision) are armed once confirmed. */
  commit: (command: MachineCommand, deadlines?: () => number[]) => Committed;
  /** A reply for a command that recorded nothing (sent after those decided before it). */
  after: (reply: AnyRoomReply) => Pending;
}

/** Decides a command for a room this replica holds (synchronously; the answer waits for the log). */
export function decideCommand(
  o: DecideContext,
  room: RoomActor,
  cmd: Exclude<RoomCommand, { type: 'create' }>,
): Pending {
  const { after, commit } = o;
  if (cmd.type === 'state') {
    return after({
      ok: true,
      seq: room.state.seq,
      status: room.status,
      hash: stateHash(room),
      // A copy: the answer is sent later (after the log), the state may have moved on by then.
      state: structuredClone(room.state),
      owner: o.replicaId(),
    });
  }
  if (cmd.type === 'get') {
    const withKey = cmd.userId === undefined || cmd.userId === room.state.ownerId;
    const s = room.state;
    // Services ask without a user: they see every room.
    if (cmd.userId !== undefined && !maySeeRoom(privacyOf(s), cmd.userId, cmd.perms))
      return after(fail(ErrorCode.ROOM_NOT_FOUND));
    return after({ ok: true, room: toLiveRoom(s, withKey), peers: peersOf(s) });
  }
  if (cmd.type === 'stream_status') return after(streamReply(room.state, cmd, []));
  if (room.ended) return after(fail(ErrorCode.ROOM_ENDED));
  const at = o.env.now();

  switch (cmd.type) {
    case 'join': {
      const peerId = cmd.peerId;
      const secret = o.env.id(24);
      const c = commit({ ...cmd, resumeHash: resumeSecretHash(secret), at });
      return c.answer(
        c.d.refused
          ? refusal(c.d)
          : { ok: true, ...membershipOf(room.state, peerId, formatResumeToken(peerId, secret)) },
      );
    }
    case 'resume': {
      const token = parseResumeToken(cmd.token);
      if (token === null) return after(fail(ErrorCode.RESUME_FAILED));
      const { peerId } = token;
      const c = commit({
        type: 'resume',
        peerId,
        resumeHash: resumeSecretHash(token.secret),
        userId: cmd.userId,
        gateway: cmd.gateway,
        conn: cmd.conn,
        at,
      });
      return c.answer(
        c.d.refused ? refusal(c.d) : { ok: true, ...membershipOf(room.state, peerId, cmd.token) },
      );
    }
    case 'leave': {
      const c = commit({ type: 'leave', peerId: cmd.peerId, userId: cmd.userId, at });
      return c.answer(c.d.refused ? refusal(c.d) : { ok: true, seq: room.state.seq });
    }
    case 'disconnect': {
      const awayUntil = at + o.config.resumeGraceMs;
      const c = commit({ type: 'disconnect', peerId: cmd.peerId, conn: cmd.conn, awayUntil, at });
      return c.answer({ ok: true, seq: room.state.seq });
    }
    case 'set_status': {
      const c = commit({
        type: 'set_status',
        status: cmd.status,
        userId: cmd.userId,
        perms: cmd.perms,
        at,
      });
      if (c.d.refused) {
        const current = room.state.status;
        const { code, message } = c.d.refused;
        return c.answer({
          ok: false,
          error: errorBody(code, `${message ?? code} (status is ${current})`),
        });
      }
      return c.answer({
        ok: true,
        room: toLiveRoom(room.state, cmd.userId === room.state.ownerId),
      });
    }
    case 'kick': {
      const c = commit({
        type: 'kick',
        peerId: cmd.peerId,
        reason: cmd.reason,
        userId: cmd.userId,
        perms: cmd.perms,
        at,
      });
      return c.answer(c.d.refused ? refusal(c.d) : { ok: true, seq: room.state.seq });
    }
    case 'raise_hand':
    case 'lower_hand': {
      const c = commit({ ...cmd, at });
      return c.answer(c.d.refused ? refusal(c.d) : { ok: true, seq: room.state.seq });
    }
    case 'invite':
    case 'demote': {
      const c = commit({ ...cmd, stageMax: o.config.stageMax, at });
      return c.answer(c.d.refused ? refusal(c.d) : { ok: true, seq: room.state.seq });
    }
    // The stream service (SRS's side): decided in room.stream.ts. The absence of a
    // stopped stream is timed with the member expiry timers.
    case 'stream_confirm':
    case 'stream_expire':
    case 'stream_play':
    case 'stream_publish':
    case 'stream_stop':
    case 'stream_sync':
    case 'stream_unknown':
    case 'stream_unpublish': {
      const { event, kick } = streamCommand(room.state, cmd, at);
      const c = commit(event, () => streamDeadlines(room.state));
      return c.answer(c.d.refused ? refusal(c.d) : streamReply(room.state, cmd, kick));
    }
  }
}
