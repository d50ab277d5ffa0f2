/**
 * One room as an xstate v5 machine: preparing → live → ended, and nothing else.
 *
 * The machine is pure: everything that is not a function of its state (the time,
 * new peer ids, hashes of resume secrets) arrives inside the command. Accepted
 * commands are turned into past-tense room events, applied with the same reducer
 * replay uses (`applyEvent`) and emitted to the service, which appends them to the
 * log before it answers. Refused commands emit `command_refused` with a stable code
 * and change nothing.
 */
import { assertEvent, emit, enqueueActions, setup } from 'xstate';
import { ErrorCode } from '#shared/wire/errors.js';
import type { RoomPerms } from '#shared/auth/grants.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import {
  joiningMember,
  type JoiningMember,
  type RoomEvent,
  type RoomEventOf,
} from '#shared/room/room.events.js';
import { maySeeRoom, privacyOf } from '#shared/room/room.access.js';
import { applyEvent, initialState, type RoomState } from '#shared/room/room.state.js';
import {
  reaches,
  streamEvents,
  streamExpiredEvents,
  streamRefusal,
  type StreamMachineEvent,
} from './room.stream.js';

interface Stamp {
  /** When the service received the command, ms since the epoch. */
  at: number;
}

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

type Ev<T extends RoomMachineEvent['type']> = Extract<RoomMachineEvent, { type: T }>;
type Refusal = { code: ErrorCode; message?: string } | null;

const isOwner = (s: RoomState, userId: string) => s.ownerId === userId;
const mayAdminister = (s: RoomState, userId: string, perms: RoomPerms) =>
  isOwner(s, userId) || perms.admin;

/** Why `join` is refused, or null. Order matters: permission before capacity. */
export function joinRefusal(s: RoomState, e: Ev<'join'>): Refusal {
  if (s.members[e.peerId] !== undefined) return { code: ErrorCode.ALREADY_JOINED };
  if (!maySeeRoom(privacyOf(s), e.userId, e.perms)) {
    return { code: ErrorCode.NOT_ALLOWED, message: 'this room is private' };
  }
  if (e.role === 'publisher') {
    if (!(isOwner(s, e.userId) || e.perms.publish))
      return { code: ErrorCode.NOT_ALLOWED, message: 'no publish grant for this room' };
    if (s.publisher !== null) return { code: ErrorCode.PUBLISHER_TAKEN };
  } else if (s.viewers >= s.settings.maxViewers) {
    return { code: ErrorCode.ROOM_FULL };
  }
  return null;
}

function memberRefusal(s: RoomState, peerId: string, userId: string): Refusal {
  const m = s.members[peerId];
  return m === undefined || m.userId !== userId ? { code: ErrorCode.NOT_IN_ROOM } : null;
}

function resumeRefusal(s: RoomState, e: Ev<'resume'>): Refusal {
  const m = s.members[e.peerId];
  if (m === undefined || m.userId !== e.userId || m.resumeHash !== e.resumeHash)
    return { code: ErrorCode.RESUME_FAILED };
  if (m.awayUntil !== null && m.awayUntil <= e.at) {
    return { code: ErrorCode.RESUME_FAILED, message: 'the resume grace period is over' };
  }
  return null;
}

function kickRefusal(s: RoomState, e: Ev<'kick'>): Refusal {
  if (!mayAdminister(s, e.userId, e.perms))
    return { code: ErrorCode.NOT_ALLOWED, message: 'only the owner or an admin may kick' };
  return s.members[e.peerId] === undefined ? { code: ErrorCode.PEER_NOT_FOUND } : null;
}

/** The publisher slot, if `peerId` holds it, as the event releasing it. */
function releaseIfPublisher(s: RoomState, peerId: string, at: number): RoomEvent[] {
  const p = s.publisher;
  return p?.kind === 'peer' && p.peerId === peerId
    ? [{ type: 'publisher_released', v: 1, at, publisher: p }]
    : [];
}

function joinEvents(s: RoomState, e: Ev<'join'>): RoomEvent[] {
  const joined: RoomEvent = { type: 'member_joined', v: 1, at: e.at, ...joiningMember(e) };
  if (e.role !== 'publisher') return [joined];
  return [
    joined,
    {
      type: 'publisher_granted',
      v: 1,
      at: e.at,
      publisher: { kind: 'peer', peerId: e.peerId, userId: e.userId },
    },
  ];
}

/** Members whose grace is over, then what the stream's absence has made due. */
function expiredEvents(s: RoomState, at: number): RoomEvent[] {
  const members = expiredMembers(s, at);
  return [...members, ...streamExpiredEvents(members.reduce(applyEvent, s), at)];
}

function expiredMembers(s: RoomState, at: number): RoomEvent[] {
  const out: RoomEvent[] = [];
  for (const m of Object.values(s.members)) {
    if (m.awayUntil !== null && m.awayUntil <= at) {
      out.push(
        { type: 'member_timed_out', v: 1, at, peerId: m.peerId },
        ...releaseIfPublisher(s, m.peerId, at),
      );
    }
  }
  return out;
}

function publisherRefused(e: Ev<'join'>): RoomEvent {
  return {
    type: 'publisher_refused',
    v: 1,
    at: e.at,
    userId: e.userId,
    reason: ErrorCode.PUBLISHER_TAKEN,
  };
}

/** Never used: a guard has just found a refusal; this keeps the types honest. */
const internal = { code: ErrorCode.INTERNAL } as const;

const statusChanged = (s: RoomState, e: Ev<'set_status'>): RoomEvent[] => [
  { type: 'status_changed', v: 1, at: e.at, from: s.status, to: e.status, by: e.userId },
];

const isStreamEvent = (e: RoomMachineEvent): e is StreamMachineEvent =>
  e.type.startsWith('stream_');

/** A stream command's events, or the expiry's: the two kinds of event that can move the status. */
function decidedEvents(s: RoomState, e: RoomMachineEvent): RoomEvent[] {
  // The guards and the action of one transition ask with the same state and event:
  // decide once. (Pure: the result is a function of the two objects.)
  if (last.s === s && last.e === e) return last.out;
  const out =
    e.type === 'expire' ? expiredEvents(s, e.at) : isStreamEvent(e) ? streamEvents(s, e) : [];
  last = { s, e, out };
  return out;
}
let last: { s: RoomState | null; e: RoomMachineEvent | null; out: RoomEvent[] } = {
  s: null,
  e: null,
  out: [],
};

interface Args {
  context: RoomState;
  event: RoomMachineEvent;
}
const decided = ({ context, event }: Args) => decidedEvents(context, event);
const refusalOf = ({ context, event }: Args): Refusal =>
  isStreamEvent(event) ? streamRefusal(context, event) : null;

/** Stream commands and expiry: record, move to `live`/`ended` when the events say so, refuse. */
const streamHandlers = [
  {
    guard: { type: 'decidesStatus', params: 'ended' },
    target: '.ended',
    actions: { type: 'record', params: decided },
  },
  {
    guard: { type: 'decidesStatus', params: 'live' },
    target: '.live',
    actions: { type: 'record', params: decided },
  },
  {
    actions: [
      { type: 'record', params: decided },
      { type: 'refuseIf', params: refusalOf },
    ],
  },
] as const;

export const roomMachine = setup({
  types: {
    context: {} as RoomState,
    input: {} as RoomEventOf<'room_created'>,
    events: {} as RoomMachineEvent,
    emitted: {} as RoomEmitted,
  },
  guards: {
    /** The slot is taken and the joiner could otherwise publish: recorded, so operators see the contention. */
    publisherTaken: ({ context, event }) => (
      assertEvent(event, 'join'),
      joinRefusal(context, event)?.code === ErrorCode.PUBLISHER_TAKEN
    ),
    joinRefused: ({ context, event }) => (
      assertEvent(event, 'join'),
      joinRefusal(context, event) !== null
    ),
    leaveRefused: ({ context, event }) => (
      assertEvent(event, 'leave'),
      memberRefusal(context, event.peerId, event.userId) !== null
    ),
    /** A disconnect for a connection that no longer holds the member (it resumed elsewhere) changes nothing. */
    disconnectStale: ({ context, event }) => {
      assertEvent(event, 'disconnect');
      const m = context.members[event.peerId];
      return m === undefined || m.conn !== event.conn || m.awayUntil !== null;
    },
    resumeRefused: ({ context, event }) => (
      assertEvent(event, 'resume'),
      resumeRefusal(context, event) !== null
    ),
    kickRefused: ({ context, event }) => (
      assertEvent(event, 'kick'),
      kickRefusal(context, event) !== null
    ),
    mayNotSetStatus: ({ context, event }) => (
      assertEvent(event, 'set_status'),
      !mayAdminister(context, event.userId, event.perms)
    ),
    wants: ({ event }, status: RoomStatus) =>
      event.type === 'set_status' && event.status === status,
    replays: ({ event }, to: RoomStatus) =>
      event.type === 'replay' && event.event.type === 'status_changed' && event.event.to === to,
    decidesStatus: ({ context, event }, to: RoomStatus) =>
      reaches(decidedEvents(context, event), to),
  },
  actions: {
    /** Applies and emits recorded events; the service appends them before it answers. */
    record: enqueueActions(({ enqueue }, events: RoomEvent[]) => {
      enqueue.assign(({ context }) => events.reduce(applyEvent, context));
      for (const e of events) enqueue.emit(e);
    }),
    refuse: emit((_, refusal: { code: ErrorCode; message?: string }): CommandRefused => ({
      type: 'command_refused',
      ...refusal,
    })),
    refuseIf: enqueueActions(({ enqueue }, refusal: Refusal) => {
      if (refusal !== null) enqueue.emit({ type: 'command_refused', ...refusal });
    }),
    /** Replay: the event is a fact, applied without deciding anything. */
    apply: enqueueActions(({ enqueue, event }) => {
      assertEvent(event, 'replay');
      enqueue.assign(({ context }) => applyEvent(context, event.event));
    }),
  },
}).createMachine({
  id: 'room',
  context: ({ input }) => initialState(input),
  initial: 'preparing',
  // Member commands mean the same in preparing and live; in ended (final) the actor
  // takes no events and the service answers ROOM_ENDED itself.
  on: {
    join: [
      {
        guard: 'publisherTaken',
        actions: [
          { type: 'record', params: ({ event }) => [publisherRefused(event)] },
          { type: 'refuse', params: { code: ErrorCode.PUBLISHER_TAKEN } },
        ],
      },
      {
        guard: 'joinRefused',
        actions: {
          type: 'refuse',
          params: ({ context, event }) => joinRefusal(context, event) ?? internal,
        },
      },
      { actions: { type: 'record', params: ({ context, event }) => joinEvents(context, event) } },
    ],
    leave: [
      {
        guard: 'leaveRefused',
        actions: { type: 'refuse', params: { code: ErrorCode.NOT_IN_ROOM } },
      },
      {
        actions: {
          type: 'record',
          params: ({ context, event }) => [
            { type: 'member_left', v: 1, at: event.at, peerId: event.peerId },
            ...releaseIfPublisher(context, event.peerId, event.at),
          ],
        },
      },
    ],
    disconnect: [
      { guard: 'disconnectStale' },
      {
        actions: {
          type: 'record',
          params: ({ event }) => [
            {
              type: 'member_disconnected',
              v: 1,
              at: event.at,
              peerId: event.peerId,
              conn: event.conn,
              awayUntil: event.awayUntil,
            },
          ],
        },
      },
    ],
    resume: [
      {
        guard: 'resumeRefused',
        actions: {
          type: 'refuse',
          params: ({ context, event }) => resumeRefusal(context, event) ?? internal,
        },
      },
      {
        actions: {
          type: 'record',
          params: ({ event }) => [
            {
              type: 'member_resumed',
              v: 1,
              at: event.at,
              peerId: event.peerId,
              gateway: event.gateway,
              conn: event.conn,
            },
          ],
        },
      },
    ],
    expire: streamHandlers,
    stream_publish: streamHandlers,
    stream_confirm: streamHandlers,
    stream_unpublish: streamHandlers,
    stream_play: streamHandlers,
    stream_stop: streamHandlers,
    stream_sync: streamHandlers,
    kick: [
      {
        guard: 'kickRefused',
        actions: {
          type: 'refuse',
          params: ({ context, event }) => kickRefusal(context, event) ?? internal,
        },
      },
      {
        actions: {
          type: 'record',
          params: ({ context, event }) => [
            {
              type: 'member_kicked',
              v: 1,
              at: event.at,
              peerId: event.peerId,
              by: event.userId,
              reason: event.reason,
            },
            ...releaseIfPublisher(context, event.peerId, event.at),
          ],
        },
      },
    ],
    replay: [
      { guard: { type: 'replays', params: 'live' }, target: '.live', actions: 'apply' },
      { guard: { type: 'replays', params: 'ended' }, target: '.ended', actions: 'apply' },
      { actions: 'apply' },
    ],
  },
  states: {
    preparing: {
      on: {
        set_status: [
          {
            guard: 'mayNotSetStatus',
            actions: { type: 'refuse', params: { code: ErrorCode.NOT_ALLOWED } },
          },
          {
            guard: { type: 'wants', params: 'live' },
            target: 'live',
            actions: {
              type: 'record',
              params: ({ context, event }) => statusChanged(context, event),
            },
          },
          {
            guard: { type: 'wants', params: 'ended' },
            target: 'ended',
            actions: {
              type: 'record',
              params: ({ context, event }) => statusChanged(context, event),
            },
          },
          // preparing → preparing: already there; nothing to record.
        ],
      },
    },
    live: {
      on: {
        set_status: [
          {
            guard: 'mayNotSetStatus',
            actions: { type: 'refuse', params: { code: ErrorCode.NOT_ALLOWED } },
          },
          {
            guard: { type: 'wants', params: 'ended' },
            target: 'ended',
            actions: {
              type: 'record',
              params: ({ context, event }) => statusChanged(context, event),
            },
          },
          {
            guard: { type: 'wants', params: 'preparing' },
            actions: {
              type: 'refuse',
              params: {
                code: ErrorCode.INVALID_TRANSITION,
                message: 'a live room cannot go back to preparing',
              },
            },
          },
          // live → live: already there; nothing to record.
        ],
      },
    },
    ended: { type: 'final' },
  },
});
