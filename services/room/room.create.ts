/** The room a `create` command asks for, checked against the configured limits. */
import type { Config } from '#config/config.js';
import { ErrorCode, type ErrorBody } from '#shared/wire/errors.js';
import type { RoomCommand } from '#shared/room/room.commands.js';
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
