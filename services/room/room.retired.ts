/**
 * Ended rooms leave the replica. Nothing changes an ended room again and its log is
 * its whole story, so holding its actor (and restoring it on every takeover) would
 * make a replica's memory and its failover time grow with every room it ever held.
 * An ended room is let go once a snapshot saying it ended is stored: a takeover then
 * skips it (room.recovery.ts), and a command for it reads that snapshot back. What
 * stays is its id (a few dozen bytes), so that a command for a room this replica
 * never had is answered "not found" without asking NATS (a lookup by subject can
 * cost nats-server a search of the stream), and the last few rooms whole, so that a
 * burst of commands for a room that just ended (members leaving, a publisher's hook)
 * costs no read each.
 */
import type { RoomEntry } from './room.recovery.js';

export class RetiredRooms {
  /** Every ended room of the partitions held here. */
  private readonly ids = new Set<string>();
  /** Insertion order is recency: the first key is the one to forget next. */
  private readonly recent = new Map<string, RoomEntry>();

  constructor(private readonly max: number) {}

  /** True when `roomId` is an ended room of a partition held here. */
  has(roomId: string): boolean {
    return this.ids.has(roomId);
  }

  /** Notes an ended room found by a takeover (not loaded: room.recovery.ts). */
  ended(roomId: string): void {
    this.ids.add(roomId);
  }

  /** Forgets the rooms of partitions no longer held here. */
  forget(which: (roomId: string) => boolean): void {
    for (const id of this.ids) if (which(id)) this.ids.delete(id);
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

  add(roomId: string, entry: RoomEntry): void {
    this.ids.add(roomId);
    this.recent.delete(roomId);
    this.recent.set(roomId, entry);
    if (this.recent.size > this.max) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
