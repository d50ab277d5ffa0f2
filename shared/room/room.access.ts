/**
 * Who may see a private room: its owner, and users whose token names the room in any
 * grant (view, publish or admin). Anyone may see a public room. This is the one rule
 * `join`, `get`, SRS's `stream_play` and the catalogue's lists apply: written once so
 * that they cannot come to disagree.
 */
import type { RoomPerms } from '../auth/grants.js';
import type { RoomViewer } from './catalog.js';
import type { LiveRoom } from './room.commands.js';

/** What the rule reads of a room. */
export interface RoomPrivacy {
  isPrivate: boolean;
  ownerId: string;
}

/**
 * True when `userId` (null: an anonymous SRS player) with `perms` for this room
 * (absent: none) may see it.
 */
export function maySeeRoom(
  room: RoomPrivacy,
  userId: string | null,
  perms: RoomPerms | undefined,
): boolean {
  if (!room.isPrivate) return true;
  if (userId === null) return false;
  return (
    userId === room.ownerId || (perms !== undefined && (perms.view || perms.publish || perms.admin))
  );
}

/** The rule for a room state's settings (the room service's side). */
export function privacyOf(s: { ownerId: string; settings: { isPrivate: boolean } }): RoomPrivacy {
  return { isPrivate: s.settings.isPrivate, ownerId: s.ownerId };
}

/** The rule for a catalogue listing: the viewer's merged grants name the room, or every room. */
export function viewerMaySee(
  room: Pick<LiveRoom, 'id' | 'userId' | 'isPrivate'>,
  viewer: RoomViewer,
): boolean {
  const named = viewer.granted.includes('*') || viewer.granted.includes(room.id);
  return maySeeRoom({ isPrivate: room.isPrivate, ownerId: room.userId }, viewer.userId, {
    view: named,
    publish: false,
    admin: false,
  });
}
