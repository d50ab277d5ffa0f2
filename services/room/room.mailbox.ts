/**
 * Per-room mailboxes: commands for one room are decided one at a time, in arrival
 * order, so two joins racing for the publisher slot are decided in order.
 */
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { AnyRoomReply } from '#shared/room/room.commands.js';

export class Mailboxes {
  /** Per room: the decision of the last queued task (settled, never rejects). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly logger: Logger) {}

  /**
   * Runs `task` after every earlier task of the same room has decided; the room's
   * next task starts once this one's decision is made, not once it is answered
   * (the answer waits for the log). Resolves with the answer; never rejects.
   */
  enqueue(roomId: string, task: () => Promise<Pending>): Promise<AnyRoomReply> {
    const prev = this.queues.get(roomId) ?? Promise.resolve();
    const decided = prev.then(task);
    const turn = decided.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(roomId, turn);
    void turn.then(() => {
      if (this.queues.get(roomId) === turn) this.queues.delete(roomId);
    });
    return decided
      .then((p) => p.answer)
      .catch((err: unknown): AnyRoomReply => {
        if (err instanceof RoomcastError) return { ok: false, error: err.toBody() };
        this.logger.error('command failed', { roomId, err });
        return { ok: false, error: errorBody(ErrorCode.INTERNAL) };
      });
  }

  /** The decisions queued now for the rooms `which` selects (all when absent). */
  queued(which: (roomId: string) => boolean = () => true): Promise<unknown>[] {
    return [...this.queues].filter(([id]) => which(id)).map(([, work]) => work);
  }
}

/** A decided command: its answer comes once the log holds what it recorded. */
export interface Pending {
  answer: Promise<AnyRoomReply>;
}
