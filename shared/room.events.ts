/**
 * Room events: the past-tense facts a room actor records, one per accepted
 * transition. They are the room's durable log (JetStream ROOM_EVENTS) and the
 * only input of replay, so they are versioned: `v` is the version of that event
 * type's shape. Adding an event type or an optional field is compatible; changing
 * a field's meaning needs a new `v` and an upgrade in `upgradeEvent`.
 */
import type { Role, RoomStatus } from './protocol.js';

/** Who holds a room's single publisher slot. */
export type PublisherRef =
  /** A signaling peer (WebRTC peer-to-peer publishing through the gateway). */
  | { kind: 'peer'; peerId: string; userId: string }
  /** An encoder publishing into SRS (RTMP or WHIP), by SRS client id. */
  | { kind: 'stream'; clientId: string; userId: string };

/** The settings chosen at creation and changed by `settings_changed`. */
export interface RoomSettings {
  title: string;
  isPrivate: boolean;
  maxViewers: number;
}

interface Base {
  v: 1;
  /** When the room actor accepted the transition, ms since the epoch. */
  at: number;
}

export type RoomEvent =
  | (Base & {
      type: 'room_created';
      roomId: string;
      ownerId: string;
      settings: RoomSettings;
      /** Publishing key for the encoder (RTMP `?key=`), shown only to the owner. */
      streamKey: string;
    })
  | (Base & {
      type: 'member_joined';
      peerId: string;
      userId: string;
      role: Role;
      /** The connection that holds the member (`gateway` and connection id). */
      gateway: string;
      conn: string;
      /** SHA-256 of the resume secret; the secret itself is never stored. */
      resumeHash: string;
    })
  | (Base & { type: 'member_left'; peerId: string })
  | (Base & { type: 'member_disconnected'; peerId: string; conn: string; awayUntil: number })
  | (Base & { type: 'member_resumed'; peerId: string; gateway: string; conn: string })
  | (Base & { type: 'member_timed_out'; peerId: string })
  | (Base & { type: 'member_kicked'; peerId: string; by: string; reason: string })
  | (Base & { type: 'publisher_granted'; publisher: PublisherRef })
  | (Base & { type: 'publisher_released'; publisher: PublisherRef })
  | (Base & { type: 'publisher_refused'; userId: string; reason: string })
  | (Base & { type: 'status_changed'; from: RoomStatus; to: RoomStatus; by: string })
  | (Base & { type: 'settings_changed'; settings: Partial<RoomSettings>; by: string });

export type RoomEventType = RoomEvent['type'];
export type RoomEventOf<T extends RoomEventType> = Extract<RoomEvent, { type: T }>;

/** Every event type, for subject filters and exhaustive checks. */
export const roomEventTypes = [
  'room_created',
  'member_joined',
  'member_left',
  'member_disconnected',
  'member_resumed',
  'member_timed_out',
  'member_kicked',
  'publisher_granted',
  'publisher_released',
  'publisher_refused',
  'status_changed',
  'settings_changed',
] as const satisfies readonly RoomEventType[];

/**
 * One append to ROOM_EVENTS: the events one command recorded, stored together so
 * that a command's transition is all there or not at all. `seq` is the room
 * sequence of the first event (events are numbered 1, 2, 3 … per room).
 */
export interface RoomEventBatch {
  v: 1;
  roomId: string;
  seq: number;
  events: RoomEvent[];
}

/**
 * The `Nats-Msg-Id` of a batch: a retried append by the same writer is a duplicate
 * JetStream drops. The writer is part of it so that two replicas racing for the
 * same sequence are not taken for one retry; the append fence refuses the second.
 */
export const batchMsgId = (roomId: string, seq: number, writer: string): string =>
  `${roomId}:${seq}:${writer}`;
