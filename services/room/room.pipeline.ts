/**
 * Group commit: a room's commands are decided one after another against its
 * in-memory state, and what they record goes to the log in batches. While one
 * append is under way, the events of the commands decided meanwhile gather in
 * the next batch, appended as one message once the previous one is confirmed.
 * So a busy room makes one append per round trip, not one per command.
 *
 * What must hold:
 * - A command is answered only once the batch holding its events is confirmed;
 *   a command without events is answered after every command decided before it.
 * - Batches of a room are appended one at a time, in order, each fenced on the
 *   stream sequence the previous one got.
 * - When a batch fails, it and every batch after it fail (their commands were
 *   decided on a state the log does not hold): the room is rebuilt from its log
 *   before any other command is decided.
 */
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { RoomLog } from './room.log.js';
import type { RoomEntry } from './room.recovery.js';
import type { Numbers } from './room.stats.js';

/** Why a command's batch was not confirmed; undefined when it was. */
export type Outcome = RoomcastError | undefined;

/** One append: the events of several commands, in the order they were decided. */
export interface Batch {
  /** The room sequence before its first event. */
  readonly seq: number;
  readonly events: RoomEvent[];
  /** Commands with events in it (the cap counts these). */
  commands: number;
  /** Viewer numbers before and after it. */
  readonly before: Numbers;
  after: Numbers;
  /** Settles (never rejects) once the log confirmed the batch or it failed. */
  readonly done: Promise<Outcome>;
  readonly settle: (outcome: Outcome) => void;
}

interface Lane {
  entry: RoomEntry;
  /** The batch the log is writing. */
  inflight: Batch | undefined;
  /** The batch gathering the next commands' events (only while one is in flight). */
  open: Batch | undefined;
  /** The room being rebuilt after a failed batch: commands wait for it. */
  rebuilt: Promise<void> | undefined;
}

export interface PipelineOptions {
  log: RoomLog;
  /** Most commands in one batch. */
  batchMax: number;
  /** False once the room's partition has moved: its next batch is not appended. */
  owns: (roomId: string) => boolean;
  /** A batch is in the log (called before its commands are answered). */
  confirmed: (roomId: string, entry: RoomEntry, batch: Batch) => void;
  /** Batches failed (or were not appended because the room moved): rebuild the room from its log. */
  failed: (roomId: string, err: unknown, commands: number, moved: boolean) => Promise<void>;
}

export class RoomPipeline {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly o: PipelineOptions) {}

  /** True when a command for the room may be decided now (no rebuild under way, room in the next batch). */
  canTake(roomId: string): boolean {
    const lane = this.lanes.get(roomId);
    return (
      lane === undefined ||
      (lane.rebuilt === undefined && (lane.open?.commands ?? 0) < this.o.batchMax)
    );
  }

  /** Resolves when something changed for a room that could not take a command. */
  async changed(roomId: string): Promise<void> {
    const lane = this.lanes.get(roomId);
    if (lane === undefined) return;
    await (lane.rebuilt ?? lane.inflight?.done);
  }

  /** True while the room has decided events the log has not confirmed: its state is ahead of its log. */
  busy(roomId: string): boolean {
    return this.lanes.has(roomId);
  }

  /**
   * Adds a decided command's events (`before`: the numbers ahead of them, `seq`:
   * the room sequence before them); resolves when their batch is confirmed or failed.
   */
  add(
    roomId: string,
    entry: RoomEntry,
    seq: number,
    events: RoomEvent[],
    before: Numbers,
    after: Numbers,
  ): Promise<Outcome> {
    let lane = this.lanes.get(roomId);
    if (lane === undefined) {
      lane = { entry, inflight: undefined, open: undefined, rebuilt: undefined };
      this.lanes.set(roomId, lane);
    }
    const batch = (lane.open ??= newBatch(seq, before));
    batch.events.push(...events);
    batch.commands++;
    batch.after = after;
    if (lane.inflight === undefined) this.flush(roomId, lane);
    return batch.done;
  }

  /** Resolves when every command of the room decided so far is confirmed (or failed). */
  barrier(roomId: string): Promise<Outcome> {
    const lane = this.lanes.get(roomId);
    return (lane?.open ?? lane?.inflight)?.done ?? Promise.resolve(undefined);
  }

  /** Resolves when the rooms `which` selects (all when absent) have nothing unconfirmed. */
  async settled(which: (roomId: string) => boolean = () => true): Promise<void> {
    for (;;) {
      const waits = [...this.lanes]
        .filter(([id]) => which(id))
        .map(([, l]) => l.rebuilt ?? (l.open ?? l.inflight)?.done ?? Promise.resolve());
      if (waits.length === 0) return;
      await Promise.allSettled(waits);
    }
  }

  /** Sends the open batch to the log. */
  private flush(roomId: string, lane: Lane): void {
    const batch = lane.open;
    if (batch === undefined) return;
    lane.open = undefined;
    lane.inflight = batch;
    if (!this.o.owns(roomId)) {
      const moved = new RoomcastError(
        ErrorCode.UNAVAILABLE,
        'the room is moving to another replica; try again',
      );
      this.fail(roomId, lane, moved, true);
      return;
    }
    const at = { seq: batch.seq, streamSeq: lane.entry.streamSeq };
    this.o.log.append(roomId, batch.events, at).then(
      (streamSeq) => {
        lane.entry.streamSeq = streamSeq;
        lane.entry.batches++;
        lane.inflight = undefined;
        // The next batch goes at once; this one's answers follow.
        if (lane.open !== undefined) this.flush(roomId, lane);
        else this.lanes.delete(roomId);
        this.o.confirmed(roomId, lane.entry, batch);
        batch.settle(undefined);
      },
      (err: unknown) =>
        this.fail(
          roomId,
          lane,
          new RoomcastError(
            ErrorCode.UNAVAILABLE,
            'the room log did not confirm the write; try again',
            { cause: err },
          ),
          false,
        ),
    );
  }

  /** Fails the batch in flight and the one gathering, after the room is rebuilt from its log. */
  private fail(roomId: string, lane: Lane, err: RoomcastError, moved: boolean): void {
    const failed = [lane.inflight, lane.open].filter((b): b is Batch => b !== undefined);
    lane.inflight = undefined;
    lane.open = undefined;
    const commands = failed.reduce((n, b) => n + b.commands, 0);
    lane.rebuilt = this.o
      .failed(roomId, err.cause ?? err, commands, moved)
      .catch(() => undefined)
      .then(() => {
        if (this.lanes.get(roomId) === lane) this.lanes.delete(roomId);
        for (const b of failed) b.settle(err);
      });
  }
}

function newBatch(seq: number, before: Numbers): Batch {
  let settle: (outcome: Outcome) => void = () => {};
  const done = new Promise<Outcome>((r) => (settle = r));
  return { seq, events: [], commands: 0, before, after: before, done, settle };
}
