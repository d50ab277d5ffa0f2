/** Fixtures the room's unit tests share. */
import type { RoomPerms } from '#shared/auth/grants.js';
import type { RoomEventOf } from '#shared/room/room.events.js';
import type { RoomCommand } from '#shared/room/room.commands.js';

/** No grant at all. */
export const none: RoomPerms = { publish: false, view: false, admin: false };
/** The time every history starts at. */
export const T0 = 1_700_000_000_000;

/** `room_created` of room r1, owned by `owner`, stream key `key`, 2 seats unless `over` says. */
export function created(
  over: Partial<RoomEventOf<'room_created'>['settings']> = {},
  streamKey = 'key',
): RoomEventOf<'room_created'> {
  return {
    type: 'room_created',
    v: 1,
    at: T0,
    roomId: 'r1',
    ownerId: 'owner',
    settings: { title: 'Room', isPrivate: false, maxViewers: 2, ...over },
    streamKey,
  };
}

/** A `join` command of `peerId` as `userId`, on gateway g1. */
export function join(
  peerId: string,
  userId: string,
  role: 'publisher' | 'viewer',
  perms: RoomPerms = none,
  at = T0,
) {
  return {
    type: 'join',
    peerId,
    userId,
    role,
    perms,
    gateway: 'g1',
    conn: `c-${peerId}`,
    resumeHash: `h-${peerId}`,
    at,
  } as const;
}

/** A viewer's `join` as a gateway sends it to the room service: the peer is its own user and connection, on gateway g. */
export function viewerJoin(peerId: string): RoomCommand {
  return {
    type: 'join',
    peerId,
    userId: peerId,
    role: 'viewer',
    perms: none,
    gateway: 'g',
    conn: peerId,
  };
}
