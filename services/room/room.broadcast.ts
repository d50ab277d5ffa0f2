/** What members' gateways hear of a recorded event: the broadcast on `room.<id>.bcast`, if any. */
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { LeaveReason } from '#shared/wire/protocol.js';

const leaveReasons: Partial<Record<RoomEvent['type'], LeaveReason>> = {
  member_left: 'left',
  member_timed_out: 'timeout',
  member_kicked: 'kicked',
};

/** The broadcast a recorded event becomes, if members must see it. */
export function broadcastOf(roomId: string, e: RoomEvent, seq: number): RoomBroadcast | undefined {
  switch (e.type) {
    case 'member_joined':
      return {
        type: 'peer_joined',
        room: roomId,
        peer: { peerId: e.peerId, userId: e.userId, role: e.role },
        seq,
      };
    case 'member_left':
    case 'member_timed_out':
    case 'member_kicked':
      return {
        type: 'peer_left',
        room: roomId,
        peerId: e.peerId,
        reason: leaveReasons[e.type] ?? 'left',
        ...(e.type === 'member_kicked' ? { detail: e.reason } : {}),
        seq,
      };
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
    case 'hand_raised':
    case 'hand_lowered':
    case 'member_promoted':
    case 'member_demoted':
      return undefined;
  }
}
