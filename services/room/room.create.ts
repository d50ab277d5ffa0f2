/** The room a `create` command asks for, checked against the configured limits, and its first append. */
import type { Config } from '#config/config.js';
import { ErrorCode, type ErrorBody } from '#shared/wire/errors.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { toLiveRoom } from '#shared/room/room.state.js';
import { RoomActor } from './room.actor.js';
import { LogConflictError, type RoomLog } from './room.log.js';
import { rebuildRoom, type RoomEntry } from './room.recovery.js';
import type { RoomEventOf } from '#shared/room/room.events.js';
import type { RoomEnvironment } from './room.environment.js';
import { fail } from './room.replies.js';

/** The `room_created` event of an acceptable `create`, or its refusal. */
export function roomCreated(
  config: Config['room'],
  env: RoomEnvironment,
  roomId: string,
  cmd: Extract<RoomCommand, { type: 'create' }>,
): RoomEventOf<'room_created'> | { ok: false; error: ErrorBody } {
  const maxViewers = cmd.maxViewers ?? config.defaultMaxViewers;
  const maxTitle = config.maxTitleChars;
  if (cmd.title.length === 0 || cmd.title.length > maxTitle) {
    return fail(ErrorCode.BAD_FRAME, `title: 1 to ${maxTitle} characters`);
  }
  if (!Number.isInteger(maxViewers) || maxViewers < 1 || maxViewers > config.maxViewersLimit) {
    return fail(ErrorCode.BAD_FRAME, `maxViewers: an integer from 1 to ${config.maxViewersLimit}`);
  }
  return {
    type: 'room_created',
    v: 1,
    at: env.now(),
    roomId,
    ownerId: cmd.userId,
    settings: { title: cmd.title, isPrivate: cmd.isPrivate, maxViewers },
    streamKey: env.id(24),
  };
}

/** Creates the room in its log: the reply, and the room to hold when it was created. */
export async function createRoom(
  o: { config: Config['room']; env: RoomEnvironment; log: RoomLog },
  roomId: string,
  cmd: Extract<RoomCommand, { type: 'create' }>,
): Promise<{
  reply: AnyRoomReply;
  entry?: RoomEntry;
  /** Refused although the room may be in the log (its write not confirmed either way). */
  unsure?: true;
}> {
  const created = roomCreated(o.config, o.env, roomId, cmd);
  if (!('type' in created)) return { reply: created };
  let streamSeq: number;
  try {
    streamSeq = await o.log.append(roomId, [created], { seq: 0, streamSeq: 0 });
  } catch (err) {
    // A conflict here means the id is taken in the log although not loaded here: never reuse it.
    if (err instanceof LogConflictError) return { reply: fail(ErrorCode.ROOM_EXISTS) };
    // Not confirmed is not "not written": a PubAck lost in a failover (a node died, JetStream
    // elects a leader) may follow a stored write. Read the room back: if our own
    // room_created is in the log, the room exists and is held here, as if confirmed.
    const adopted = await readBack(o.log, roomId, created);
    if (adopted !== undefined) return holding(adopted);
    // A refusal, not a throw: the caller answers it (a throw was an unhandled rejection
    // that ended the process).
    return {
      reply: fail(ErrorCode.UNAVAILABLE, 'the room log did not confirm the write; try again'),
      unsure: true,
    };
  }
  return holding({ actor: RoomActor.create(created), streamSeq, batches: 1, snapSeq: 0 });
}

const holding = (entry: RoomEntry) => ({
  reply: { ok: true as const, room: toLiveRoom(entry.actor.state, true) },
  entry,
});

/**
 * The room as its log holds it when the log starts with this very `room_created` (its
 * stream key is random: no other create wrote it), else undefined (not there, another
 * create's, or the log unreadable now: the caller refuses and the client tries again).
 */
async function readBack(
  log: RoomLog,
  roomId: string,
  created: RoomEventOf<'room_created'>,
): Promise<RoomEntry | undefined> {
  let timer: NodeJS.Timeout | undefined;
  // Bounded: with a node down a read may be retried for many seconds (streams.ts,
  // retryOrderedRead), and this create's room waits meanwhile. Past the deadline the
  // creator is told UNAVAILABLE; a room that is in the log all the same comes back with
  // its partition's next load, and a retried create finds it (ROOM_EXISTS).
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), READ_BACK_MS);
  });
  try {
    const read = rebuildRoom(log, roomId).then(
      ({ entry }) => (entry?.actor.state.streamKey === created.streamKey ? entry : undefined),
      () => undefined,
    );
    return await Promise.race([read, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long an unconfirmed create reads its room back: the gateway's request (NATS_REQUEST_TIMEOUT_MS) is over by then. */
const READ_BACK_MS = 2000;
