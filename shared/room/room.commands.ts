/**
 * Commands to a room's actor (request/reply on `room.<id>.cmd`), their replies,
 * and the broadcasts every member's gateway receives on `room.<id>.bcast`.
 *
 * The user id in every command is the verified token's `sub`, set by the gateway
 * (or the stream service); a client never supplies it.
 */
import type { ErrorBody } from '../wire/errors.js';
import type { RoomPerms } from '../auth/grants.js';
import type {
  MembershipFields,
  PeerInfo,
  RoomNews,
  RoomStats,
  RoomStatus,
} from '../wire/protocol.js';
import type { JoiningMember, StreamStopReason, StreamViewerLeftReason } from './room.events.js';

/** Where a member's connection lives: the gateway process and its connection id. */
export interface ConnRef {
  gateway: string;
  conn: string;
}

export type RoomCommand =
  | {
      type: 'create';
      userId: string;
      title: string;
      isPrivate: boolean;
      /** Capacity; the room service's default when absent. */
      maxViewers?: number;
    }
  /**
   * `peerId` is chosen by the gateway (random, a subject token) so that it can
   * subscribe to the peer's frames before the room admits it.
   */
  | ({ type: 'join'; perms: RoomPerms } & Omit<JoiningMember, 'resumeHash'>)
  | ({ type: 'leave'; peerId: string; userId: string } & ConnRef)
  /** The member's connection dropped; its place is kept for the resume grace period. */
  | ({ type: 'disconnect'; peerId: string } & ConnRef)
  | ({ type: 'resume'; token: string; userId: string } & ConnRef)
  | { type: 'set_status'; status: RoomStatus; userId: string; perms: RoomPerms }
  | { type: 'kick'; peerId: string; reason: string; userId: string; perms: RoomPerms }
  | { type: 'get'; userId?: string; perms?: RoomPerms }
  /** Stage: `peerId` is the member acting (raise/lower) or the one acted on (invite/demote). */
  | { type: 'raise_hand'; peerId: string; userId: string }
  | { type: 'lower_hand'; peerId: string; userId: string }
  | { type: 'invite'; peerId: string; userId: string; perms: RoomPerms }
  | { type: 'demote'; peerId: string; userId: string; perms: RoomPerms }
  /** Operators and tests: the whole state with its hash. Never forwarded from clients. */
  | { type: 'state' }
  | StreamCommand;
export type RoomCommandType = RoomCommand['type'];

/**
 * Commands of the stream service (SRS's side). Client ids are SRS's; `serviceId` is
 * the SRS process's `service_id` from the hook, when it sent one. Durations are the
 * stream service's configuration; the room service stamps the time.
 */
export type StreamCommand =
  /**
   * on_publish: asks for the publisher slot as a stream. Authorized by the room's
   * stream `key`, or by a verified publish token (`userId` and its `perms`).
   */
  | {
      type: 'stream_publish';
      clientId: string;
      serviceId: string | null;
      key: string | null;
      userId: string | null;
      perms: RoomPerms;
    }
  /** The SRS API shows `clientId` actively publishing this room's stream. */
  | { type: 'stream_confirm'; clientId: string; streamId: string | null }
  /** on_unpublish (or the same fact learnt otherwise): releases the slot if `clientId` holds it. */
  | {
      type: 'stream_unpublish';
      clientId: string;
      reason: StreamStopReason;
      /** After a confirmed stream: the publisher is declared gone this long after, in ms. */
      graceMs: number;
      /** After a confirmed stream: the room ends this long after, in ms. */
      endAfterMs: number;
    }
  /** on_play: a viewer seat for an SRS player; `userId`/`perms` from its play token, if any. */
  | {
      type: 'stream_play';
      clientId: string;
      serviceId: string | null;
      userId: string | null;
      perms: RoomPerms;
    }
  /** on_stop: gives the seat back. */
  | { type: 'stream_stop'; clientId: string; reason: StreamViewerLeftReason }
  /**
   * Reconcile: what the SRS API (process `serviceId`) carries for this room's stream.
   * Entries the room recorded less than `listAgeMs` ago are too young to be judged
   * by this list (it may predate them).
   */
  | {
      type: 'stream_sync';
      serviceId: string;
      streamId: string | null;
      /** The active publisher's client id, or null when none publishes. */
      publisher: string | null;
      /** Client ids of the players of this stream. */
      viewers: string[];
      listAgeMs: number;
      graceMs: number;
      endAfterMs: number;
    }
  /**
   * SRS has not answered a complete poll since `since`: the room's stream is unknown
   * (members hear `room_status` with `stream: 'unknown'`) until the next `stream_sync`.
   */
  | { type: 'stream_unknown'; since: number }
  /** The room's side of its stream, for status answers and the stream service's checks. */
  | { type: 'stream_status' }
  /**
   * Applies whatever is due now (a stopped stream's "gone" and "end" deadlines,
   * expired members): the stream service's backstop for the room service's timers.
   */
  | { type: 'stream_expire' };

/**
 * The timing of a room's stream publisher (held in the room's state, answered by
 * `stream_status`). The publisher itself is the room's publisher slot.
 */
export interface StreamTiming {
  /** When the current stream publisher was granted the slot. */
  grantedAt: number | null;
  /** When the SRS API confirmed it active; null until then. */
  confirmedAt: number | null;
  streamId: string | null;
  /** Set when a confirmed stream stopped: the publisher is declared gone at `goneAt`… */
  goneAt: number | null;
  /** …and the room ends at `endAt`, unless a publisher returns first. */
  endAt: number | null;
  gone: boolean;
  /** The last stream publisher that stopped, and why. */
  lastStop: { clientId: string; reason: StreamStopReason; at: number } | null;
  /**
   * Set while SRS is down (`stream_unknown`): since when nothing SRS carries is known.
   * Optional: states recorded before it existed lack it (read it with `?? null`).
   */
  unknownSince?: number | null;
}

/** What the room knows of its stream. */
export interface RoomStreamState extends StreamTiming {
  status: RoomStatus;
  isPrivate: boolean;
  /** The stream publisher holding the slot, if a stream holds it. */
  publisher: { clientId: string; userId: string; serviceId: string | null } | null;
  /** True when a signaling peer holds the slot. */
  peerPublishing: boolean;
  /** SRS players holding a seat. */
  streamViewers: number;
  /** Every viewer seat: signaling viewers and SRS players together. */
  viewers: number;
  maxViewers: number;
}

/** The room as the REST API and other services see it. */
export interface LiveRoom {
  id: string;
  /** The owner: the `sub` of the token that created it. */
  userId: string;
  title: string;
  status: RoomStatus;
  isPrivate: boolean;
  /** Only present for the owner (and for services). */
  streamKey?: string;
  createdAt: number;
  startTime: number | null;
  endTime: number | null;
  viewers: number;
  maxViewers: number;
  peakViewers: number;
}

/** What a member learns when it joins or resumes: the `joined`/`resumed` frame without its room and id. */
export type Membership = Omit<MembershipFields, 'room' | 'id'>;

export type RoomReply<T = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface RoomReplies {
  create: { room: LiveRoom };
  join: Membership;
  resume: Membership;
  leave: { seq: number };
  disconnect: { seq: number };
  set_status: { room: LiveRoom };
  kick: { seq: number };
  raise_hand: { seq: number };
  lower_hand: { seq: number };
  invite: { seq: number };
  demote: { seq: number };
  get: { room: LiveRoom; peers: PeerInfo[] };
  /** `owner` is the replica that answered. */
  state: { seq: number; status: RoomStatus; hash: string; state: unknown; owner: string };
  /** Publish, confirm, unpublish and sync answer with the room's stream side after the command. */
  stream_publish: { userId: string; seq: number; stream: RoomStreamState };
  stream_confirm: { seq: number; stream: RoomStreamState };
  stream_unpublish: { seq: number; stream: RoomStreamState };
  stream_play: { seq: number };
  stream_stop: { seq: number };
  /** `kick`: SRS client ids the room did not admit; the stream service disconnects them. */
  stream_sync: { kick: string[]; seq: number; stream: RoomStreamState };
  stream_status: { seq: number; stream: RoomStreamState };
  stream_unknown: { seq: number; stream: RoomStreamState };
  stream_expire: { seq: number; stream: RoomStreamState };
}

/** Any reply the room service sends. */
export type AnyRoomReply =
  { [K in keyof RoomReplies]: RoomReply<RoomReplies[K]> }[keyof RoomReplies] | RoomReply;

/** What every gateway with members in the room receives, in order of `seq`. */
export type RoomBroadcast =
  | RoomNews
  /** The audience as a number, coalesced; not numbered (each one replaces the last). */
  | RoomStats
  /** A member came back, possibly on another connection: the old one must let go (gateways only). */
  | ({ type: 'peer_resumed'; room: string; peerId: string; seq: number } & ConnRef);
