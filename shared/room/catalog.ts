/**
 * Queries to the room catalogue: request/reply on `catalog.query`, answered by the
 * catalogue service (services/catalog). The catalogue is a projection of
 * ROOM_EVENTS, so it trails the room actors by the projector's lag; one room's
 * truth is still its actor (`room.<id>.cmd`, `get`).
 */
import type { ErrorBody } from '../wire/errors.js';
import type { Grants } from '../auth/grants.js';
import type { RoomStatus } from '../wire/protocol.js';
import type { LiveRoom } from './room.commands.js';
import type { RoomEvent } from './room.events.js';

/** Who asks for a list: private rooms are listed only to those allowed in them. */
export interface RoomViewer {
  userId: string;
  /** Room ids the caller's token names in any grant (view, publish or admin); `*` for every room. */
  granted: string[];
}

export type CatalogQuery =
  /**
   * One page of rooms, newest first (`createdAt` then `id`, both descending: a
   * stable order, since neither ever changes). `cursor` is the `nextCursor` of the
   * previous page; rooms created after the first page was read are not in later
   * pages, and no room appears twice.
   */
  | {
      type: 'list_rooms';
      viewer: RoomViewer;
      status?: RoomStatus;
      /** Only rooms of this owner (user id). */
      owner?: string;
      limit: number;
      cursor?: string;
    }
  /** Archived events of one room, from `fromSeq`, in order, at most `limit`. */
  | { type: 'room_events'; roomId: string; fromSeq: number; limit: number };
export type CatalogQueryType = CatalogQuery['type'];

/** One event of the archive: the room sequence it has in the room's log. */
export interface ArchivedEvent {
  roomId: string;
  seq: number;
  event: RoomEvent;
}

export interface CatalogReplies {
  /** `streamKey` only on the viewer's own rooms; `nextCursor` null on the last page. */
  list_rooms: { rooms: LiveRoom[]; nextCursor: string | null };
  room_events: { events: ArchivedEvent[] };
}

export type CatalogReply<T extends CatalogQueryType> =
  ({ ok: true } & CatalogReplies[T]) | { ok: false; error: ErrorBody };

/** The viewer a verified user is, from the grants of their token. */
export function viewerOf(userId: string, grants: Grants): RoomViewer {
  const granted = new Set([...grants.view, ...grants.publish, ...grants.admin]);
  return { userId, granted: granted.has('*') ? ['*'] : [...granted] };
}
