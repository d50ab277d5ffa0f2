/**
 * Frames waiting for their reply: each request gets an `id` that the gateway echoes
 * in the reply or in the `error` refusing it; no reply within the timeout, or the
 * connection lost meanwhile, rejects it with `UNAVAILABLE` (try again).
 */
import { RoomcastClientError, type ServerFrame } from './sdk.types.js';

interface Pending {
  resolve: (f: ServerFrame) => void;
  reject: (e: RoomcastClientError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Requests {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;

  /** Sends `frame` with a fresh id through `send`; settles with its reply. */
  start(
    frame: Record<string, unknown> & { type: string },
    timeoutMs: number,
    send: (text: string) => void,
  ): Promise<ServerFrame> {
    const id = `r${this.nextId++}`;
    const room = typeof frame.room === 'string' ? frame.room : undefined;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new RoomcastClientError(
            'UNAVAILABLE',
            `no reply to ${frame.type} within ${timeoutMs} ms`,
            room,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Settles the request `frame` answers; false when it answers none (an event, or too late). */
  settle(frame: ServerFrame): boolean {
    const id = 'id' in frame && frame.id !== undefined ? String(frame.id) : undefined;
    const waiting = id === undefined ? undefined : this.pending.get(id);
    if (id === undefined || waiting === undefined) return false;
    this.pending.delete(id);
    clearTimeout(waiting.timer);
    if (frame.type === 'error')
      waiting.reject(new RoomcastClientError(frame.code, frame.message, frame.room));
    else waiting.resolve(frame);
    return true;
  }

  /** The connection is gone: nothing waiting will be answered. */
  failAll(why: string): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RoomcastClientError('UNAVAILABLE', why));
    }
    this.pending.clear();
  }
}
