/**
 * Where a room's recorded events go before a command is acknowledged.
 *
 * `append` must be durable when it resolves and must refuse an append whose
 * `expectedSeq` is not the room's last sequence (a fenced write: two writers of one
 * room cannot both succeed).
 */
import type { RoomEvent } from '#shared/room.events.js';

export interface RoomLog {
  /**
   * Appends `events` (sequences `expectedSeq + 1 …`) to the room's log.
   * Rejects when the room's last sequence is not `expectedSeq`.
   */
  append(roomId: string, events: readonly RoomEvent[], expectedSeq: number): Promise<void>;
}

/** Keeps logs in memory: for tests and for a room service that needs no durability. */
export class MemoryRoomLog implements RoomLog {
  readonly logs = new Map<string, RoomEvent[]>();

  append(roomId: string, events: readonly RoomEvent[], expectedSeq: number): Promise<void> {
    const log = this.logs.get(roomId) ?? [];
    if (log.length !== expectedSeq) {
      return Promise.reject(
        new Error(`room ${roomId}: expected last sequence ${expectedSeq}, log has ${log.length}`),
      );
    }
    log.push(...events);
    this.logs.set(roomId, log);
    return Promise.resolve();
  }
}
