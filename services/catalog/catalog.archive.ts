/**
 * The event archive of the JetStream catalogue: ROOM_EVENTS itself. The log is
 * kept forever, one subject per room, each room sequence once and in order (appends
 * are fenced on the room's last stream sequence), so it already is an archive keyed
 * by room and sequence. Copying each event again into a KV key of its own (as this
 * store did before) doubled every write and gave each event a subject of its own in
 * every NATS node's memory. MongoDB keeps a copy: there it is what queries read.
 *
 * A read finds the batch holding `fromSeq` by a binary search over stream sequences
 * (one stored-message get per step, O(log n) for a room of any length), then reads
 * forward with an ordered consumer until it has `limit` events.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ArchivedEvent } from '#shared/room/catalog.js';
import type { RoomEventBatch } from '#shared/room/room.events.js';
import { lastLogSeq, nextLogMsg, readLog } from '#shared/runtime/room.log.read.js';
import { subjects } from '#shared/wire/subjects.js';
import { readBatch } from './catalog.projection.js';

/** A batch found in the log, with its stream sequence. */
interface Found {
  streamSeq: number;
  batch: RoomEventBatch;
}

const lastSeqOf = (b: RoomEventBatch): number => b.seq + b.events.length - 1;

export class RoomLogArchive {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  /**
   * The room's events from `fromSeq` on, in order, at most `limit`, stopping at the
   * first missing sequence. A message that is not a batch of this room (never
   * written by the room service) is passed over, as the projector passes it over.
   */
  async readEvents(roomId: string, fromSeq: number, limit: number): Promise<ArchivedEvent[]> {
    const filter = subjects.roomEvents(roomId);
    const start = await this.batchHolding(filter, Math.max(1, fromSeq));
    if (start === undefined) return [];
    const out: ArchivedEvent[] = [];
    // The next room sequence the log must hold; events before `fromSeq` are skipped.
    let expected = start.batch.seq;
    await readLog(this.js, this.jsm, { filter, after: start.streamSeq - 1 }, (m) => {
      const batch = readBatch(m.subject, m.data);
      if (batch === undefined) return true;
      if (batch.seq > expected) return false;
      batch.events.forEach((event, i) => {
        const seq = batch.seq + i;
        if (seq < expected || out.length === limit) return;
        expected = seq + 1;
        if (seq >= fromSeq) out.push({ roomId, seq, event });
      });
      return out.length < limit;
    });
    return out;
  }

  /**
   * The batch whose events include room sequence `seq`, or the room's first batch
   * past it; undefined when the room's log ends before `seq`.
   */
  private async batchHolding(filter: string, seq: number): Promise<Found | undefined> {
    const first = await this.next(filter, 1);
    if (first === undefined) return undefined;
    if (lastSeqOf(first.batch) >= seq) return first;
    const lastStream = await lastLogSeq(this.jsm, filter);
    const last = lastStream === first.streamSeq ? first : await this.next(filter, lastStream);
    if (last === undefined || lastSeqOf(last.batch) < seq) return undefined;
    if (last.batch.seq <= seq) return last;
    // `lo` holds a batch starting at or before `seq`; every batch at `hi` or later
    // starts after it. Room sequences rise with stream sequences, so halving works.
    let lo = first;
    let hi = last.streamSeq;
    while (hi - lo.streamSeq > 1) {
      const mid = lo.streamSeq + Math.floor((hi - lo.streamSeq) / 2);
      const b = await this.next(filter, mid);
      if (b === undefined || b.streamSeq >= hi) hi = mid;
      else if (b.batch.seq <= seq) lo = b;
      else hi = b.streamSeq;
    }
    return lo;
  }

  /** The room's first readable batch at stream sequence `seq` or later. */
  private async next(filter: string, seq: number): Promise<Found | undefined> {
    for (let at = seq; ;) {
      const m = await nextLogMsg(this.jsm, filter, at);
      if (m === null) return undefined;
      const batch = readBatch(m.subject, m.data);
      if (batch !== undefined) return { streamSeq: m.seq, batch };
      at = m.seq + 1;
    }
  }
}
