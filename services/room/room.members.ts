/**
 * The room's rules for its members: who may join, leave, resume and kick, and the
 * events each accepted command records. Pure functions of the state and the
 * command (time included), used by the room machine.
 */
import { ErrorCode } from '#shared/wire/errors.js';
import type { RoomPerms } from '#shared/auth/grants.js';
import { maySeeRoom, privacyOf } from '#shared/room/room.access.js';
import { joiningMember, type RoomEvent } from '#shared/room/room.events.js';
import {
  applyEvent,
  awayOf,
  memberOf,
  viewersIfJoined,
  type RoomState,
} from '#shared/room/room.state.js';
import type { Ev, Refusal } from './room.machine.events.js';
import { streamExpiredEvents } from './room.stream.js';

export const isOwner = (s: RoomState, userId: string) => s.ownerId === userId;
export const mayAdminister = (s: RoomState, userId: string, perms: RoomPerms) =>
  isOwner(s, userId) || perms.admin;

/** Why `join` is refused, or null. Order matters: permission before capacity. */
export function joinRefusal(s: RoomState, e: Ev<'join'>): Refusal {
  if (memberOf(s, e.peerId) !== undefined) return { code: ErrorCode.ALREADY_JOINED };
  if (!maySeeRoom(privacyOf(s), e.userId, e.perms)) {
    return { code: ErrorCode.NOT_ALLOWED, message: 'this room is private' };
  }
  if (e.role === 'publisher') {
    if (!(isOwner(s, e.userId) || e.perms.publish))
      return { code: ErrorCode.NOT_ALLOWED, message: 'no publish grant for this room' };
    if (s.publisher !== null) return { code: ErrorCode.PUBLISHER_TAKEN };
  } else if (viewersIfJoined(s, e.userId) > s.settings.maxViewers) {
    return { code: ErrorCode.ROOM_FULL };
  }
  return null;
}

export function memberRefusal(s: RoomState, peerId: string, userId: string): Refusal {
  const m = memberOf(s, peerId);
  return m === undefined || m.userId !== userId ? { code: ErrorCode.NOT_IN_ROOM } : null;
}

export function resumeRefusal(s: RoomState, e: Ev<'resume'>): Refusal {
  const m = memberOf(s, e.peerId);
  if (m === undefined || m.userId !== e.userId || m.resumeHash !== e.resumeHash)
    return { code: ErrorCode.RESUME_FAILED };
  if (m.awayUntil !== null && m.awayUntil <= e.at) {
    return { code: ErrorCode.RESUME_FAILED, message: 'the resume grace period is over' };
  }
  return null;
}

export function kickRefusal(s: RoomState, e: Ev<'kick'>): Refusal {
  if (!mayAdminister(s, e.userId, e.perms))
    return { code: ErrorCode.NOT_ALLOWED, message: 'only the owner or an admin may kick' };
  return memberOf(s, e.peerId) === undefined ? { code: ErrorCode.PEER_NOT_FOUND } : null;
}

/** The publisher slot, if `peerId` holds it, as the event releasing it. */
export function releaseIfPublisher(s: RoomState, peerId: string, at: number): RoomEvent[] {
  const p = s.publisher;
  return p?.kind === 'peer' && p.peerId === peerId
    ? [{ type: 'publisher_released', v: 1, at, publisher: p }]
    : [];
}

export function joinEvents(s: RoomState, e: Ev<'join'>): RoomEvent[] {
  const joined: RoomEvent = { type: 'member_joined', v: 1, at: e.at, ...joiningMember(e) };
  if (e.role !== 'publisher') return [joined];
  return [
    joined,
    {
      type: 'publisher_granted',
      v: 1,
      at: e.at,
      publisher: { kind: 'peer', peerId: e.peerId, userId: e.userId },
    },
  ];
}

/** Members whose grace is over, then what the stream's absence has made due. */
export function expiredEvents(s: RoomState, at: number): RoomEvent[] {
  const members = expiredMembers(s, at);
  return [...members, ...streamExpiredEvents(members.reduce(applyEvent, s), at)];
}

export function expiredMembers(s: RoomState, at: number): RoomEvent[] {
  const out: RoomEvent[] = [];
  // Only members whose connection is down: the scan never grows with the audience.
  for (const m of awayOf(s)) {
    if (m.awayUntil <= at) {
      out.push(
        { type: 'member_timed_out', v: 1, at, peerId: m.peerId },
        ...releaseIfPublisher(s, m.peerId, at),
      );
    }
  }
  return out;
}

export function publisherRefused(e: Ev<'join'>): RoomEvent {
  return {
    type: 'publisher_refused',
    v: 1,
    at: e.at,
    userId: e.userId,
    reason: ErrorCode.PUBLISHER_TAKEN,
  };
}

/** The event of an accepted `set_status`. */
export const statusChanged = (s: RoomState, e: Ev<'set_status'>): RoomEvent[] => [
  { type: 'status_changed', v: 1, at: e.at, from: s.status, to: e.status, by: e.userId },
];
