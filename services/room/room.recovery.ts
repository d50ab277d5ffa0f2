/**
 * Bringing rooms back: from their latest snapshot plus the tail of their log.
 *
 * Which rooms are open is told by the log's index of them (room.log.ts), so a
 * takeover's cost follows the rooms open, not every room ever held. Which snapshots
 * are current is told by the log's leader: a snapshot records the stream sequence of
 * its room's last batch; the leader says where the room's log ends now. Rooms whose
 * log went on (or that have no snapshot) read their tail — one by one when they are
 * few, with one scan of the stream when they are many.
 */
import type { RoomEventBatch } from '#shared/room/room.events.js';
import { pool } from '#shared/runtime/task.pool.js';
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
 * Loads every open room for which `wanted(roomId)` holds. A room found ended (its
 * index entry outlived it, or its tail says so) is returned: the caller retires it,
 * which closes its entry.
 */
export async function loadRooms(
  log: RoomLog,
  snapshots: SnapshotStore,
  wanted: (roomId: string) => boolean,
  logger?: Logger,
): Promise<Map<string, RoomEntry>> {
  const open = await openRooms(log, snapshots);
  const ids = open.filter(wanted);
  // A few partitions of many (a takeover): their rooms' snapshots one by one, so its cost
  // follows its own rooms; else every live room's in one pass (a start).
  const oneByOne = ids.length * ONE_BY_ONE_SHARE < open.length;
  const [snaps, lasts] = await Promise.all([
    oneByOne ? eachSnapshot(snapshots, ids) : snapshots.loadAll(),
    each(ids, (id) => log.lastOf(id)),
  ]);
  const rooms = new Map<string, RoomEntry>();
  const stale = new Map<string, number>(); // room → stream sequence its tail starts after
  const unsnapped: string[] = [];
  ids.forEach((roomId, i) => {
    const last = lasts[i] ?? 0;
    // In the index, not in the log: a create that failed after its entry (or has not landed).
    if (last === 0) return;
    const found = snaps.get(roomId);
    const snap = found !== undefined && RoomActor.restorable(found.snapshot) ? found : undefined;
    if (snap === undefined) unsnapped.push(roomId);
    else if (snap.streamSeq > last) {
      // Ahead of the log's leader: not a state the log holds. The log decides.
      logger?.warn('snapshot ahead of the room log; reading the log', { roomId, last });
      stale.set(roomId, 0);
    } else {
      rooms.set(roomId, fromSnapshot(snap));
      if (snap.streamSeq < last) stale.set(roomId, snap.streamSeq);
    }
  });
  // In the log with no live snapshot: an ended room whose index entry outlived it (its
  // last snapshot says so), or a room whose first snapshot failed (its whole log is read).
  // Read one by one, a room's last snapshot was already asked for (`load` reads both).
  const lastSnaps = oneByOne ? [] : await each(unsnapped, (id) => snapshots.load(id));
  unsnapped.forEach((roomId, i) => {
    const s = lastSnaps[i];
    if (s !== undefined && RoomActor.restorable(s.snapshot) && RoomActor.endedIn(s.snapshot))
      rooms.set(roomId, fromSnapshot(s));
    else stale.set(roomId, 0);
  });
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
 * The log's index of open rooms. A log written before the index has it built here,
 * once, from what every takeover read before: the log's room subjects less the rooms
 * whose ended snapshot is stored (rooms entered twice, or ended meanwhile, cost a
 * read each and are closed by the load that finds them ended).
 */
async function openRooms(log: RoomLog, snapshots: SnapshotStore): Promise<string[]> {
  const listed = await log.openRooms();
  if (listed !== undefined) return listed;
  const [counts, ended] = await Promise.all([log.batchCounts(), snapshots.endedRooms()]);
  const open = [...counts.keys()].filter((id) => !ended.has(id));
  await log.indexRooms(open);
  return open;
}

/** The rooms' snapshots (live, or the last of an ended room), one read each. */
async function eachSnapshot(
  store: SnapshotStore,
  ids: readonly string[],
): Promise<Map<string, SnapshotRecord>> {
  const out = new Map<string, SnapshotRecord>();
  await pool(ids, READS_IN_FLIGHT, async (id) => {
    const r = await store.load(id);
    if (r !== undefined) out.set(id, r);
  });
  return out;
}

/** Below 1 in this many of the rooms open, a load reads its rooms' snapshots one by one. */
const ONE_BY_ONE_SHARE = 4;

/** Reads done at once by a load: enough to fill the round trips, few enough for a busy server. */
const READS_IN_FLIGHT = 64;

/** `read` of every item, `READS_IN_FLIGHT` at a time, in the items' order. */
async function each<T, R>(items: readonly T[], read: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  await pool(items, READS_IN_FLIGHT, async (item, i) => {
    out[i] = await read(item);
  });
  return out;
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
