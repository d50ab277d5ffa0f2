/**
 * Commands to one room from one process: at most `inFlight` sent and unanswered at a
 * time; the rest wait here, in order, and leave as answers come back.
 *
 * Why: a room's commands are answered one batch at a time by the replica that holds
 * it, and a NATS request's timeout runs from the moment it is sent. When 20,000
 * viewers left at once, every leave went out at once, and those at the back of the
 * replica's inbox waited longer than `NATS_REQUEST_TIMEOUT_MS` behind the others:
 * 8,000 to 9,000 of the 20,000 were answered `UNAVAILABLE` while the room service was
 * still working through them (`npm run bench -- --only audience`, 2026-12-05, on a
 * machine where the storm takes 4 to 5 s). Waiting here has no clock: a command's
 * timeout starts when it is sent, so it measures the room service, not the queue in
 * front of it. And the replica's inbox holds at most `inFlight` of one room's
 * commands per process, so other rooms' commands are not stuck behind a storm.
 *
 * What must hold:
 * - One room's commands are sent in the order they were given (a client's join, then
 *   its leave).
 * - A slot freed by an answer goes straight to the next waiting command; a command
 *   given meanwhile waits behind it, never overtakes it.
 * - A transport failure (no answer in time, nobody answering) fails every command
 *   waiting for that room at once, with that error: each would wait for the same
 *   timeout in turn, and a dead room would take waiting × timeout / inFlight to say so.
 * - At most `queued` commands wait per room; one more fails at once (`RoomBusyError`).
 * - A room with nothing in flight and nothing waiting keeps no entry.
 */
import { RoomBusyError } from '../wire/errors.js';

export interface LaneLimits {
  /** Commands to one room in flight at once (at least 1). */
  inFlight: number;
  /** Commands to one room waiting for a slot, at most. */
  queued: number;
}

/** Handed-out entries at the head of a queue kept before they are dropped. */
const COMPACT_AFTER = 1024;

interface Waiter {
  go: () => void;
  fail: (err: unknown) => void;
}

interface Lane {
  inFlight: number;
  waiting: Waiter[];
  /** Index of the next waiter in `waiting` (a queue without shifting the array). */
  head: number;
}

export class RoomLanes {
  private readonly lanes = new Map<string, Lane>();
  /** Commands waiting for a slot, over all rooms. */
  private waitingNow = 0;

  constructor(
    private readonly limits: LaneLimits,
    /** True for an error that says the room service did not answer (not a refusal). */
    private readonly isTransportFailure: (err: unknown) => boolean,
  ) {}

  /** Commands waiting for a slot, over all rooms (the `room_commands_waiting` gauge). */
  get waitingTotal(): number {
    return this.waitingNow;
  }

  /** Rooms with commands in flight or waiting. */
  get rooms(): number {
    return this.lanes.size;
  }

  /** Entries a room's queue holds, handed out or not (to show compaction in tests). */
  held(roomId: string): number {
    return this.lanes.get(roomId)?.waiting.length ?? 0;
  }

  /** Commands of `roomId` waiting for a slot (not counting those in flight). */
  waiting(roomId: string): number {
    const lane = this.lanes.get(roomId);
    return lane === undefined ? 0 : lane.waiting.length - lane.head;
  }

  /** Runs `send` for `roomId` when the room has a free slot; resolves or rejects as it does. */
  async run<T>(roomId: string, send: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(roomId);
    if (lane === undefined) {
      lane = { inFlight: 0, waiting: [], head: 0 };
      this.lanes.set(roomId, lane);
    }
    if (lane.inFlight < this.limits.inFlight) lane.inFlight++;
    else {
      if (lane.waiting.length - lane.head >= this.limits.queued)
        throw new RoomBusyError(roomId, this.limits.queued);
      const l = lane;
      this.waitingNow++;
      // The slot is handed over by `release`: `inFlight` already counts this command.
      await new Promise<void>((go, fail) => l.waiting.push({ go, fail }));
    }
    try {
      return await send();
    } catch (err) {
      if (this.isTransportFailure(err)) this.failWaiting(lane, err);
      throw err;
    } finally {
      this.release(roomId, lane);
    }
  }

  private release(roomId: string, lane: Lane): void {
    const next = lane.waiting[lane.head];
    if (next !== undefined) {
      lane.waiting[lane.head++] = undefined as unknown as Waiter;
      // Drop what was handed out: at once when none wait, else once it is half the
      // array, so a queue that never empties does not grow for ever (amortized O(1)).
      if (lane.head === lane.waiting.length) {
        lane.waiting = [];
        lane.head = 0;
      } else if (lane.head >= COMPACT_AFTER && lane.head * 2 >= lane.waiting.length) {
        lane.waiting = lane.waiting.slice(lane.head);
        lane.head = 0;
      }
      this.waitingNow--;
      next.go();
      return;
    }
    lane.inFlight--;
    if (lane.inFlight === 0 && this.lanes.get(roomId) === lane) this.lanes.delete(roomId);
  }

  private failWaiting(lane: Lane, err: unknown): void {
    const waiting = lane.waiting.slice(lane.head);
    lane.waiting = [];
    lane.head = 0;
    this.waitingNow -= waiting.length;
    for (const w of waiting) w.fail(err);
  }
}
