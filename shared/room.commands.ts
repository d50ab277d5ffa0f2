/**
 * Commands to a room's actor (request/reply on `room.<id>.cmd`), their replies,
 * and the broadcasts every member's gateway receives on `room.<id>.bcast`.
 *
 * The user id in every command is the verified token's `sub`, set by the gateway
 * (or the stream service); a client never supplies it.
 */
import type { ErrorBody } from './errors.js';
import type { RoomPerms } from './grants.js';
import type { LeaveReason, PeerInfo, Role, RoomStatus } from './protocol.js';

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
  | ({ type: 'join'; peerId: string; userId: string; role: Role; perms: RoomPerms } & ConnRef)
  | ({ type: 'leave'; peerId: string; userId: string } & ConnRef)
  /** The member's connection dropped; its place is kept for the resume grace period. */
  | ({ type: 'disconnect'; peerId: string } & ConnRef)
  | ({ type: 'resume'; token: string; userId: string } & ConnRef)
  | { type: 'set_status'; status: RoomStatus; userId: string; perms: RoomPerms }
  | { type: 'kick'; peerId: string; reason: string; userId: string; perms: RoomPerms }
  | { type: 'get'; userId?: string; perms?: RoomPerms }
  /** Operators and tests: the whole state with its hash. Never forwarded from clients. */
  | { type: 'state' };
export type RoomCommandType = RoomCommand['type'];

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

/** What a member learns when it joins or resumes. */
export interface Membership {
  peerId: string;
  role: Role;
  peers: PeerInfo[];
  status: RoomStatus;
  /** Resume token: `<peerId>.<secret>`, valid while the member is kept. */
  resume: string;
  /** The room's sequence after this transition; broadcasts at or below it are already reflected. */
  seq: number;
}

export type RoomReply<T = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface RoomReplies {
  create: { room: LiveRoom };
  join: Membership;
  resume: Membership;
  leave: { seq: number };
  disconnect: { seq: number };
  set_status: { room: LiveRoom };
  kick: { seq: number };
  get: { room: LiveRoom; peers: PeerInfo[] };
  /** `owner` is the replica that answered. */
  state: { seq: number; status: RoomStatus; hash: string; state: unknown; owner: string };
}

/** Any reply the room service sends. */
export type AnyRoomReply =
  { [K in keyof RoomReplies]: RoomReply<RoomReplies[K]> }[keyof RoomReplies] | RoomReply;

/** What every gateway with members in the room receives, in order of `seq`. */
export type RoomBroadcast =
  | { type: 'peer_joined'; room: string; peer: PeerInfo; seq: number }
  | {
      type: 'peer_left';
      room: string;
      peerId: string;
      reason: LeaveReason;
      detail?: string;
      seq: number;
    }
  /** A member came back, possibly on another connection: the old one must let go. */
  | ({ type: 'peer_resumed'; room: string; peerId: string; seq: number } & ConnRef)
  | { type: 'room_status'; room: string; status: RoomStatus; seq: number };
