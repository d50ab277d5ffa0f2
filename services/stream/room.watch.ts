/**
 * The rooms whose stream the service watches, and what it last learnt of each: a
 * room's replies become `stream_state` metric events when its stream side changes,
 * and a stopped stream's absence deadlines (gone, end) are looked at again once due.
 */
import type { RoomStreamState } from '#shared/room/room.commands.js';
import { RoomRefusedError } from '#shared/room/room.client.js';
import { ErrorCode } from '#shared/wire/errors.js';
import type { StreamContext } from './stream.context.js';

/** A room whose stream the service watches, and what it last learnt of it. */
interface Watched {
  last: RoomStreamState | null;
  seq: number;
  /** Looks at the room again when its absence deadline (gone, end) has passed. */
  timer?: NodeJS.Timeout;
}

export class RoomWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly svc: StreamContext) {}

  /** The rooms watched now. */
  roomIds(): string[] {
    return [...this.watched.keys()];
  }

  /** Clears every pending look. */
  stop(): void {
    for (const w of this.watched.values()) clearTimeout(w.timer);
  }

  watch(roomId: string): void {
    this.entry(roomId);
  }

  private entry(roomId: string): Watched {
    let w = this.watched.get(roomId);
    if (w === undefined) {
      w = { last: null, seq: 0 };
      this.watched.set(roomId, w);
    }
    return w;
  }

  unwatch(roomId: string): void {
    clearTimeout(this.watched.get(roomId)?.timer);
    this.watched.delete(roomId);
  }

  /** The room ended or does not exist: says so once (if it was watched) and stops watching. */
  gone(roomId: string, code: ErrorCode): void {
    const w = this.watched.get(roomId);
    if (code === ErrorCode.ROOM_ENDED && w !== undefined && w.last?.status !== 'ended') {
      this.stateMetric(roomId, 'ended', null);
    }
    this.unwatch(roomId);
  }

  /**
   * SRS has been down since `since`: every watched room is told (while `stillDown`) its stream is
   * unknown. They stay watched, so the first complete poll after the outage syncs
   * them, which tells them it is known again.
   */
  async unknown(since: number, stillDown: () => boolean = () => true): Promise<void> {
    const rooms = this.roomIds();
    // As many at a time as a reconcile round syncs: an outage must not flood the rooms.
    const step = this.svc.cfg.reconcileConcurrency;
    // SRS may answer again meanwhile: a room told then would wait for the next round.
    for (let i = 0; i < rooms.length && !this.svc.stopped && stillDown(); i += step) {
      await Promise.all(rooms.slice(i, i + step).map((roomId) => this.tellUnknown(roomId, since)));
    }
  }

  private async tellUnknown(roomId: string, since: number): Promise<void> {
    try {
      const reply = await this.svc.rooms.streamUnknown(roomId, { since });
      this.observe(roomId, reply.seq, reply.stream);
    } catch (err) {
      if (err instanceof RoomRefusedError) this.gone(roomId, err.body.code);
      else this.svc.logger.warn('room did not hear that SRS is down', { roomId, err });
    }
  }

  /** Learns a room's stream side; what changed since the last reply becomes metric events. */
  observe(roomId: string, seq: number, st: RoomStreamState): void {
    const w = this.entry(roomId);
    // Replies may overtake each other: only a newer state is news.
    if (seq < w.seq) return;
    const prev = w.last;
    w.last = st;
    w.seq = seq;
    const was = prev?.publisher?.clientId ?? null;
    const is = st.publisher?.clientId ?? null;
    if (was !== null && was !== is) {
      const stop = st.lastStop?.clientId === was ? st.lastStop.reason : undefined;
      this.stateMetric(roomId, 'stopped', was, stop);
    }
    if (is !== null && is !== was) this.stateMetric(roomId, 'granted', is);
    if (st.confirmedAt !== null && (is !== was || prev?.confirmedAt == null))
      this.stateMetric(roomId, 'live', is);
    if (st.gone && prev?.gone !== true) this.stateMetric(roomId, 'gone', null);
    if (st.status === 'ended') {
      if (prev?.status !== 'ended') this.stateMetric(roomId, 'ended', null);
      this.unwatch(roomId);
      return;
    }
    this.lookAgain(roomId, w);
  }

  /**
   * The room service times a stopped stream's absence itself; this looks again once
   * a deadline has passed, applying what is due (a backstop for a room service whose
   * timer did not fire, e.g. after a restart), so that "gone" and "ended" also reach
   * the metrics promptly.
   */
  private lookAgain(roomId: string, w: Watched): void {
    const st = w.last;
    // One look at a time; with the slot held nothing is due.
    if (w.timer !== undefined || st === null || this.svc.stopped) return;
    if (st.publisher !== null || st.peerPublishing) return;
    const due = st.goneAt !== null && !st.gone ? st.goneAt : st.endAt;
    if (due === null) return;
    const delay = Math.max(0, due - this.svc.now()) + this.svc.cfg.confirmIntervalMs;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      this.svc.rooms.streamExpire(roomId).then(
        (reply) => this.observe(roomId, reply.seq, reply.stream),
        (err: unknown) => {
          if (err instanceof RoomRefusedError) this.gone(roomId, err.body.code);
          else this.svc.logger.warn('room did not answer', { roomId, err });
        },
      );
    }, delay);
    w.timer.unref();
  }

  private stateMetric(
    roomId: string,
    state: 'granted' | 'live' | 'stopped' | 'gone' | 'ended',
    clientId: string | null,
    reason?: string,
  ): void {
    this.svc.metric({
      type: 'stream_state',
      v: 1,
      at: this.svc.now(),
      roomId,
      state,
      clientId,
      ...(reason === undefined ? {} : { reason }),
    });
  }
}
