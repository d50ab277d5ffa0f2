/**
 * What the room machine takes and gives: commands (stamped with the time the
 * service received them) and replayed facts in, recorded events and refusals out.
 * Its own module so that the machine and the rules it calls (room.members.ts,
 * room.stream.ts) share the types without importing each other.
 */
import type { ErrorCode } from '#shared/wire/errors.js';
import type { RoomPerms } from '#shared/auth/grants.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { StreamCommand } from '#shared/room/room.commands.js';
import type { JoiningMember, RoomEvent } from '#shared/room/room.events.js';

export interface Stamp {
  /** When the service received the command, ms since the epoch. */
  at: number;
}

/** Stream commands as the machine receives them: the wire command, stamped. */
export type StreamMachineEvent = Exclude<
  StreamCommand,
  { type: 'stream_status' | 'stream_expire' }
> &
  Stamp;

/** Events the machine accepts: commands (decided here) and replayed facts. */
export type RoomMachineEvent =
  | (Stamp & { type: 'join'; perms: RoomPerms } & JoiningMember)
  | (Stamp & { type: 'leave'; peerId: string; userId: string })
  | (Stamp & { type: 'disconnect'; peerId: string; conn: string; awayUntil: number })
  | (Stamp & {
      type: 'resume';
      peerId: string;
      resumeHash: string;
      userId: string;
      gateway: string;
      conn: string;
    })
  /** Gives up the places of members whose resume grace is over at `at`. */
  | (Stamp & { type: 'expire' })
  | (Stamp & { type: 'set_status'; status: RoomStatus; userId: string; perms: RoomPerms })
  | (Stamp & { type: 'kick'; peerId: string; reason: string; userId: string; perms: RoomPerms })
  /** Stage commands (room.stage.ts); `stageMax` is the service's configured cap. */
  | (Stamp & { type: 'raise_hand' | 'lower_hand'; peerId: string; userId: string })
  | (Stamp & {
      type: 'invite' | 'demote';
      peerId: string;
      userId: string;
      perms: RoomPerms;
      stageMax: number;
    })
  /** Commands of the stream service (SRS's side); decided in room.stream.ts. */
  | StreamMachineEvent
  | { type: 'replay'; event: RoomEvent };

export interface CommandRefused {
  type: 'command_refused';
  code: ErrorCode;
  message?: string;
}
/** What the machine emits: recorded events, or the reason a command was refused. */
export type RoomEmitted = RoomEvent | CommandRefused;

/** One kind of machine event. */
export type Ev<T extends RoomMachineEvent['type']> = Extract<RoomMachineEvent, { type: T }>;
/** Why a command is refused, or null when it is not. */
export type Refusal = { code: ErrorCode; message?: string } | null;
