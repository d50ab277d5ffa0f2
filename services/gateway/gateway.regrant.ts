/**
 * A refreshed token (an `auth` frame on an authenticated connection) may grant less
 * than the one before: every room the connection has joined is checked again with
 * the new grants, by the rule `join` applied (shared/room/room.access.ts, through the
 * room's own `get`; a publisher also needs its publish grant or to own the room). A
 * member whose grant is gone leaves that room (a `leave` through RoomClient) and gets
 * `kicked {room, reason: "grant_revoked"}`; the other rooms are left alone.
 */
import type { Identity } from '#shared/auth/auth.js';
import { permsFor } from '#shared/auth/grants.js';
import { RoomRefusedError, type RoomClient } from '#shared/room/room.client.js';
import type { Logger } from '#shared/runtime/log.js';
import { ErrorCode } from '#shared/wire/errors.js';
import type { Conn, LocalMember } from './gateway.conn.js';
import type { ClientReplies } from './gateway.replies.js';
import type { Rooms } from './gateway.rooms.js';

/** The reason a member removed this way reads in its `kicked` frame. */
export const GRANT_REVOKED = 'grant_revoked';

export interface RegrantOptions {
  roomClient: RoomClient;
  rooms: Rooms;
  replies: ClientReplies;
  log: Logger;
  /** The session's one leave (gateway.session.ts). */
  leave: (conn: Conn, userId: string, member: LocalMember) => Promise<unknown>;
}

/** Checks every room `conn` has joined against `identity` (the refreshed token). */
export async function recheckRooms(
  o: RegrantOptions,
  conn: Conn,
  identity: Identity,
): Promise<void> {
  await Promise.all(
    [...conn.memberships.values()].map(async (member) => {
      if (await mayStay(o, member, identity)) return;
      // Left or moved on while the room answered: nothing of ours to take back.
      if (conn.memberships.get(member.room) !== member) return;
      try {
        await o.leave(conn, identity.userId, member);
      } catch (err) {
        if (!(err instanceof RoomRefusedError)) throw err;
      }
      o.rooms.remove(member);
      o.replies.send(conn, { type: 'kicked', room: member.room, reason: GRANT_REVOKED });
    }),
  );
}

async function mayStay(
  o: RegrantOptions,
  member: LocalMember,
  identity: Identity,
): Promise<boolean> {
  const perms = permsFor(identity.grants, member.room);
  try {
    const { room } = await o.roomClient.get(member.room, { userId: identity.userId, perms });
    return member.role !== 'publisher' || room.userId === identity.userId || perms.publish;
  } catch (err) {
    // The room service did not answer: the member stays; the next refresh checks again.
    if (!(err instanceof RoomRefusedError)) {
      o.log.warn('grants not re-checked', { room: member.room, err });
      return true;
    }
    // The room hides itself from this user now (a private room it may no longer see).
    return err.body.code !== ErrorCode.ROOM_NOT_FOUND;
  }
}
