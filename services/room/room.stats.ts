/**
 * `room_stats`: a room's viewer numbers as coalesced news. A change arms one timer
 * per room; when it fires the numbers of that moment go out. So a join storm costs
 * one frame per interval, never one per join, and an idle room costs nothing.
 *
 * The numbers given here are confirmed ones (their events are in the log): a
 * member never hears of a count that a failed append takes back.
 */
import type { Bus } from '#shared/runtime/bus.js';
import type { RoomStats } from '#shared/wire/protocol.js';
import { subjects } from '#shared/wire/subjects.js';

export interface Numbers {
  viewers: number;
  peakViewers: number;
}

interface RoomStatsState {
  /** What members heard last. */
  sent: Numbers;
  /** When they heard it (env clock). */
  sentAt: number;
  /** The confirmed numbers now. */
  latest: Numbers;
  timer: NodeJS.Timeout | undefined;
}

export class RoomStatsPublisher {
  private readonly rooms = new Map<string, RoomStatsState>();

  constructor(
    private readonly bus: Bus,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * The room's confirmed numbers after a committed batch, and before it (what a room
   * not heard of yet is taken to have told its members already).
   */
  changed(roomId: string, before: Numbers, after: Numbers): void {
    let r = this.rooms.get(roomId);
    if (r === undefined) {
      r = { sent: before, sentAt: -Infinity, latest: after, timer: undefined };
      this.rooms.set(roomId, r);
    } else {
      r.latest = after;
    }
    if (r.timer !== undefined || same(r.sent, r.latest)) return;
    const wait = r.sentAt + this.intervalMs - this.now();
    // Quiet for a whole interval: the first change goes out at once (leading edge).
    if (wait <= 0) {
      this.publish(roomId, r);
      return;
    }
    const state = r;
    r.timer = setTimeout(() => {
      state.timer = undefined;
      if (this.rooms.get(roomId) === state) this.publish(roomId, state);
    }, wait);
    r.timer.unref();
  }

  /** Forgets a room (dropped, ended, reloaded from its log): its timer goes with it. */
  clear(roomId: string): void {
    const r = this.rooms.get(roomId);
    if (r?.timer !== undefined) clearTimeout(r.timer);
    this.rooms.delete(roomId);
  }

  clearAll(): void {
    for (const id of [...this.rooms.keys()]) this.clear(id);
  }

  /** Rooms with a timer armed (tests: no leaked timers). */
  get armed(): number {
    let n = 0;
    for (const r of this.rooms.values()) if (r.timer !== undefined) n++;
    return n;
  }

  private publish(roomId: string, r: RoomStatsState): void {
    if (same(r.sent, r.latest)) return;
    const frame: RoomStats = { type: 'room_stats', room: roomId, ...r.latest };
    this.bus.publish(subjects.roomBroadcast(roomId), frame);
    r.sent = r.latest;
    r.sentAt = this.now();
  }
}

function same(a: Numbers, b: Numbers): boolean {
  return a.viewers === b.viewers && a.peakViewers === b.peakViewers;
}
