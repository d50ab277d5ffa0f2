/**
 * What members' gateways hear of recorded events: the broadcasts on
 * `room.<id>.bcast`. The stage is news, the audience is not: an audience member's
 * join or leave is never broadcast (its count reaches members as `room_stats`),
 * except what its own gateway must act on (a kick, a timeout), which gateways
 * handle without forwarding it to clients.
 */
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { applyEvent, memberOf, type RoomState } from '#shared/room/room.state.js';
import type { LeaveReason, PeerInfo } from '#shared/wire/protocol.js';

const leaveReasons: Partial<Record<RoomEvent['type'], LeaveReason>> = {
  member_left: 'left',
  member_timed_out: 'timeout',
  member_kicked: 'kicked',
  member_demoted: 'demoted',
};

/** The broadcasts of `events` recorded on `before`, numbered from `before.seq + 1`. */
export function broadcastsOf(
  roomId: string,
  before: RoomState,
  events: readonly RoomEvent[],
): RoomBroadcast[] {
  const out: RoomBroadcast[] = [];
  let s = before;
  for (const [i, e] of events.entries()) {
    const b = broadcastOf(roomId, s, e, s.seq + 1);
    if (b !== undefined) out.push(b);
    // The state before the next event; the last one needs none (most commands record one).
    if (i < events.length - 1) s = applyEvent(s, e);
  }
  return out;
}

/** The broadcast of one event recorded on state `s`, if members must hear of it. */
function broadcastOf(
  roomId: string,
  s: RoomState,
  e: RoomEvent,
  seq: number,
): RoomBroadcast | undefined {
  const peer = (peerId: string): PeerInfo | undefined => {
    const m = memberOf(s, peerId);
    return m === undefined ? undefined : { peerId, userId: m.userId, role: m.role };
  };
  const onStage = (peerId: string) => (peer(peerId)?.role ?? 'viewer') !== 'viewer';
  const left = (peerId: string, type: RoomEvent['type'], detail?: string): RoomBroadcast => ({
    type: 'peer_left',
    room: roomId,
    peerId,
    reason: leaveReasons[type] ?? 'left',
    ...(detail === undefined ? {} : { detail }),
    seq,
  });
  switch (e.type) {
    case 'member_joined':
      return e.role === 'viewer'
        ? undefined
        : {
            type: 'peer_joined',
            room: roomId,
            peer: { peerId: e.peerId, userId: e.userId, role: e.role },
            seq,
          };
    case 'member_left':
      // The leaving member's gateway has let it go already: only the stage is news.
      return onStage(e.peerId) ? left(e.peerId, e.type) : undefined;
    case 'member_timed_out':
    case 'member_demoted':
      return left(e.peerId, e.type);
    case 'member_kicked':
      return left(e.peerId, e.type, e.reason);
    case 'member_promoted': {
      const p = peer(e.peerId);
      return p === undefined
        ? undefined
        : { type: 'peer_joined', room: roomId, peer: { ...p, role: 'cohost' }, seq };
    }
    case 'hand_raised': {
      const p = peer(e.peerId);
      return p === undefined
        ? undefined
        : { type: 'hand_raised', room: roomId, peer: p, scope: 'stage', seq };
    }
    case 'hand_lowered':
      return { type: 'hand_lowered', room: roomId, peerId: e.peerId, scope: 'stage', seq };
    case 'member_resumed':
      return {
        type: 'peer_resumed',
        room: roomId,
        peerId: e.peerId,
        gateway: e.gateway,
        conn: e.conn,
        seq,
      };
    case 'status_changed':
      return { type: 'room_status', room: roomId, status: e.to, seq };
    // SRS's outage is news to members: the status is unchanged, the stream is not known.
    case 'stream_unknown':
      return { type: 'room_status', room: roomId, status: s.status, stream: 'unknown', seq };
    case 'stream_known':
      return { type: 'room_status', room: roomId, status: s.status, stream: 'known', seq };
    case 'room_created':
    case 'member_disconnected':
    case 'publisher_granted':
    case 'publisher_released':
    case 'publisher_refused':
    case 'stream_confirmed':
    case 'stream_stopped':
    case 'publisher_gone':
    case 'stream_viewer_joined':
    case 'stream_viewer_left':
      return undefined;
  }
}
