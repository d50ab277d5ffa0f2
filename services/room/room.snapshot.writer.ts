/**
 * Writing rooms' snapshots: at most one write per room in flight, and never of a
 * room whose state is ahead of its log (decided events not confirmed yet), or a
 * crash (or a failed append) would restore a transition the log never held.
 */
import type { Logger } from '#shared/runtime/log.js';
import type { RoomEntry } from './room.recovery.js';
import type { SnapshotRecord, SnapshotStore } from './room.snapshots.js';

export class SnapshotWriter {
  /** Rooms with a snapshot write under way. */
  private readonly writing = new Set<string>();

  constructor(
    private readonly rooms: ReadonlyMap<string, RoomEntry>,
    private readonly store: SnapshotStore,
    /** True while the room has decided events the log has not confirmed. */
    private readonly busy: (roomId: string) => boolean,
    private readonly logger: Logger,
  ) {}

  /** Writes the room's snapshot; skipped while busy (the next interval or batch takes it). */
  async snapshot(roomId: string): Promise<void> {
    const entry = this.rooms.get(roomId);
    if (entry === undefined || this.writing.has(roomId) || this.busy(roomId)) return;
    this.writing.add(roomId);
    // Taken now, in one go: the state may move on while the write is under way.
    const record: SnapshotRecord = {
      v: 1,
      roomId,
      seq: entry.actor.state.seq,
      streamSeq: entry.streamSeq,
      batches: entry.batches,
      snapshot: entry.actor.persisted(),
    };
    try {
      await this.store.save(record);
      entry.snapSeq = Math.max(entry.snapSeq, record.seq);
    } catch (err) {
      entry.snapFailedSeq = record.seq;
      this.logger.warn('snapshot failed', { roomId, err });
    } finally {
      this.writing.delete(roomId);
    }
  }

  /**
   * True when a room's confirmed events call for a snapshot: `every` events, or half
   * its member count if that is more (a snapshot costs the room's size, so it is
   * written at most once per that many events: a constant cost per event).
   */
  due(entry: RoomEntry, every: number): boolean {
    const s = entry.actor.state;
    const last = Math.max(entry.snapSeq, entry.snapFailedSeq ?? 0);
    return s.seq - last >= Math.max(every, Math.ceil(s.members.size / 2));
  }

  /** Snapshots every room with events not in its snapshot yet. */
  async dirty(): Promise<void> {
    const dirty = [...this.rooms]
      .filter(([, e]) => e.actor.state.seq > e.snapSeq)
      .map(([id]) => id);
    await Promise.allSettled(dirty.map((id) => this.snapshot(id)));
  }
}
