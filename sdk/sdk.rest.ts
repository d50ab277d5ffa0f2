/**
 * The one REST call the SDK makes: `PUT /api/rooms/:room {status}` (the room's
 * `set_status`), with the client's current token. A P2P room needs it to go live
 * (sdk.rtc.ts); an app may call it to end a room.
 */
import { RoomcastClientError, type ErrorCode } from './sdk.types.js';

/** The REST API's base for a signaling URL: its origin, ws → http, wss → https. */
export function apiBaseOf(signalingUrl: string): string {
  return new URL(signalingUrl).origin.replace(/^ws/, 'http');
}

/** Sets `room`'s status; rejects with the API's error code (NOT_ALLOWED, INVALID_TRANSITION, ...). */
export async function putRoomStatus(
  apiBase: string,
  token: string,
  room: string,
  status: 'live' | 'ended',
): Promise<void> {
  const res = await fetch(`${apiBase}/api/rooms/${encodeURIComponent(room)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ status }),
  });
  if (res.ok) return;
  const body = (await res.json().catch(() => ({}))) as {
    error?: { code: ErrorCode; message: string };
  };
  throw new RoomcastClientError(
    body.error?.code ?? 'INTERNAL',
    body.error?.message ?? `HTTP ${res.status}`,
    room,
  );
}
