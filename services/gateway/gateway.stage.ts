/**
 * The stage commands of a member: `raise_hand`, `lower_hand` (its own hand) and
 * `invite`, `demote` (another member, by the owner, the publisher or an admin; a
 * co-host may demote itself). The room decides; the gateway only names who acts,
 * from the verified token, and answers `stage_ok` or the room's refusal.
 */
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import { permsFor } from '#shared/auth/grants.js';
import type { ClientFrameOf, StageAction } from '#shared/wire/protocol.js';
import { RoomRefusedError, type RoomClient } from '#shared/room/room.client.js';
import type { Conn } from './gateway.conn.js';
import type { ClientReplies } from './gateway.replies.js';

export class StageCommands {
  constructor(
    private readonly rooms: RoomClient,
    private readonly replies: ClientReplies,
  ) {}

  async handle(conn: Conn, frame: ClientFrameOf<StageAction>): Promise<void> {
    const identity = conn.identity;
    const member = conn.memberships.get(frame.room);
    if (identity === undefined || member === undefined) {
      this.replies.fail(conn, errorBody(ErrorCode.NOT_IN_ROOM), frame.id, frame.room);
      return;
    }
    const { room } = frame;
    const userId = identity.userId;
    try {
      switch (frame.type) {
        case 'raise_hand':
          await this.rooms.raiseHand(room, { peerId: member.peerId, userId });
          break;
        case 'lower_hand':
          await this.rooms.lowerHand(room, { peerId: member.peerId, userId });
          break;
        case 'invite':
          await this.rooms.invite(room, {
            peerId: frame.peer,
            userId,
            perms: permsFor(identity.grants, room),
          });
          break;
        case 'demote':
          await this.rooms.demote(room, {
            peerId: frame.peer,
            userId,
            perms: permsFor(identity.grants, room),
          });
          break;
      }
    } catch (err) {
      if (!(err instanceof RoomRefusedError)) throw err;
      this.replies.fail(conn, err.body, frame.id, room);
      return;
    }
    this.replies.send(conn, { type: 'stage_ok', room, action: frame.type, id: frame.id });
  }
}
