/**
 * The one client of the room protocol (request/reply on `room.<id>.cmd`, or
 * `.svc` / `.ops` by the command's type: room.command.channels.ts): one
 * method per command, each resolving with the command's reply and rejecting with a
 * `RoomcastError` whose `code` is the room's refusal (`ROOM_FULL`,
 * `PUBLISHER_TAKEN`, …). Transport failures keep their own classes from the bus:
 * `NoRespondersError` (nothing owns the room's commands), `RequestTimeoutError`
 * (no answer in time; the command may have run) and `RoomBusyError` (too many
 * waiting for the room here; not sent), all `UNAVAILABLE` on the wire.
 *
 * Every service, script and test that talks to a room goes through this class, so
 * a reply becomes an error in exactly one place.
 */
import type { Bus } from '../runtime/bus.js';
import {
  ErrorCode,
  NoRespondersError,
  RequestTimeoutError,
  RoomcastError,
  isErrorCode,
  type ErrorBody,
} from '../wire/errors.js';
import { RoomLanes, type LaneLimits } from './room.client.lanes.js';
import { commandSubject } from './room.command.channels.js';
import type { RoomCommand, RoomCommandType, RoomReplies, RoomReply } from './room.commands.js';

/** The fields of one command, without its `type`. */
export type CommandArgs<K extends RoomCommandType> = Omit<
  Extract<RoomCommand, { type: K }>,
  'type'
>;

/** Per-call options. */
export interface CallOptions {
  /** How long to wait for the answer, in ms. Defaults to the bus's request timeout. */
  timeoutMs?: number;
}

/** The error a refused command rejects with: the room's own code and message. */
export class RoomRefusedError extends RoomcastError {
  constructor(readonly body: ErrorBody) {
    // A code from a newer room service that this build does not know is a bug on
    // our side (mixed versions), never a crash: it is reported as INTERNAL.
    super(isErrorCode(body.code) ? body.code : ErrorCode.INTERNAL, body.message);
  }
}

/** The lanes' limits from a process's NATS settings (ROOM_COMMANDS_IN_FLIGHT, ROOM_COMMANDS_QUEUED). */
export function roomLanes(nats: {
  roomCommandsInFlight: number;
  roomCommandsQueued: number;
}): LaneLimits {
  return { inFlight: nats.roomCommandsInFlight, queued: nats.roomCommandsQueued };
}

/**
 * Typed commands to any room; one instance per process. With `lanes`, at most
 * `inFlight` commands per room are sent and unanswered at a time, the rest wait their
 * turn in order (room.client.lanes.ts); without, every command is sent at once.
 */
export class RoomClient {
  private readonly lanes: RoomLanes | undefined;

  constructor(
    private readonly bus: Bus,
    lanes?: LaneLimits,
  ) {
    this.lanes =
      lanes === undefined
        ? undefined
        : new RoomLanes(
            lanes,
            (err) => err instanceof RequestTimeoutError || err instanceof NoRespondersError,
          );
  }

  /** Commands waiting for a slot in this process, over all rooms (0 without lanes). */
  get waiting(): number {
    return this.lanes?.waitingTotal ?? 0;
  }

  /** Sends any command and returns its reply, refusals thrown as `RoomRefusedError`. */
  send<K extends RoomCommandType>(
    roomId: string,
    command: Extract<RoomCommand, { type: K }>,
    options: CallOptions = {},
  ): Promise<RoomReplies[K]> {
    return this.lanes === undefined
      ? this.sendNow(roomId, command, options)
      : this.lanes.run(roomId, () => this.sendNow(roomId, command, options));
  }

  private async sendNow<K extends RoomCommandType>(
    roomId: string,
    command: Extract<RoomCommand, { type: K }>,
    options: CallOptions,
  ): Promise<RoomReplies[K]> {
    const reply = await this.bus.request<RoomReply<RoomReplies[K]>>(
      // Tests send malformed commands too: those go to the user subject, to be refused there.
      commandSubject(roomId, (command as Partial<RoomCommand> | null)?.type),
      command,
      options.timeoutMs,
    );
    if (!reply.ok) throw new RoomRefusedError(reply.error);
    return reply;
  }

  create(roomId: string, args: CommandArgs<'create'>, options?: CallOptions) {
    return this.send(roomId, { type: 'create', ...args }, options);
  }
  join(roomId: string, args: CommandArgs<'join'>, options?: CallOptions) {
    return this.send(roomId, { type: 'join', ...args }, options);
  }
  leave(roomId: string, args: CommandArgs<'leave'>, options?: CallOptions) {
    return this.send(roomId, { type: 'leave', ...args }, options);
  }
  disconnect(roomId: string, args: CommandArgs<'disconnect'>, options?: CallOptions) {
    return this.send(roomId, { type: 'disconnect', ...args }, options);
  }
  resume(roomId: string, args: CommandArgs<'resume'>, options?: CallOptions) {
    return this.send(roomId, { type: 'resume', ...args }, options);
  }
  setStatus(roomId: string, args: CommandArgs<'set_status'>, options?: CallOptions) {
    return this.send(roomId, { type: 'set_status', ...args }, options);
  }
  kick(roomId: string, args: CommandArgs<'kick'>, options?: CallOptions) {
    return this.send(roomId, { type: 'kick', ...args }, options);
  }
  raiseHand(roomId: string, args: CommandArgs<'raise_hand'>, options?: CallOptions) {
    return this.send(roomId, { type: 'raise_hand', ...args }, options);
  }
  lowerHand(roomId: string, args: CommandArgs<'lower_hand'>, options?: CallOptions) {
    return this.send(roomId, { type: 'lower_hand', ...args }, options);
  }
  invite(roomId: string, args: CommandArgs<'invite'>, options?: CallOptions) {
    return this.send(roomId, { type: 'invite', ...args }, options);
  }
  demote(roomId: string, args: CommandArgs<'demote'>, options?: CallOptions) {
    return this.send(roomId, { type: 'demote', ...args }, options);
  }
  get(roomId: string, args: CommandArgs<'get'> = {}, options?: CallOptions) {
    return this.send(roomId, { type: 'get', ...args }, options);
  }
  /** Operators and tests: the room's whole state with its hash. */
  state(roomId: string, options?: CallOptions) {
    return this.send(roomId, { type: 'state' }, options);
  }
  streamPublish(roomId: string, args: CommandArgs<'stream_publish'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_publish', ...args }, options);
  }
  streamConfirm(roomId: string, args: CommandArgs<'stream_confirm'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_confirm', ...args }, options);
  }
  streamUnpublish(roomId: string, args: CommandArgs<'stream_unpublish'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_unpublish', ...args }, options);
  }
  streamPlay(roomId: string, args: CommandArgs<'stream_play'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_play', ...args }, options);
  }
  streamStop(roomId: string, args: CommandArgs<'stream_stop'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_stop', ...args }, options);
  }
  streamSync(roomId: string, args: CommandArgs<'stream_sync'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_sync', ...args }, options);
  }
  streamStatus(roomId: string, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_status' }, options);
  }
  /** SRS is down since `since`: the room's stream is unknown until the next sync. */
  streamUnknown(roomId: string, args: CommandArgs<'stream_unknown'>, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_unknown', ...args }, options);
  }
  streamExpire(roomId: string, options?: CallOptions) {
    return this.send(roomId, { type: 'stream_expire' }, options);
  }
}
