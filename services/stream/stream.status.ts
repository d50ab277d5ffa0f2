/** Answers `stream.<roomId>.status`: the room's record joined with SRS's view. */
import { RoomRefusedError } from '#shared/room/room.client.js';
import type { RoomReplies } from '#shared/room/room.commands.js';
import type { StreamStatus, StreamStatusReply } from '#shared/stream/stream.protocol.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import { isSubjectToken } from '#shared/wire/subjects.js';
import type { SrsStream } from './srs.api.js';
import type { StreamContext } from './stream.context.js';

/**
 * The status of `roomId`'s stream; never rejects (an unreachable room is UNAVAILABLE).
 * `srsDownSince`: since when SRS counts as down (srs.health.ts), or null; while it
 * does, SRS is not asked and the stream is `unknown`, not what the last poll said.
 */
export async function streamStatus(
  svc: StreamContext,
  roomId: string,
  srsDownSince: number | null,
): Promise<StreamStatusReply> {
  if (!isSubjectToken(roomId)) return { ok: false, error: errorBody(ErrorCode.ROOM_NOT_FOUND) };
  let reply: RoomReplies['stream_status'];
  try {
    reply = await svc.rooms.streamStatus(roomId);
  } catch (err) {
    if (!(err instanceof RoomRefusedError)) {
      return { ok: false, error: errorBody(ErrorCode.UNAVAILABLE, (err as Error).message) };
    }
    return err.body.code === ErrorCode.ROOM_ENDED
      ? { ok: true, stream: endedStatus(roomId) }
      : { ok: false, error: err.body };
  }
  const st = reply.stream;
  let srs: SrsStream | null = null;
  let reachable = true;
  const down = srsDownSince !== null;
  if (st.streamId !== null && !down) {
    try {
      srs = (await svc.srs.stream(st.streamId)).stream;
    } catch {
      reachable = false;
    }
  }
  const active = srs !== null && srs.publish.active && srs.publish.cid === st.publisher?.clientId;
  return {
    ok: true,
    stream: {
      roomId,
      status: st.status,
      state: down ? 'unknown' : active ? 'active' : 'inactive',
      active,
      since: active ? st.confirmedAt : null,
      publisher:
        st.publisher === null
          ? null
          : { clientId: st.publisher.clientId, userId: st.publisher.userId },
      video:
        srs?.video == null
          ? null
          : {
              codec: srs.video.codec,
              profile: srs.video.profile ?? '',
              level: srs.video.level ?? '',
              width: srs.video.width ?? 0,
              height: srs.video.height ?? 0,
            },
      audio:
        srs?.audio == null
          ? null
          : {
              codec: srs.audio.codec,
              sampleRate: srs.audio.sample_rate ?? 0,
              channels: srs.audio.channel ?? 0,
              profile: srs.audio.profile ?? '',
            },
      kbps: srs?.kbps === undefined ? null : { recv: srs.kbps.recv_30s, send: srs.kbps.send_30s },
      srsClients: srs?.clients ?? null,
      gone: st.gone,
      viewers: st.viewers,
      streamViewers: st.streamViewers,
      maxViewers: st.maxViewers,
      srs: down ? 'down' : reachable ? 'ok' : 'unreachable',
      srsDownSince,
    },
  };
}

function endedStatus(roomId: string): StreamStatus {
  return {
    roomId,
    status: 'ended',
    state: 'inactive',
    active: false,
    since: null,
    publisher: null,
    video: null,
    audio: null,
    kbps: null,
    srsClients: null,
    gone: false,
    viewers: 0,
    streamViewers: 0,
    maxViewers: 0,
    srs: 'ok',
    srsDownSince: null,
  };
}
