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
  membersOf,
  noStream,
  streamViewersOf,
  toLiveRoom,
  type RoomState,
} from '#shared/room/room.state.js';
import type { CatalogRoom, CatalogStore } from './catalog.store.js';

/**
 * The room state a record stands for: its members and SRS players put back with the
 * room's own reducer (so the viewer count follows the same rule), then the figures
 * the record holds. Members keep only their role and user; the rest is not projected.
 */
export function stateOf(r: CatalogRoom): RoomState {
  const { room } = r;
  let s = initialState({
    type: 'room_created',
    v: 1,
    at: room.createdAt,
    roomId: room.id,
    ownerId: room.userId,
    settings: { title: room.title, isPrivate: room.isPrivate, maxViewers: room.maxViewers },
    streamKey: room.streamKey,
  });
  for (const [peerId, role] of Object.entries(r.members)) {
    const userId = r.users?.[peerId] ?? peerId;
    s = applyEvent(s, {
      type: 'member_joined',
      v: 1,
      at: 0,
      peerId,
      userId,
      role,
      gateway: '',
      conn: '',
      resumeHash: '',
    });
  }
  for (const clientId of r.streamViewers ?? []) {
    const userId = r.streamUsers?.[clientId] ?? null;
    s = applyEvent(s, {
      type: 'stream_viewer_joined',
      v: 1,
      at: 0,
      clientId,
      userId,
      serviceId: null,
    });
  }
  return {
    ...s,
    status: room.status,
    startTime: room.startTime,
    endTime: room.endTime,
    peakViewers: room.peakViewers,
    publisher: null,
    stream: noStream,
    seq: r.seq,
  };
}

/** The record of a room state. */
export function recordOf(s: RoomState): CatalogRoom {
  const members: Record<string, Role> = {};
  const users: Record<string, string> = {};
  for (const m of membersOf(s)) {
    members[m.peerId] = m.role;
    users[m.peerId] = m.userId;
  }
  const streamUsers: Record<string, string> = {};
  const players = streamViewersOf(s);
  for (const v of players) if (v.userId !== null) streamUsers[v.clientId] = v.userId;
  return {
    room: { ...toLiveRoom(s, false), streamKey: s.streamKey },
    seq: s.seq,
    members,
    users,
    streamViewers: players.map((v) => v.clientId),
    streamUsers,
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
