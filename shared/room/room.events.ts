/**
 * Room events: the past-tense facts a room actor records, one per accepted
 * transition. They are the room's durable log (JetStream ROOM_EVENTS) and the
 * only input of replay, so they are versioned: `v` is the version of that event
 * type's shape. Adding an event type or an optional field is compatible; changing
 * a field's meaning needs a new `v` and an upgrade in `upgradeEvent`.
 */
import type { Role, RoomStatus } from '../wire/protocol.js';

/** Who holds a room's single publisher slot. */
export type PublisherRef =
  /** A signaling peer (WebRTC peer-to-peer publishing through the gateway). */
  | { kind: 'peer'; peerId: string; userId: string }
  /**
   * An encoder publishing into SRS (RTMP or WHIP), by SRS client id. `serviceId` is
   * the SRS process (its `service_id`) that carries it, when the hook said so: a
   * client of an SRS process that has since restarted is gone for certain.
   */
  | { kind: 'stream'; clientId: string; userId: string; serviceId?: string };

/** Why a stream publisher no longer holds the slot. */
export const StreamStopReason = {
  /** SRS called on_unpublish. */
  unpublished: 'unpublished',
  /** The SRS API no longer carries it, and no on_unpublish came (a lost callback). */
  vanished: 'vanished',
  /** Granted, but the SRS API never showed it active (SRS refused it, or it gave up). */
  unconfirmed: 'unconfirmed',
  /** The hook answered SRS "deny" on its deadline; the late grant is taken back. */
  hookTimeout: 'hook_timeout',
  /** The SRS process that carried it restarted (its service id changed). */
  srsRestarted: 'srs_restarted',
} as const;
export type StreamStopReason = (typeof StreamStopReason)[keyof typeof StreamStopReason];

/** Why an SRS viewer no longer counts. */
export const StreamViewerLeftReason = {
  stopped: 'stopped',
  vanished: 'vanished',
  hookTimeout: 'hook_timeout',
  srsRestarted: 'srs_restarted',
} as const;
export type StreamViewerLeftReason =
  (typeof StreamViewerLeftReason)[keyof typeof StreamViewerLeftReason];

/** The settings chosen at creation (no command changes them). */
export interface RoomSettings {
  title: string;
  isPrivate: boolean;
  maxViewers: number;
}

/**
 * A member as it joins: who, in which role, and where its connection lives. The
 * `join` command, the `member_joined` event and the room's member all carry this one
 * shape; `joiningMember` is the one place its fields are listed.
 */
export interface JoiningMember {
  peerId: string;
  userId: string;
  role: Role;
  /** The connection that holds the member (`gateway` and connection id). */
  gateway: string;
  conn: string;
  /** SHA-256 of the resume secret; the secret itself is never stored. */
  resumeHash: string;
}

/** Exactly the joining member's fields of `x`: what a command or event carries besides stays out. */
export function joiningMember(x: JoiningMember): JoiningMember {
  return {
    peerId: x.peerId,
    userId: x.userId,
    role: x.role,
    gateway: x.gateway,
    conn: x.conn,
    resumeHash: x.resumeHash,
  };
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
  | (Base & { type: 'member_joined' } & JoiningMember)
  | (Base & { type: 'member_left'; peerId: string })
  | (Base & { type: 'member_disconnected'; peerId: string; conn: string; awayUntil: number })
  | (Base & { type: 'member_resumed'; peerId: string; gateway: string; conn: string })
  | (Base & { type: 'member_timed_out'; peerId: string })
  | (Base & { type: 'member_kicked'; peerId: string; by: string; reason: string })
  | (Base & { type: 'publisher_granted'; publisher: PublisherRef })
  | (Base & { type: 'publisher_released'; publisher: PublisherRef })
  | (Base & { type: 'publisher_refused'; userId: string; reason: string })
  | (Base & { type: 'status_changed'; from: RoomStatus; to: RoomStatus; by: string })
  /** The SRS API shows the granted stream publisher active: the stream really flows. */
  | (Base & { type: 'stream_confirmed'; clientId: string; streamId: string | null })
  /**
   * A stream publisher stopped holding the slot (recorded with `publisher_released`).
   * After a confirmed stream, `goneAt` / `endAt` are when the publisher is declared
   * gone and when the room ends unless a publisher returns; null otherwise.
   */
  | (Base & {
      type: 'stream_stopped';
      clientId: string;
      reason: StreamStopReason;
      goneAt: number | null;
      endAt: number | null;
    })
  /** No publisher came back within the grace period after the stream stopped. */
  | (Base & { type: 'publisher_gone'; since: number })
  /** An SRS player (RTMP, HTTP-FLV, WebRTC) was admitted; it takes a viewer seat. */
  | (Base & {
      type: 'stream_viewer_joined';
      clientId: string;
      /** The play token's `sub`; null for an anonymous viewer of a public room. */
      userId: string | null;
      serviceId: string | null;
    })
  | (Base & { type: 'stream_viewer_left'; clientId: string; reason: StreamViewerLeftReason })
  /**
   * SRS has not answered the stream service since `since` (STREAM_SRS_DOWN_AFTER_MS
   * passed): what it carries for the room is unknown until a complete poll reaches it.
   */
  | (Base & { type: 'stream_unknown'; since: number })
  /** A complete poll of SRS reached the room again after `stream_unknown`. */
  | (Base & { type: 'stream_known' })
  /** An audience member asked to come on stage (or withdrew). */
  | (Base & { type: 'hand_raised'; peerId: string })
  | (Base & { type: 'hand_lowered'; peerId: string })
  /** An audience member with a raised hand was invited on stage: it is now a co-host. */
  | (Base & { type: 'member_promoted'; peerId: string; by: string })
  /** A co-host left the stage (demoted by `by`, or stepped down when `by` is itself). */
  | (Base & { type: 'member_demoted'; peerId: string; by: string });

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
  'stream_confirmed',
  'stream_stopped',
  'publisher_gone',
  'stream_viewer_joined',
  'stream_viewer_left',
  'stream_unknown',
  'stream_known',
  'hand_raised',
  'hand_lowered',
  'member_promoted',
  'member_demoted',
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
