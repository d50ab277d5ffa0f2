/**
 * The room log: where a room's recorded events go before a command is
 * acknowledged, and where a room is read back from.
 *
 * What must hold:
 * - `append` resolves only when the batch is durable.
 * - An append is fenced on the room's last stream sequence: if anyone else wrote to
 *   the room since we last read it (a replica that took the room over while we were
 *   paused), the append is refused with `LogConflictError`, never interleaved.
 * - A retried append (same writer, same room sequence) is stored once: JetStream
 *   drops it by its `Nats-Msg-Id` and answers with the original's position.
 * - Every room with a batch in the log is in the index of open rooms (`openRooms`)
 *   until it is closed, which is done once its ended snapshot is stored: a room's
 *   first append is preceded by its index entry, so an append that lands however late
 *   (a writer paused, a publish held while reconnecting) finds its entry there. An
 *   entry whose room has no batch is left alone for the same reason: it costs a
 *   takeover one read, never a room.
 */
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { decode, encode } from '#shared/runtime/bus.js';
import { traceHeaders } from '#shared/runtime/bus.trace.js';
import { SpanKind, withSpan } from '#shared/runtime/telemetry.js';
import { batchMsgId, type RoomEvent, type RoomEventBatch } from '#shared/room/room.events.js';
import {
  ensureStream,
  isNoMessage,
  isWrongLastSequence,
  roomEventsConfig,
  roomLiveConfig,
  streamNames,
} from '#shared/runtime/streams.js';
import { lastLogSeq, readLog } from '#shared/runtime/room.log.read.js';
import { subjects } from '#shared/wire/subjects.js';
import { JetStreamPublisher } from '#shared/runtime/jetstream.publisher.js';
import { pool } from '#shared/runtime/task.pool.js';

/** Where a room's log stands: its room sequence and the stream sequence of its last batch. */
export interface LogPosition {
  /** Events applied (the room sequence of the last event). */
  seq: number;
  /** Stream sequence of the room's last batch; 0 before the first. */
  streamSeq: number;
}

/** Someone else appended to the room since we read it: our view is stale. */
export class LogConflictError extends Error {
  override readonly name = 'LogConflictError';
}

/** The append may or may not have been stored (timeout, lost connection). */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError';
}

/** A batch as read back, with its stream sequence. */
export interface StoredBatch {
  streamSeq: number;
  batch: RoomEventBatch;
  /** The `Nats-Msg-Id` it was appended with (names the writer). */
  msgId?: string;
}

export interface RoomLog {
  /** Appends the events of one command after `at`; resolves with the new stream sequence. */
  append(roomId: string, events: readonly RoomEvent[], at: LogPosition): Promise<number>;
  /** The room's batches after stream sequence `after`, in order. */
  readRoom(roomId: string, after: number): Promise<StoredBatch[]>;
  /** Every batch of every room after stream sequence `after`, in order. */
  scan(after: number, onBatch: (b: StoredBatch) => void): Promise<void>;
  /** How many batches each room has in the log (to tell which snapshots are current). */
  batchCounts(): Promise<Map<string, number>>;
  /** The stream sequence of the room's last batch (0: the room has none). */
  lastOf(roomId: string): Promise<number>;
  /**
   * The index: every room that may be open (each room with a batch in the log not
   * closed since, and ids whose first append was begun). undefined: never built (a log
   * written before the index: see `indexRooms`).
   */
  openRooms(): Promise<string[] | undefined>;
  /** Enters rooms in the index, then records it built (for a log written before it). */
  indexRooms(roomIds: readonly string[]): Promise<void>;
  /** Takes a room out of the index: only once a snapshot saying it ended is stored. */
  close(roomId: string): Promise<void>;
}

/** Keeps logs in memory: for unit tests and a service that needs no durability. */
export class MemoryRoomLog implements RoomLog {
  private readonly batches: StoredBatch[] = [];
  private readonly last = new Map<string, number>();
  /** The index of open rooms. */
  readonly open = new Set<string>();

  append(roomId: string, events: readonly RoomEvent[], at: LogPosition): Promise<number> {
    if (at.streamSeq === 0) this.open.add(roomId);
    if ((this.last.get(roomId) ?? 0) !== at.streamSeq) {
      return Promise.reject(new LogConflictError(`room ${roomId}: last stream sequence moved`));
    }
    const streamSeq = this.batches.length + 1;
    this.batches.push({ streamSeq, batch: { v: 1, roomId, seq: at.seq + 1, events: [...events] } });
    this.last.set(roomId, streamSeq);
    return Promise.resolve(streamSeq);
  }

  lastOf(roomId: string): Promise<number> {
    return Promise.resolve(this.last.get(roomId) ?? 0);
  }

  readRoom(roomId: string, after: number): Promise<StoredBatch[]> {
    return Promise.resolve(
      this.batches.filter((b) => b.streamSeq > after && b.batch.roomId === roomId),
    );
  }

  scan(after: number, onBatch: (b: StoredBatch) => void): Promise<void> {
    for (const b of this.batches) if (b.streamSeq > after) onBatch(b);
    return Promise.resolve();
  }

  batchCounts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const b of this.batches) counts.set(b.batch.roomId, (counts.get(b.batch.roomId) ?? 0) + 1);
    return Promise.resolve(counts);
  }

  openRooms(): Promise<string[] | undefined> {
    return Promise.resolve([...this.open]);
  }

  indexRooms(roomIds: readonly string[]): Promise<void> {
    for (const id of roomIds) this.open.add(id);
    return Promise.resolve();
  }

  close(roomId: string): Promise<void> {
    this.open.delete(roomId);
    return Promise.resolve();
  }
}

/** What an index entry holds: its presence is the whole of it. */
const ENTRY = new TextEncoder().encode('1');
/** Index writes in flight at once while an index is built. */
const INDEX_WRITES = 64;

/** The log in JetStream ROOM_EVENTS, one subject per room. */
export class JetStreamRoomLog implements RoomLog {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** Names this writer in message ids, so two writers of one sequence never dedupe into each other. */
    private readonly writer: string,
    /** Appends: one inbox for every acknowledgement (see jetstream.publisher.ts). */
    private readonly appends: JetStreamPublisher,
  ) {}

  /**
   * Opens the log, creating ROOM_EVENTS if it does not exist yet; `readOnly` (operators'
   * tools, whose NATS user may only read) leaves the stream as it is.
   */
  static async open(
    nc: NatsConnection,
    o: {
      writer: string;
      replicas: number;
      timeoutMs: number;
      readOnly?: boolean;
    },
  ): Promise<JetStreamRoomLog> {
    const jsm = await jetstreamManager(nc);
    if (o.readOnly !== true) {
      await ensureStream(jsm, roomEventsConfig(o.replicas));
      await ensureStream(jsm, roomLiveConfig(o.replicas));
    }
    return new JetStreamRoomLog(
      jetstream(nc, { timeout: o.timeoutMs }),
      jsm,
      o.writer,
      new JetStreamPublisher(nc, o.timeoutMs),
    );
  }

  async append(roomId: string, events: readonly RoomEvent[], at: LogPosition): Promise<number> {
    const seq = at.seq + 1;
    const batch: RoomEventBatch = { v: 1, roomId, seq, events: [...events] };
    try {
      // A room's first batch: its index entry first (see the top of this file).
      if (at.streamSeq === 0) await this.enter(subjects.roomLive(roomId));
      const data = encode(batch);
      const ack = await withSpan(
        'append ROOM_EVENTS',
        { 'roomcast.room': roomId, 'roomcast.seq': seq },
        () => {
          // The trace continues into the log: whoever consumes the batch can link to it.
          const headers = traceHeaders();
          return this.appends.publish(subjects.roomEvents(roomId), data, {
            msgId: batchMsgId(roomId, seq, this.writer),
            expect: { lastSubjectSequence: at.streamSeq, stream: streamNames.roomEvents },
            ...(headers === undefined ? {} : { headers }),
          });
        },
        { kind: SpanKind.PRODUCER },
      );
      // JetStream checks the message id before the fence: a "duplicate" is our own
      // retry only if the stored batch is this one.
      if (ack.duplicate) {
        const stored = await this.jsm.streams.getMessage(streamNames.roomEvents, { seq: ack.seq });
        if (stored === null || Buffer.compare(Buffer.from(stored.data), Buffer.from(data)) !== 0) {
          throw new LogConflictError(`room ${roomId}: sequence ${seq} already holds another batch`);
        }
      }
      return ack.seq;
    } catch (err) {
      if (err instanceof LogConflictError) throw err;
      if (isWrongLastSequence(err)) {
        throw new LogConflictError(
          `room ${roomId}: written by someone else since sequence ${at.streamSeq}`,
          { cause: err },
        );
      }
      throw new LogUnavailableError(`room ${roomId}: append not confirmed`, { cause: err });
    }
  }

  async readRoom(roomId: string, after: number): Promise<StoredBatch[]> {
    const out: StoredBatch[] = [];
    await this.read({ filter: subjects.roomEvents(roomId), after }, (b) => out.push(b));
    return out;
  }

  async scan(after: number, onBatch: (b: StoredBatch) => void): Promise<void> {
    await this.read({ filter: subjects.roomEventsAll, after }, onBatch);
  }

  async batchCounts(): Promise<Map<string, number>> {
    const info = await this.jsm.streams.info(streamNames.roomEvents, {
      subjects_filter: subjects.roomEventsAll,
    });
    const counts = new Map<string, number>();
    for (const [subject, n] of Object.entries(info.state.subjects ?? {}))
      counts.set(subjects.roomIdOfEvents(subject), n);
    return counts;
  }

  /** Reads with an ordered consumer up to the leader's last batch (shared/runtime/room.log.read.ts). */
  private read(
    o: { filter: string; after: number },
    onBatch: (b: StoredBatch) => void,
  ): Promise<void> {
    return readLog(this.js, this.jsm, o, (m) => {
      onBatch({
        streamSeq: m.seq,
        batch: decode<RoomEventBatch>(m.data),
        msgId: m.headers?.get('Nats-Msg-Id'),
      });
      return true;
    });
  }

  lastOf(roomId: string): Promise<number> {
    return lastLogSeq(this.jsm, subjects.roomEvents(roomId));
  }

  /** The index's subjects, from the stream leader in one stream-info request (as `batchCounts`). */
  async openRooms(): Promise<string[] | undefined> {
    const info = await this.jsm.streams.info(streamNames.roomLive, {
      subjects_filter: subjects.liveAll,
    });
    const listed = Object.keys(info.state.subjects ?? {});
    if (!listed.includes(subjects.liveIndexBuilt)) return undefined;
    return listed.filter((s) => s !== subjects.liveIndexBuilt).map(subjects.roomIdOfLive);
  }

  async indexRooms(roomIds: readonly string[]): Promise<void> {
    await pool(roomIds, INDEX_WRITES, (id) => this.enter(subjects.roomLive(id)));
    await this.enter(subjects.liveIndexBuilt);
  }

  /**
   * Removes the room's entry by its sequence, never by a purge filtered to its subject
   * (see `roomLiveConfig`). An entry written again meanwhile (a create of the ended
   * room's id) is a newer message and stays: the next takeover finds the room ended.
   */
  async close(roomId: string): Promise<void> {
    const entry = await this.jsm.streams.getMessage(streamNames.roomLive, {
      last_by_subj: subjects.roomLive(roomId),
    });
    if (entry === null) return;
    await this.jsm.streams
      .deleteMessage(streamNames.roomLive, entry.seq, false)
      .catch((err: unknown) => {
        if (!isNoMessage(err)) throw err;
      });
  }

  /** Writes an index entry, acknowledged by JetStream. */
  private async enter(subject: string): Promise<void> {
    await this.appends.publish(subject, ENTRY);
  }
}
