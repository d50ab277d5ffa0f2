/**
 * The room catalogue behind one interface: room records for list queries, the
 * event archive, and the projector's position in ROOM_EVENTS. Two implementations
 * obey one contract (test/catalog.contract.ts): JetStream KV (the default) and
 * MongoDB (when MONGODB_URI is set).
 *
 * What every implementation must hold:
 * - `putRoom` is monotonic in `seq`: a record never replaces one with the same or a
 *   higher sequence, so a redelivered or duplicated batch changes nothing, and two
 *   projectors racing on one room cannot move it backwards.
 * - The event archive is keyed by room and sequence: appending an event again
 *   changes nothing. MongoDB keeps a copy of what the projector appends; the
 *   JetStream store reads ROOM_EVENTS itself (catalog.archive.ts) and appends nothing.
 * - `savePosition` only moves forward.
 */
import type { ArchivedEvent, RoomViewer } from '#shared/room/catalog.js';
import type { Role, RoomStatus } from '#shared/wire/protocol.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';

/** A room as the catalogue keeps it. */
export interface CatalogRoom {
  /** The LiveRoom record, stream key included (the query side hides it from non-owners). */
  room: LiveRoom & { streamKey: string };
  /** The room sequence of the last event this record reflects. */
  seq: number;
  /** Present members, peer id → role: with `users`, what the viewer count needs, nothing more. */
  members: Record<string, Role>;
  /**
   * Present members' user ids, peer id → user id: a user both in the audience and
   * playing through SRS counts once. Absent in older records (each member its own user).
   */
  users?: Record<string, string>;
  /**
   * SRS players (client ids) holding a viewer seat: they count in `viewers` too.
   * Absent in records written before stream viewers existed.
   */
  streamViewers?: string[];
  /** The user ids of SRS players that came with a play token, client id → user id. */
  streamUsers?: Record<string, string>;
}

/** Where a page ends in the list order: the last room it returned. */
export interface ListPosition {
  createdAt: number;
  id: string;
}

export interface RoomListQuery {
  viewer: RoomViewer;
  status?: RoomStatus;
  owner?: string;
  limit: number;
  /** Only rooms after this one in the list order. */
  after?: ListPosition;
}

export interface RoomListResult {
  rooms: (LiveRoom & { streamKey: string })[];
  /** True when rooms beyond this page match the query. */
  more: boolean;
}

/** The kinds of store; part of the projector's durable consumer name. */
export type CatalogStoreKind = 'jetstream' | 'mongodb';

export interface CatalogStore {
  readonly kind: CatalogStoreKind;
  /** The record of one room, or undefined. */
  getRoom(roomId: string): Promise<CatalogRoom | undefined>;
  /** Stores `record` unless one with the same or a higher `seq` is there; true when written. */
  putRoom(record: CatalogRoom): Promise<boolean>;
  /** One page of rooms the viewer may see, newest first (see `compareRooms`). */
  listRooms(query: RoomListQuery): Promise<RoomListResult>;
  /**
   * Archives `events`, the first with sequence `firstSeq`, as the projector applies
   * them; events already there are kept as they are. A store whose archive is the
   * log itself has nothing to do.
   */
  appendEvents(roomId: string, firstSeq: number, events: readonly RoomEvent[]): Promise<void>;
  /** Archived events of a room from `fromSeq` on, in order, at most `limit`, stopping at the first missing one. */
  readEvents(roomId: string, fromSeq: number, limit: number): Promise<ArchivedEvent[]>;
  /** The ROOM_EVENTS stream sequence up to which everything is projected (0: nothing). */
  position(): Promise<number>;
  /** Moves the position forward to `streamSeq` (never backward). */
  savePosition(streamSeq: number): Promise<void>;
  /** Removes every record, the position and any archived copy of the log (before a rebuild). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The list order: newest first, then by id, both descending. Neither key ever
 * changes for a room, so a cursor (the last room of a page) stays a valid place in
 * the list however the rooms change between pages.
 */
export function compareRooms(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}

/** The position of a room in the list order. */
export function positionOf(room: Pick<LiveRoom, 'createdAt' | 'id'>): ListPosition {
  return { createdAt: room.createdAt, id: room.id };
}
