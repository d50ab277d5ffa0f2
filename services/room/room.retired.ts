/**
 * Ended rooms leave the replica. Nothing changes an ended room again and its log is
 * its whole story, so holding its actor (and restoring it on every takeover) would
 * make a replica's memory and its failover time grow with every room it ever held.
 * An ended room is let go once a snapshot saying it ended is stored: a takeover then
 * skips it by name (room.recovery.ts), and a command for it reads that snapshot back.
 * The last few are kept whole, so that a burst of commands for a room that just
 * ended (members leaving, a publisher's hook) costs no read each.
 */
import { RoomActor } from './room.actor.js';
import type { RoomLog } from './room.log.js';
import { fromSnapshot, loadRoom, type RoomEntry } from './room.recovery.js';
import type { SnapshotStore } from './room.snapshots.js';

export class RetiredRooms {
  /** Insertion order is recency: the first key is the one to forget next. */
  private readonly recent = new Map<string, RoomEntry>();

  constructor(private readonly max: number) {}

  /** Forgets the rooms of partitions no longer held here. */
  forget(which: (roomId: string) => boolean): void {
    for (const id of this.recent.keys()) if (which(id)) this.recent.delete(id);
  }

  get size(): number {
    return this.recent.size;
  }

  /** The entry without counting as a use. */
  peek(roomId: string): RoomEntry | undefined {
    return this.recent.get(roomId);
  }

  get(roomId: string): RoomEntry | undefined {
    const entry = this.recent.get(roomId);
    if (entry !== undefined) {
      this.recent.delete(roomId);
      this.recent.set(roomId, entry);
    }
    return entry;
  }

  /**
   * A room of a loaded partition that is not held, for a command naming it: an ended
   * one (kept at hand, or read back from its snapshot), or none (undefined). Every
   * other room with a batch in the log is held, or not known for sure (room.host.ts),
   * once its partition is loaded, so the log is not asked: only a stray live snapshot
   * (of a room not held) sends it there. Throws when NATS cannot be read.
   */
  async find(
    roomId: string,
    log: RoomLog,
    snapshots: SnapshotStore,
  ): Promise<RoomEntry | undefined> {
    const kept = this.get(roomId);
    if (kept !== undefined) return kept;
    const snap = await snapshots.load(roomId);
    if (snap === undefined) return undefined;
    const entry =
      RoomActor.restorable(snap.snapshot) && RoomActor.endedIn(snap.snapshot)
        ? fromSnapshot(snap)
        : await loadRoom(log, snapshots, roomId);
    if (entry?.actor.ended !== true) return undefined;
    this.add(roomId, entry);
    return entry;
  }

  add(roomId: string, entry: RoomEntry): void {
    this.recent.delete(roomId);
    this.recent.set(roomId, entry);
    if (this.recent.size > this.max) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
