/**
 * The room service's side of stream commands: the machine event a command becomes,
 * and the reply to it. The rules themselves are in room.stream.ts.
 */
import type { AnyRoomReply, RoomStreamState, StreamCommand } from '#shared/room/room.commands.js';
import type { RoomState } from '#shared/room/room.state.js';
import type { RoomMachineEvent } from './room.machine.events.js';
import { streamPublisher, streamSyncPlan } from './room.stream.js';

/** The room's stream side as `stream_status` answers it. */
export function toStreamState(s: RoomState): RoomStreamState {
  const p = streamPublisher(s);
  return {
    status: s.status,
    isPrivate: s.settings.isPrivate,
    publisher:
      p === undefined
        ? null
        : { clientId: p.clientId, userId: p.userId, serviceId: p.serviceId ?? null },
    peerPublishing: s.publisher?.kind === 'peer',
    ...s.stream,
    streamViewers: s.streamViewers.size,
    viewers: s.viewers,
    maxViewers: s.settings.maxViewers,
  };
}

/**
 * The room service's side of a stream command: the machine event it becomes (stamped
 * with `at`), and, for a sync, the clients to kick (judged on the state before it).
 */
export function streamCommand(
  s: RoomState,
  cmd: Exclude<StreamCommand, { type: 'stream_status' }>,
  at: number,
): { event: Exclude<RoomMachineEvent, { type: 'replay' }>; kick: string[] } {
  if (cmd.type === 'stream_expire') return { event: { type: 'expire', at }, kick: [] };
  const event = { ...cmd, at };
  return { event, kick: event.type === 'stream_sync' ? streamSyncPlan(s, event).kick : [] };
}

/** The reply to an accepted stream command (see RoomReplies in shared/room/room.commands.ts). */
export function streamReply(s: RoomState, cmd: StreamCommand, kick: string[]): AnyRoomReply {
  const seq = s.seq;
  if (cmd.type === 'stream_play' || cmd.type === 'stream_stop') return { ok: true, seq };
  const stream = toStreamState(s);
  if (cmd.type === 'stream_publish')
    return { ok: true, userId: stream.publisher?.userId ?? '', seq, stream };
  if (cmd.type === 'stream_sync') return { ok: true, kick, seq, stream };
  return { ok: true, seq, stream };
}
