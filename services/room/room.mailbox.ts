/**
 * Per-room mailboxes: commands for one room run one at a time, in arrival order,
 * so two joins racing for the publisher slot are decided in order.
 */
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { AnyRoomReply } from '#shared/room/room.commands.js';

export class Mailboxes {
  /** Per room: the promise of the last queued task. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly logger: Logger) {}

  /** Runs `task` after every earlier task of the same room; never rejects. */
  enqueue(roomId: string, task: () => Promise<AnyRoomReply>): Promise<AnyRoomReply> {
    const prev = this.queues.get(roomId) ?? Promise.resolve();
    const run = prev.then(task).catch((err: unknown): AnyRoomReply => {
      if (err instanceof RoomcastError) return { ok: false, error: err.toBody() };
      this.logger.error('command failed', { roomId, err });
      return { ok: false, error: errorBody(ErrorCode.INTERNAL) };
    });
    this.queues.set(roomId, run);
    void run.then(() => {
      if (this.queues.get(roomId) === run) this.queues.delete(roomId);
    });
    return run;
  }

  /** The work queued now for the rooms `which` selects (all when absent). */
  queued(which: (roomId: string) => boolean = () => true): Promise<unknown>[] {
    return [...this.queues].filter(([id]) => which(id)).map(([, work]) => work);
  }
}
