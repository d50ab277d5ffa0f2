/**
 * A running room machine and what its last command produced. The service (and
 * the tests) talk to a room only through `decide` and `replay`.
 */
import { createHash } from 'node:crypto';
import { createActor, type Actor, type Snapshot } from 'xstate';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { RoomEvent, RoomEventOf } from '#shared/room/room.events.js';
import { roomMachine } from './room.machine.js';
import type { CommandRefused, RoomEmitted, RoomMachineEvent } from './room.machine.events.js';
import type { RoomState } from '#shared/room/room.state.js';
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import { broadcastsOf } from './room.broadcast.js';

/** What one command did: the events to record, or why it was refused (never both empty and refused). */
export interface Decision {
  recorded: RoomEvent[];
  refused: CommandRefused | undefined;
  /** What members' gateways must hear of `recorded`, once the log holds it (room.broadcast.ts). */
  broadcasts: RoomBroadcast[];
}

type Command = Exclude<RoomMachineEvent, { type: 'replay' }>;

export class RoomActor {
  private emitted: RoomEmitted[] = [];
  private readonly actor: Actor<typeof roomMachine>;

  private constructor(
    options: { input: RoomEventOf<'room_created'> } | { snapshot: Snapshot<unknown> },
  ) {
    // With a snapshot the input is never read; xstate's types still ask for one.
    this.actor = createActor(roomMachine, options as { input: RoomEventOf<'room_created'> });
    // Emitted events are delivered synchronously inside `send`, so `decide` can
    // collect exactly the events of its own command.
    this.actor.on('*', (e) => this.emitted.push(e));
    this.actor.start();
  }

  /** True when `snapshot` is of a room that has ended (its machine is done). */
  static endedIn(snapshot: Snapshot<unknown>): boolean {
    return (snapshot as { status?: unknown }).status === 'done';
  }

  /** A new room, from its `room_created` event. */
  static create(created: RoomEventOf<'room_created'>): RoomActor {
    return new RoomActor({ input: created });
  }

  /**
   * True when `snapshot` has the room's current shape. A snapshot written before
   * members moved into books (room.book.ts) is not: the room is then rebuilt from
   * its log, which every version reads alike (snapshots are only a shortcut).
   */
  static restorable(snapshot: Snapshot<unknown>): boolean {
    const context = (snapshot as { context?: { members?: { buckets?: unknown }; stage?: unknown } })
      .context;
    const buckets = context?.members?.buckets;
    return (
      typeof buckets === 'object' &&
      buckets !== null &&
      !Array.isArray(buckets) &&
      Array.isArray(context?.stage)
    );
  }

  /** A room restored from a persisted snapshot (see `persisted`). */
  static restore(snapshot: Snapshot<unknown>): RoomActor {
    return new RoomActor({ snapshot });
  }

  /** A room rebuilt from its whole log. */
  static fromLog(events: readonly RoomEvent[]): RoomActor {
    const [first, ...rest] = events;
    if (first?.type !== 'room_created') throw new Error('a room log starts with room_created');
    const actor = RoomActor.create(first);
    for (const e of rest) actor.replay(e);
    return actor;
  }

  /** Sends a command and returns what it recorded or why it was refused. */
  decide(command: Command): Decision {
    const before = this.state;
    this.emitted = [];
    this.actor.send(command);
    const recorded: RoomEvent[] = [];
    let refused: CommandRefused | undefined;
    for (const e of this.emitted) {
      if (e.type === 'command_refused') refused = e;
      else recorded.push(e);
    }
    this.emitted = [];
    const broadcasts = recorded.length === 0 ? [] : broadcastsOf(before.roomId, before, recorded);
    return { recorded, refused, broadcasts };
  }

  /** Applies an event read from the log. */
  replay(event: RoomEvent): void {
    this.actor.send({ type: 'replay', event });
  }

  get state(): RoomState {
    return this.actor.getSnapshot().context;
  }

  /** The lifecycle state node: preparing, live or ended. */
  get status(): RoomStatus {
    // The machine's three state nodes are named after the statuses.
    return this.actor.getSnapshot().value;
  }

  /** True once the room has ended: the actor takes no more commands. */
  get ended(): boolean {
    return this.actor.getSnapshot().status === 'done';
  }

  /** The snapshot to store; `restore` brings the same room back. */
  persisted(): Snapshot<unknown> {
    return this.actor.getPersistedSnapshot();
  }

  stop(): void {
    this.actor.stop();
  }
}

/** JSON with object keys sorted, so equal states give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

/** SHA-256 of a room's lifecycle state and context: equal rooms, equal hashes. */
export function stateHash(room: RoomActor): string {
  return createHash('sha256')
    .update(canonical({ status: room.status, state: room.state }))
    .digest('hex');
}
