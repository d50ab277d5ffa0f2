/**
 * A room's state and the one reducer that evolves it. Live commands and replay
 * both go through `applyEvent`, so a room rebuilt from its log is the room that
 * wrote it.
 *
 * What must hold: applying one event costs the same in a room of 20 or of 20,000
 * (members and SRS players live in books, room.book.ts; the audience is counted,
 * never listed). `viewers` counts who watches: each user once, however many
 * connections and players it has (WebSocket audience and SRS players with a play
 * token), plus every anonymous SRS player.
 */
import type { PeerInfo } from '#shared/wire/protocol.js';
import { bookDelete, bookGet, bookSet, bookValues, emptyBook, type Book } from './room.book.js';
import type { LiveRoom } from './room.commands.js';
import { joiningMember, type RoomEvent, type RoomEventOf } from './room.events.js';
import {
  noStream,
  type Member,
  type RoomState,
  type StreamState,
  type StreamViewer,
} from './room.model.js';

export { noStream } from './room.model.js';
export type { Member, RoomState, StreamState, StreamViewer } from './room.model.js';

/** The state right after `room_created`. */
export function initialState(e: RoomEventOf<'room_created'>): RoomState {
  return {
    roomId: e.roomId,
    ownerId: e.ownerId,
    settings: e.settings,
    streamKey: e.streamKey,
    status: 'preparing',
    createdAt: e.at,
    startTime: null,
    endTime: null,
    ...noMembers(),
    peakViewers: 0,
    publisher: null,
    stream: noStream,
    seq: 1,
  };
}

/** Everything about who is in the room, empty: a new room, and an ended one. */
function noMembers() {
  return {
    members: emptyBook<Member>(),
    stage: [] as readonly string[],
    audience: 0,
    audienceUsers: emptyBook<number>(),
    streamUsers: emptyBook<number>(),
    knownUsers: 0,
    anonymousPlayers: 0,
    viewers: 0,
    streamViewers: emptyBook<StreamViewer>(),
    away: emptyBook<{ peerId: string; awayUntil: number }>(),
  };
}

/** The member `peerId`, if it is in the room. */
export const memberOf = (s: RoomState | undefined, peerId: string): Member | undefined =>
  s === undefined ? undefined : bookGet(s.members, peerId);

/** Every member. Costs the size of the room: for sweeps and operators, never per join. */
export const membersOf = (s: RoomState): Member[] => [...bookValues(s.members)];

/** SRS players holding a seat. Costs their number. */
export const streamViewersOf = (s: RoomState): StreamViewer[] => [...bookValues(s.streamViewers)];

/** The SRS player `clientId`, if it holds a seat. */
export const streamViewerOf = (
  s: RoomState | undefined,
  clientId: string,
): StreamViewer | undefined => (s === undefined ? undefined : bookGet(s.streamViewers, clientId));

/** Members whose connection is down. Costs their number. */
export const awayOf = (s: RoomState): { peerId: string; awayUntil: number }[] => [
  ...bookValues(s.away),
];

/** True when `userId` already takes a seat (in the audience, or playing through SRS). */
const counts = (s: RoomState, userId: string) =>
  (bookGet(s.audienceUsers, userId) ?? 0) + (bookGet(s.streamUsers, userId) ?? 0) > 0;

/** `viewers` once `userId` joined the audience: unchanged for a user already counted. */
export function viewersIfJoined(s: RoomState, userId: string): number {
  return s.viewers + (counts(s, userId) ? 0 : 1);
}

/** `viewers` once an SRS player of `userId` (null: anonymous) got a seat. */
export function viewersIfPlayed(s: RoomState, userId: string | null): number {
  return s.viewers + (userId !== null && counts(s, userId) ? 0 : 1);
}

const inc = (b: Book<number>, key: string, by: number): Book<number> => {
  const n = (bookGet(b, key) ?? 0) + by;
  return n === 0 ? bookDelete(b, key) : bookSet(b, key, n);
};

/** Recomputes `viewers` (and the peak) from its parts. */
function counted(s: RoomState): RoomState {
  const viewers = s.knownUsers + s.anonymousPlayers;
  return { ...s, viewers, peakViewers: Math.max(s.peakViewers, viewers) };
}

/** `s` with `knownUsers` following a change of `userId`'s memberships or players. */
function recount(before: RoomState, after: RoomState, userId: string): RoomState {
  const delta = Number(counts(after, userId)) - Number(counts(before, userId));
  return counted({ ...after, knownUsers: after.knownUsers + delta });
}

/** `userId` gains (+1) or loses (-1) an audience membership. */
function audienceChange(s: RoomState, userId: string, by: 1 | -1): RoomState {
  const next = {
    ...s,
    audience: s.audience + by,
    audienceUsers: inc(s.audienceUsers, userId, by),
  };
  return recount(s, next, userId);
}

/** An SRS player of `userId` (null: anonymous) comes (+1) or goes (-1). */
function playerChange(s: RoomState, userId: string | null, by: 1 | -1): RoomState {
  if (userId === null) return counted({ ...s, anonymousPlayers: s.anonymousPlayers + by });
  return recount(s, { ...s, streamUsers: inc(s.streamUsers, userId, by) }, userId);
}

/** A publisher is back: whatever the last stream's absence had scheduled is off. */
const publisherReturned = (st: StreamState): StreamState => ({
  ...st,
  goneAt: null,
  endAt: null,
  gone: false,
});

const onStage = (m: Member) => m.role !== 'viewer';

function removeMember(s: RoomState, peerId: string): RoomState {
  const m = memberOf(s, peerId);
  if (m === undefined) return s;
  const next: RoomState = {
    ...s,
    members: bookDelete(s.members, peerId),
    away: bookDelete(s.away, peerId),
  };
  return onStage(m)
    ? { ...next, stage: s.stage.filter((id) => id !== peerId) }
    : audienceChange(next, m.userId, -1);
}

function patchMember(s: RoomState, peerId: string, patch: Partial<Member>): RoomState {
  const m = memberOf(s, peerId);
  if (m === undefined) return s;
  return { ...s, members: bookSet(s.members, peerId, { ...m, ...patch }) };
}

/** Applies one recorded event. Pure; unknown members are ignored (the event is a fact). */
export function applyEvent(s: RoomState, e: RoomEvent): RoomState {
  const next = applyOne(s, e);
  return { ...next, seq: s.seq + 1 };
}

function applyOne(s: RoomState, e: RoomEvent): RoomState {
  switch (e.type) {
    case 'room_created':
      return initialState(e);
    case 'member_joined': {
      if (memberOf(s, e.peerId) !== undefined) return s;
      const member: Member = { ...joiningMember(e), joinedAt: e.at, awayUntil: null };
      const next = { ...s, members: bookSet(s.members, e.peerId, member) };
      return onStage(member)
        ? { ...next, stage: [...s.stage, e.peerId] }
        : audienceChange(next, e.userId, 1);
    }
    case 'member_left':
    case 'member_timed_out':
    case 'member_kicked':
      return removeMember(s, e.peerId);
    case 'member_disconnected': {
      const next = patchMember(s, e.peerId, { awayUntil: e.awayUntil });
      return next === s
        ? s
        : {
            ...next,
            away: bookSet(s.away, e.peerId, { peerId: e.peerId, awayUntil: e.awayUntil }),
          };
    }
    case 'member_resumed': {
      const next = patchMember(s, e.peerId, { awayUntil: null, gateway: e.gateway, conn: e.conn });
      return { ...next, away: bookDelete(s.away, e.peerId) };
    }
    case 'hand_raised':
      return patchMember(s, e.peerId, { hand: true });
    case 'hand_lowered': {
      const m = memberOf(s, e.peerId);
      if (m === undefined) return s;
      const { hand: _lowered, ...rest } = m;
      return { ...s, members: bookSet(s.members, e.peerId, rest) };
    }
    case 'member_promoted': {
      const m = memberOf(s, e.peerId);
      if (m === undefined || onStage(m)) return s;
      const { hand: _granted, ...rest } = m;
      const next = {
        ...s,
        members: bookSet(s.members, e.peerId, { ...rest, role: 'cohost' as const }),
        stage: [...s.stage, e.peerId],
      };
      return audienceChange(next, m.userId, -1);
    }
    case 'member_demoted': {
      const m = memberOf(s, e.peerId);
      if (m?.role !== 'cohost') return s;
      const next = {
        ...s,
        members: bookSet(s.members, e.peerId, { ...m, role: 'viewer' as const }),
        stage: s.stage.filter((id) => id !== e.peerId),
      };
      return audienceChange(next, m.userId, 1);
    }
    case 'publisher_granted':
      return {
        ...s,
        publisher: e.publisher,
        stream:
          e.publisher.kind === 'stream'
            ? { ...s.stream, grantedAt: e.at, confirmedAt: null, streamId: null }
            : publisherReturned(s.stream),
      };
    case 'publisher_released':
      return {
        ...s,
        publisher: null,
        stream: { ...s.stream, grantedAt: null, confirmedAt: null, streamId: null },
      };
    case 'publisher_refused':
      return s;
    case 'status_changed':
      if (e.to === 'live') return { ...s, status: 'live', startTime: s.startTime ?? e.at };
      if (e.to === 'ended') {
        // An ended room keeps no members: every gateway drops them on the broadcast.
        return {
          ...s,
          status: 'ended',
          endTime: e.at,
          ...noMembers(),
          publisher: null,
          stream: noStream,
        };
      }
      return { ...s, status: e.to };
    case 'stream_confirmed':
      return {
        ...s,
        stream: { ...publisherReturned(s.stream), confirmedAt: e.at, streamId: e.streamId },
      };
    case 'stream_stopped': {
      const lastStop = { clientId: e.clientId, reason: e.reason, at: e.at };
      // Deadlines of an earlier absence stay when an unconfirmed grant is taken back.
      return e.goneAt === null
        ? { ...s, stream: { ...s.stream, lastStop } }
        : {
            ...s,
            stream: { ...s.stream, goneAt: e.goneAt, endAt: e.endAt, gone: false, lastStop },
          };
    }
    case 'publisher_gone':
      return { ...s, stream: { ...s.stream, gone: true } };
    case 'stream_viewer_joined': {
      if (streamViewerOf(s, e.clientId) !== undefined) return s;
      const viewer: StreamViewer = {
        clientId: e.clientId,
        userId: e.userId,
        serviceId: e.serviceId,
        at: e.at,
      };
      return playerChange(
        { ...s, streamViewers: bookSet(s.streamViewers, e.clientId, viewer) },
        e.userId,
        1,
      );
    }
    case 'stream_viewer_left': {
      const viewer = streamViewerOf(s, e.clientId);
      if (viewer === undefined) return s;
      return playerChange(
        { ...s, streamViewers: bookDelete(s.streamViewers, e.clientId) },
        viewer.userId,
        -1,
      );
    }
    case 'stream_unknown':
      return { ...s, stream: { ...s.stream, unknownSince: e.since } };
    case 'stream_known': {
      // Dropped rather than nulled: a state that never lost SRS keeps its old shape.
      const { unknownSince: _known, ...stream } = s.stream;
      return { ...s, stream };
    }
  }
}

/** The stage as members see it, in the order it came on stage: never the audience. */
export function peersOf(s: RoomState): PeerInfo[] {
  const out: PeerInfo[] = [];
  for (const id of s.stage) {
    const m = memberOf(s, id);
    if (m !== undefined) out.push({ peerId: m.peerId, userId: m.userId, role: m.role });
  }
  return out;
}

/** The LiveRoom record; the stream key only when `withKey`. */
export function toLiveRoom(s: RoomState, withKey: boolean): LiveRoom {
  return {
    id: s.roomId,
    userId: s.ownerId,
    title: s.settings.title,
    status: s.status,
    isPrivate: s.settings.isPrivate,
    ...(withKey ? { streamKey: s.streamKey } : {}),
    createdAt: s.createdAt,
    startTime: s.startTime,
    endTime: s.endTime,
    viewers: s.viewers,
    maxViewers: s.settings.maxViewers,
    peakViewers: s.peakViewers,
  };
}
