/** RoomClient calls as the room's reply union, for tests that assert on both outcomes. */
import { RoomRefusedError } from '#shared/room/room.client.js';
import type { RoomReply } from '#shared/room/room.commands.js';

/**
 * `{ ok: true, ...fields }` when the command was accepted, `{ ok: false, error }` when
 * the room refused it; transport failures (no responders, timeout) still reject.
 */
export async function asReply<T = object>(call: Promise<object>): Promise<RoomReply<T>> {
  try {
    return { ok: true, ...(await call) } as RoomReply<T>;
  } catch (err) {
    if (err instanceof RoomRefusedError) return { ok: false, error: err.body };
    throw err;
  }
}
