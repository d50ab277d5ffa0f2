/** What the stream service does with a room's refusal where it leaves nothing to do. */
import { RoomRefusedError } from '#shared/room/room.client.js';

/**
 * The reply, or undefined when the room refused the command: for the commands whose
 * refusal leaves nothing to do. Transport failures (UNAVAILABLE) still reject.
 */
export async function ignoreRefusal<T>(sent: Promise<T>): Promise<T | undefined> {
  try {
    return await sent;
  } catch (err) {
    if (err instanceof RoomRefusedError) return undefined;
    throw err;
  }
}
