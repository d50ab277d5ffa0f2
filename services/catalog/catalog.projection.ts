/**
 * The projection of room event batches onto catalogue records, pure but for the
 * store it reads and writes: which batch applies, and what record it makes.
 *
 * What must hold:
 * - Idempotent, keyed by room and sequence: a batch whose events the room's record
 *   already reflects changes nothing (redelivery, a duplicate in the log, a replay).
 * - A batch that finds an earlier one of its room missing is not applied (`gap`).
 * - The archive is written before the room record: the record's `seq` is the mark
 *   that a batch is applied, so a crash between the two writes only repeats the first.
 *
 * The room's record is computed with the room service's own reducer (`applyEvent`),
 * so the catalogue cannot drift from what the room actor holds.
 */
import { decode } from '#shared/runtime/bus.js';
import type { Role } from '#shared/wire/protocol.js';
import type { RoomEvent, RoomEventBatch } from '#shared/room/room.events.js';
import { subjects } from '#shared/wire/subjects.js';
import {
  applyEvent,
  initialState,
  noStream,
  toLiveRoom,
  type Member,
  type RoomState,
} from '#shared/room/room.state.js';
import type { CatalogRoom, CatalogStore } from './catalog.store.js';

/** The room state a record stands for. Members keep only their role; the rest is not projected. */
export function stateOf(r: CatalogRoom): RoomState {
  const members: Record<string, Member> = {};
  for (const [peerId, role] of Object.entries(r.members)) {
    members[peerId] = {
      peerId,
      role,
      userId: '',
      gateway: '',
      conn: '',
      resumeHash: '',
      joinedAt: 0,
      awayUntil: null,
    };
  }
  const { room } = r;
  return {
    roomId: room.id,
    ownerId: room.userId,
    settings: { title: room.title, isPrivate: room.isPrivate, maxViewers: room.maxViewers },
    streamKey: room.streamKey,
    status: room.status,
    createdAt: room.createdAt,
    startTime: room.startTime,
    endTime: room.endTime,
    members,
    viewers: room.viewers,
    peakViewers: room.peakViewers,
    publisher: null,
    stream: noStream,
    streamViewers: Object.fromEntries(
      (r.streamViewers ?? []).map((clientId) => [
        clientId,
        { clientId, userId: null, serviceId: null, at: 0 },
      ]),
    ),
    seq: r.seq,
  };
}

/** The record of a room state. */
export function recordOf(s: RoomState): CatalogRoom {
  const members: Record<string, Role> = {};
  for (const m of Object.values(s.members)) members[m.peerId] = m.role;
  return {
    room: { ...toLiveRoom(s, false), streamKey: s.streamKey },
    seq: s.seq,
    members,
    streamViewers: Object.keys(s.streamViewers),
  };
}

/**
 * What applying a batch did: `applied`; `duplicate` (the record already reflects
 * it); `gap` (an earlier batch of the room is not applied yet: retry later);
 * `invalid` (it can never apply: not a batch, or a room that does not start with
 * `room_created`).
 */
export type BatchOutcome = 'applied' | 'duplicate' | 'gap' | 'invalid';

/** Reads a ROOM_EVENTS message as a batch, or undefined when it is not one. */
export function readBatch(subject: string, data: Uint8Array): RoomEventBatch | undefined {
  let value: unknown;
  try {
    value = decode<unknown>(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const b = value as Partial<RoomEventBatch>;
  const ok =
    b.v === 1 &&
    b.roomId === subjects.roomIdOfEvents(subject) &&
    Number.isSafeInteger(b.seq) &&
    (b.seq ?? 0) >= 1 &&
    Array.isArray(b.events) &&
    b.events.length > 0;
  return ok ? (b as RoomEventBatch) : undefined;
}

/** Applies one batch to the store, idempotently (see `BatchOutcome`). */
export async function projectBatch(
  store: CatalogStore,
  batch: RoomEventBatch,
): Promise<BatchOutcome> {
  const stored = await store.getRoom(batch.roomId);
  const last = stored?.seq ?? 0;
  if (batch.seq + batch.events.length - 1 <= last) return 'duplicate';
  if (batch.seq > last + 1) return 'gap';
  let state = stored === undefined ? undefined : stateOf(stored);
  batch.events.forEach((e: RoomEvent, i) => {
    if (batch.seq + i <= last) return;
    if (state !== undefined) state = applyEvent(state, e);
    else if (e.type === 'room_created' && batch.seq + i === 1) state = initialState(e);
  });
  if (state === undefined) return 'invalid';
  await store.appendEvents(batch.roomId, batch.seq, batch.events);
  return (await store.putRoom(recordOf(state))) ? 'applied' : 'duplicate';
}
