/**
 * Ended rooms leave the replica. Nothing changes an ended room again and its log is
 * its whole story, so holding its actor (and restoring it on every takeover) would
 * make a replica's memory and its failover time grow with every room it ever held.
 * An ended room is let go once a snapshot saying it ended is stored: a takeover then
 * skips it (room.recovery.ts), and a command for it finds it again in its log. The
 * last few stay at hand, so a burst of commands for a room that just ended (members
 * leaving, a publisher's hook) costs no NATS read each.
 */
import type { RoomEntry } from './room.recovery.js';

export class RetiredRooms {
  /** Insertion order is recency: the first key is the one to forget next. */
  private readonly recent = new Map<string, RoomEntry>();

  constructor(private readonly max: number) {}

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
    this.recent.delete(roomId);
    this.recent.set(roomId, entry);
    if (this.recent.size > this.max) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}
