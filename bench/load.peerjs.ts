/**
 * The PeerJS server's side of a load client (load.ts): how a PeerJS client
 * connects, what its candidate frame looks like, how the server relays it, and the
 * heartbeat it keeps sending. From the `peer` package's source (1.0.2) and the
 * `peerjs` client's socket: the server answers a new id with `{"type":"OPEN"}`,
 * relays `{type, dst, payload}` as `JSON.stringify({type, src, dst, payload})`,
 * and closes a client not heard from in `alive_timeout` (90 s); the browser
 * client sends `{"type":"HEARTBEAT"}` every 5 s to stay within it.
 */
import { maskedFrame } from './bench.client.js';

/** How a relayed candidate starts on the wire (the server puts `type` first). */
export const PEERJS_CANDIDATE_PREFIX = Buffer.from('{"type":"CANDIDATE",');

/** The PeerJS client's heartbeat period (its `pingInterval`). */
export const HEARTBEAT_MS = 5000;
export const HEARTBEAT_FRAME = maskedFrame(Buffer.from(JSON.stringify({ type: 'HEARTBEAT' })));

/** Path and query of a PeerJS client's WebSocket (the server's `path` is '/'). */
export function peerjsPath(id: string, token: string): string {
  return `/peerjs?key=peerjs&id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;
}

/** Frames from the server that mean something went wrong for this client. */
export function isPeerjsError(f: Record<string, unknown>): boolean {
  return f.type === 'ERROR' || f.type === 'ID-TAKEN' || f.type === 'EXPIRE' || f.type === 'LEAVE';
}

/**
 * A candidate for `dst` as the PeerJS client sends one for a media connection,
 * with `line` as the candidate line.
 */
export function peerjsCandidate(dst: string, line: string): string {
  return JSON.stringify({
    type: 'CANDIDATE',
    payload: {
      candidate: { candidate: line, sdpMid: '0', sdpMLineIndex: 0 },
      type: 'media',
      connectionId: 'mc_bench',
    },
    dst,
  });
}
