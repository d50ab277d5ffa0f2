/**
 * A room's state and the one reducer that evolves it. Live commands and replay
 * both go through `applyEvent`, so a room rebuilt from its log is the room that
 * wrote it.
 */
import type { PeerInfo, Role, RoomStatus } from '#shared/wire/protocol.js';
import type { LiveRoom, StreamTiming } from './room.commands.js';
import type { PublisherRef, RoomEvent, RoomEventOf, RoomSettings } from './room.events.js';

export interface Member {
  peerId: string;
  userId: string;
  role: Role;
  gateway: string;
  conn: string;
  resumeHash: string;
  joinedAt: number;
  /** Set while the member's connection is down: the instant its place is given up. */
  awayUntil: number | null;
}

/** An SRS player holding a viewer seat. */
export interface StreamViewer {
  clientId: string;
  userId: string | null;
  serviceId: string | null;
  at: number;
}

/**
 * The room's stream (SRS) side. The stream publisher itself is `publisher` (kind
 * `stream`); this holds what goes with it and what outlives it.
 */
export type StreamState = StreamTiming;

/** No stream: before the first publish, and after a room ended. */
export const noStream: StreamState = {
  grantedAt: null,
  confirmedAt: null,
  streamId: null,
  goneAt: null,
  endAt: null,
  gone: false,
  lastStop: null,
};

export interface RoomState {
  roomId: string;
  ownerId: string;
  settings: RoomSettings;
  streamKey: string;
  status: RoomStatus;
  createdAt: number;
  startTime: number | null;
  endTime: number | null;
  members: Readonly<Record<string, Member>>;
  /**
   * Viewer seats taken: members with role viewer plus SRS players (`streamViewers`).
   * Both kinds share `maxViewers`; kept with them so capacity checks are O(1).
   */
  viewers: number;
  peakViewers: number;
  publisher: PublisherRef | null;
  stream: StreamState;
  /** SRS players by client id. */
  streamViewers: Readonly<Record<string, StreamViewer>>;
  /** How many events this state has applied: the room's sequence. */
  seq: number;
}

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
    members: {},
    viewers: 0,
    peakViewers: 0,
    publisher: null,
    stream: noStream,
    streamViewers: {},
    seq: 1,
  };
}

function without<V>(map: Readonly<Record<string, V>>, key: string): Record<string, V> {
  const { [key]: _gone, ...rest } = map;
  return rest;
}

/** A publisher is back: whatever the last stream's absence had scheduled is off. */
const publisherReturned = (st: StreamState): StreamState => ({
  ...st,
  goneAt: null,
  endAt: null,
  gone: false,
});

function removeMember(s: RoomState, peerId: string): RoomState {
  const m = s.members[peerId];
  if (m === undefined) return s;
  return {
    ...s,
    members: without(s.members, peerId),
    viewers: s.viewers - (m.role === 'viewer' ? 1 : 0),
  };
}

function patchMember(s: RoomState, peerId: string, patch: Partial<Member>): RoomState {
  const m = s.members[peerId];
  if (m === undefined) return s;
  return { ...s, members: { ...s.members, [peerId]: { ...m, ...patch } } };
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
      const member: Member = {
        peerId: e.peerId,
        userId: e.userId,
        role: e.role,
        gateway: e.gateway,
        conn: e.conn,
        resumeHash: e.resumeHash,
        joinedAt: e.at,
        awayUntil: null,
      };
      const viewers = s.viewers + (e.role === 'viewer' ? 1 : 0);
      return {
        ...s,
        members: { ...s.members, [e.peerId]: member },
        viewers,
        peakViewers: Math.max(s.peakViewers, viewers),
      };
    }
    case 'member_left':
    case 'member_timed_out':
    case 'member_kicked':
      return removeMember(s, e.peerId);
    case 'member_disconnected':
      return patchMember(s, e.peerId, { awayUntil: e.awayUntil });
    case 'member_resumed':
      return patchMember(s, e.peerId, { awayUntil: null, gateway: e.gateway, conn: e.conn });
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
          members: {},
          viewers: 0,
          publisher: null,
          stream: noStream,
          streamViewers: {},
        };
      }
      return { ...s, status: e.to };
    case 'settings_changed':
      return { ...s, settings: { ...s.settings, ...e.settings } };
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
      if (s.streamViewers[e.clientId] !== undefined) return s;
      const viewer: StreamViewer = {
        clientId: e.clientId,
        userId: e.userId,
        serviceId: e.serviceId,
        at: e.at,
      };
      const viewers = s.viewers + 1;
      return {
        ...s,
        streamViewers: { ...s.streamViewers, [e.clientId]: viewer },
        viewers,
        peakViewers: Math.max(s.peakViewers, viewers),
      };
    }
    case 'stream_viewer_left':
      if (s.streamViewers[e.clientId] === undefined) return s;
      return { ...s, streamViewers: without(s.streamViewers, e.clientId), viewers: s.viewers - 1 };
    case 'hand_raised':
    case 'hand_lowered':
    case 'member_promoted':
    case 'member_demoted':
      return s;
  }
}

/** Members as other peers see them, in join order. */
export function peersOf(s: RoomState): PeerInfo[] {
  return Object.values(s.members)
    .sort((a, b) => a.joinedAt - b.joinedAt || (a.peerId < b.peerId ? -1 : 1))
    .map((m) => ({ peerId: m.peerId, userId: m.userId, role: m.role }));
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
