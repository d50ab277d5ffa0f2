/**
 * Bringing rooms back: from their latest snapshot plus the tail of their log.
 *
 * Which snapshots are current is told by counting: a snapshot records how many
 * batches its room had in the log; the log says how many it has now. Rooms whose
 * counts differ (or that have no snapshot) read their tail — one by one when they
 * are few, with one scan of the stream when they are many.
 */
import type { RoomEventBatch } from '#shared/room/room.events.js';
import type { Logger } from '#shared/runtime/log.js';
import { RoomActor } from './room.actor.js';
import type { RoomLog, StoredBatch } from './room.log.js';
import type { SnapshotRecord, SnapshotStore } from './room.snapshots.js';

/** A room held by the service, with where its log stands. */
export interface RoomEntry {
  actor: RoomActor;
  /** Stream sequence of the room's last batch. */
  streamSeq: number;
  /** Batches of the room in the log. */
  batches: number;
  /** Room sequence of the last snapshot written (or loaded). */
  snapSeq: number;
  /**
   * Room sequence of the last snapshot write that failed: the next try waits for as
   * many events again, so a write that keeps failing (NATS away) is not paid for on
   * every batch.
   */
  snapFailedSeq?: number;
}

/** Above this many rooms with a tail to read, one scan of the stream beats a reader per room. */
const PER_ROOM_READS_MAX = 64;

/** Applies one stored batch to `entry` (creating the room from its first batch); returns the entry. */
export function applyBatch(
  entry: RoomEntry | undefined,
  stored: StoredBatch,
  log?: Logger,
): RoomEntry | undefined {
  const { batch } = stored;
  if (entry === undefined) {
    const [first, ...rest] = batch.events;
    if (batch.seq !== 1 || first?.type !== 'room_created') {
      log?.error('room log does not start with room_created', {
        roomId: batch.roomId,
        seq: batch.seq,
      });
      return undefined;
    }
    const actor = RoomActor.create(first);
    for (const e of rest) actor.replay(e);
    return { actor, streamSeq: stored.streamSeq, batches: 1, snapSeq: 0 };
  }
  const seq = entry.actor.state.seq;
  // Already applied (the snapshot or an earlier batch covers it).
  if (batch.seq <= seq) return entry;
  if (batch.seq !== seq + 1) {
    log?.error('gap in room log', { roomId: batch.roomId, expected: seq + 1, got: batch.seq });
  }
  for (const e of batch.events) entry.actor.replay(e);
  entry.streamSeq = stored.streamSeq;
  entry.batches++;
  return entry;
}

/** A room as its stored snapshot holds it. */
export function fromSnapshot(r: SnapshotRecord): RoomEntry {
  return {
    actor: RoomActor.restore(r.snapshot),
    streamSeq: r.streamSeq,
    batches: r.batches,
    snapSeq: r.seq,
  };
}

/**
 * Loads every room for which `wanted(roomId)` holds, but for those whose current
 * snapshot says they ended. A room found ended only by reading its tail is returned
 * (the caller retires it, writing the snapshot the next load skips it by).
 */
export async function loadRooms(
  log: RoomLog,
  snapshots: SnapshotStore,
  wanted: (roomId: string) => boolean,
  logger?: Logger,
): Promise<Map<string, RoomEntry>> {
  const [snaps, counts, endedRooms] = await Promise.all([
    snapshots.loadAll(),
    log.batchCounts(),
    snapshots.endedRooms(),
  ]);
  const rooms = new Map<string, RoomEntry>();
  const stale = new Map<string, number>(); // room → stream sequence its tail starts after
  for (const [roomId, count] of counts) {
    if (!wanted(roomId)) continue;
    // Its last snapshot is kept with the ended rooms: nothing more can happen to it.
    if (endedRooms.has(roomId)) continue;
    const found = snaps.get(roomId);
    const snap = found !== undefined && RoomActor.restorable(found.snapshot) ? found : undefined;
    // Ended, and its snapshot (stored before ended rooms were kept apart) says so.
    if (snap?.batches === count && RoomActor.endedIn(snap.snapshot)) continue;
    if (snap !== undefined) rooms.set(roomId, fromSnapshot(snap));
    if (snap?.batches !== count) stale.set(roomId, snap?.streamSeq ?? 0);
  }
  if (stale.size === 0) return rooms;

  const apply = (b: StoredBatch) => {
    const roomId = b.batch.roomId;
    if (!stale.has(roomId)) return;
    const entry = applyBatch(rooms.get(roomId), b, logger);
    if (entry !== undefined) rooms.set(roomId, entry);
  };
  if (stale.size <= PER_ROOM_READS_MAX) {
    await Promise.all(
      [...stale].map(async ([roomId, after]) => {
        for (const b of await log.readRoom(roomId, after)) apply(b);
      }),
    );
  } else {
    await log.scan(Math.min(...stale.values()), apply);
  }
  return rooms;
}

/**
 * One room, from its snapshot and the tail of its log after it; undefined when its
 * log has nothing. A snapshot that says the room ended is its last word (an ended
 * room takes no command), so it is one read; never a read of the log from its start:
 * a filtered read from sequence 1 makes nats-server search the whole stream.
 */
export async function loadRoom(
  log: RoomLog,
  snapshots: SnapshotStore,
  roomId: string,
): Promise<RoomEntry | undefined> {
  const snap = await snapshots.load(roomId);
  const usable = snap !== undefined && RoomActor.restorable(snap.snapshot) ? snap : undefined;
  if (usable !== undefined && RoomActor.endedIn(usable.snapshot)) return fromSnapshot(usable);
  const last = await log.lastOf(roomId);
  if (last === 0) return undefined;
  let entry = usable === undefined ? undefined : fromSnapshot(usable);
  if (entry !== undefined && entry.streamSeq >= last) return entry;
  for (const b of await log.readRoom(roomId, entry?.streamSeq ?? 0)) entry = applyBatch(entry, b);
  return entry;
}

/** A room rebuilt from its whole log (operators' rebuild check). */
export async function rebuildRoom(
  log: RoomLog,
  roomId: string,
): Promise<{ entry?: RoomEntry; batches: RoomEventBatch[] }> {
  let entry: RoomEntry | undefined;
  const batches: RoomEventBatch[] = [];
  for (const b of await log.readRoom(roomId, 0)) {
    batches.push(b.batch);
    entry = applyBatch(entry, b);
  }
  return { entry, batches };
}
