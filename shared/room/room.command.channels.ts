/**
 * Which subject each room command travels on, by who may send it: `user` commands
 * (what a gateway sends for a user it verified) on `room.<id>.cmd`, `service`
 * commands (the stream service's view of SRS) on `room.<id>.svc`, and `ops`
 * queries (operators' read-only tools) on `room.<id>.ops`. The NATS server's
 * subject permissions (shared/runtime/bus.permissions.ts) let each credential
 * publish only on its channel; the room service checks the channel again in code,
 * so a permission slip in a server config does not open the stream commands.
 */
import { subjects } from '../wire/subjects.js';
import type { RoomCommandType } from './room.commands.js';

export const CommandChannel = {
  user: 'user',
  service: 'service',
  ops: 'ops',
} as const;
export type CommandChannel = (typeof CommandChannel)[keyof typeof CommandChannel];

const SERVICE_COMMANDS: ReadonlySet<string> = new Set<RoomCommandType>([
  'stream_publish',
  'stream_confirm',
  'stream_unpublish',
  'stream_play',
  'stream_stop',
  'stream_sync',
  'stream_status',
  'stream_unknown',
  'stream_expire',
]);
const OPS_COMMANDS: ReadonlySet<string> = new Set<RoomCommandType>(['state']);

/**
 * The channel a command type belongs to (a Set lookup: this runs per command); an
 * unknown type is a user command, refused by the schema check.
 */
export function channelOf(type: RoomCommandType | undefined): CommandChannel {
  if (type === undefined) return CommandChannel.user;
  if (SERVICE_COMMANDS.has(type)) return CommandChannel.service;
  if (OPS_COMMANDS.has(type)) return CommandChannel.ops;
  return CommandChannel.user;
}

/** The subject a command of `type` to `roomId` is sent on. */
export function commandSubject(roomId: string, type: RoomCommandType | undefined): string {
  switch (channelOf(type)) {
    case CommandChannel.service:
      return subjects.roomServiceCommand(roomId);
    case CommandChannel.ops:
      return subjects.roomOpsCommand(roomId);
    case CommandChannel.user:
      return subjects.roomCommand(roomId);
  }
}

/** Each channel's wildcard, as the room service subscribes to them. */
export const channelSubjects: readonly { channel: CommandChannel; subject: string }[] = [
  { channel: CommandChannel.user, subject: subjects.roomCommandAll },
  { channel: CommandChannel.service, subject: subjects.roomServiceCommandAll },
  { channel: CommandChannel.ops, subject: subjects.roomOpsCommandAll },
];
