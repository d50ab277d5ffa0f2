/**
 * The room service's NATS side: every replica hears every command on
 * `room.*.cmd`, answers only for the rooms it owns, decodes and checks each command
 * against its schema, and responds with what the room made of it. A malformed
 * command is refused here, before any room sees it.
 */
import type { Msg, Subscription } from '@nats-io/nats-core';
import { decode, type Bus } from '#shared/runtime/bus.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { parseRoomCommand, type ParsedCommand } from '#shared/room/room.commands.schema.js';
import { subjects } from '#shared/wire/subjects.js';
import { readGatewayBeacon } from '#shared/wire/gateway.beacon.js';

export interface CommandSink {
  /** True when this replica answers for `roomId` now. */
  owns(roomId: string): boolean;
  /** Runs a checked command and resolves with its reply (never rejects). */
  run(roomId: string, cmd: RoomCommand): Promise<AnyRoomReply>;
}

/** Subscribes to every room's commands; the subscription is the caller's to end. */
export function subscribeCommands(bus: Bus, sink: CommandSink): Subscription {
  return bus.subscribe(subjects.roomCommandAll, (msg: Msg) => {
    const roomId = msg.subject.split('.')[1] ?? '';
    if (!sink.owns(roomId)) return; // its owner answers
    const parsed = parse(msg.data);
    if (!parsed.ok) {
      bus.respond(msg, parsed);
      return;
    }
    void sink.run(roomId, parsed.command).then((reply) => bus.respond(msg, reply));
  });
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
