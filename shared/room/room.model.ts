/**
 * The shape of a room's state: what the reducer (room.state.ts) evolves, snapshots
 * persist and operators read. Members and SRS players live in books (room.book.ts)
 * so that one event costs the same in a room of 20 or of 20,000.
 */
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { Book } from './room.book.js';
import type { StreamTiming } from './room.commands.js';
import type { JoiningMember, PublisherRef, RoomSettings } from './room.events.js';

export interface Member extends JoiningMember {
  joinedAt: number;
  /** Set while the member's connection is down: the instant its place is given up. */
  awayUntil: number | null;
  /** An audience member that asked to come on stage. */
  hand?: true;
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
  /** Every member, stage and audience, by peer id (read with `memberOf`, `membersOf`). */
  members: Book<Member>;
  /** Peer ids on stage (the publisher and co-hosts), in the order they came on stage. */
  stage: readonly string[];
  /** Members of the audience (role `viewer`): a count, never a list. */
  audience: number;
  /** Audience memberships per user id. */
  audienceUsers: Book<number>;
  /** SRS players per user id (those that came with a play token). */
  streamUsers: Book<number>;
  /** Users with an audience membership or an SRS player: each counted once. */
  knownUsers: number;
  /** SRS players without a play token: each one a viewer. */
  anonymousPlayers: number;
  /**
   * Viewer seats taken: `knownUsers + anonymousPlayers`. Signaling viewers and SRS
   * players share `maxViewers`; kept with them so capacity checks are O(1).
   */
  viewers: number;
  peakViewers: number;
  publisher: PublisherRef | null;
  stream: StreamState;
  /** SRS players by client id. */
  streamViewers: Book<StreamViewer>;
  /** Members whose connection is down, by peer id: what the expiry looks at. */
  away: Book<{ peerId: string; awayUntil: number }>;
  /** How many events this state has applied: the room's sequence. */
  seq: number;
}
