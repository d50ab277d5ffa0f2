/**
 * The room service's NATS side: every replica hears every command on
 * `room.*.cmd`, `room.*.svc` and `room.*.ops`, answers only for the rooms it owns,
 * decodes and checks each command against its schema and against the subject it
 * came on (a stream command on a gateway's subject is refused, whatever the
 * server's permissions let through), and responds with what the room made of it.
 * A malformed or misplaced command is refused here, before any room sees it.
 */
import type { Msg, Subscription } from '@nats-io/nats-core';
import { decode, type Bus } from '#shared/runtime/bus.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { parseRoomCommand, type ParsedCommand } from '#shared/room/room.commands.schema.js';
import { subjects } from '#shared/wire/subjects.js';
import {
  channelOf,
  channelSubjects,
  type CommandChannel,
} from '#shared/room/room.command.channels.js';
import { readGatewayBeacon } from '#shared/wire/gateway.beacon.js';

export interface CommandSink {
  /** True when this replica answers for `roomId` now. */
  owns(roomId: string): boolean;
  /** Runs a checked command and resolves with its reply (never rejects). */
  run(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply>;
}

/** Subscribes to every room's commands; the subscriptions are the caller's to end. */
export function subscribeCommands(bus: Bus, sink: CommandSink): Subscription[] {
  return channelSubjects.map(({ channel, subject }) =>
    bus.subscribe(subject, (msg: Msg) => onCommand(bus, sink, channel, msg)),
  );
}

function onCommand(bus: Bus, sink: CommandSink, channel: CommandChannel, msg: Msg): void {
  const roomId = msg.subject.split('.')[1] ?? '';
  if (!sink.owns(roomId)) return; // its owner answers
  const parsed = parse(msg.data);
  if (!parsed.ok) {
    bus.respond(msg, parsed);
    return;
  }
  if (channelOf(parsed.command.type) !== channel) {
    bus.respond(msg, {
      ok: false,
      error: errorBody(
        ErrorCode.NOT_ALLOWED,
        `${parsed.command.type} is not accepted on ${channel}`,
      ),
    });
    return;
  }
  void sink.run(roomId, parsed.command).then((reply) => bus.respond(msg, reply));
}

/** Subscribes to the gateways' heartbeats: `seen(gateway)` for each. */
export function subscribeHeartbeats(bus: Bus, seen: (gateway: string) => void): Subscription {
  return bus.subscribe(subjects.gatewayHeartbeatAll, (msg: Msg) => {
    seen(readGatewayBeacon(msg.subject, msg.data).gateway);
  });
}

function parse(data: Uint8Array): ParsedCommand {
  try {
    return parseRoomCommand(decode<unknown>(data));
  } catch {
    return { ok: false, error: errorBody(ErrorCode.BAD_FRAME, 'command is not JSON') };
  }
}
