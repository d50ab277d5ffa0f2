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
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { RoomEvent, RoomEventOf } from '#shared/room/room.events.js';
import { applyEvent, initialState, memberOf, type RoomState } from '#shared/room/room.state.js';
import { streamEvents, streamRefusal } from './room.stream.js';
import { isStageEvent, stageHandlers, stageRefusal } from './room.stage.js';
import {
  expiredEvents,
  joinEvents,
  joinRefusal,
  kickRefusal,
  mayAdminister,
  memberRefusal,
  publisherRefused,
  releaseIfPublisher,
  resumeRefusal,
  statusChanged,
} from './room.members.js';
import type {
  CommandRefused,
  Refusal,
  RoomEmitted,
  RoomMachineEvent,
  StreamMachineEvent,
} from './room.machine.events.js';

/** Never used: a guard has just found a refusal; this keeps the types honest. */
const internal = { code: ErrorCode.INTERNAL } as const;

const isStreamEvent = (e: RoomMachineEvent): e is StreamMachineEvent =>
  e.type.startsWith('stream_');

/** A stream command's events, or the expiry's: the two kinds of event that can move the status. */
function decidedEvents(s: RoomState, e: RoomMachineEvent): RoomEvent[] {
  // Pure, so the guards and the action of one transition, asking with the same state
  // and event, get the same events: no cache (it would be shared by every room).
  return e.type === 'expire' ? expiredEvents(s, e.at) : isStreamEvent(e) ? streamEvents(s, e) : [];
}

interface Args {
  context: RoomState;
  event: RoomMachineEvent;
}
const decided = ({ context, event }: Args) => decidedEvents(context, event);
const refusalOf = ({ context, event }: Args): Refusal =>
  isStreamEvent(event) ? streamRefusal(context, event) : null;

/**
 * Stream commands and expiry: record, or refuse. What they record may move the
 * status; the lifecycle node follows it (see `always` below).
 */
const streamHandlers = [
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
      const m = memberOf(context, event.peerId);
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
    stageRefused: ({ context, event }) =>
      isStageEvent(event) && stageRefusal(context, event) !== null,
    mayNotSetStatus: ({ context, event }) => (
      assertEvent(event, 'set_status'),
      !mayAdminister(context, event.userId, event.perms)
    ),
    wants: ({ event }, status: RoomStatus) =>
      event.type === 'set_status' && event.status === status,
    /** The status, stored once in the context: the lifecycle node only follows it. */
    is: ({ context }, status: RoomStatus) => context.status === status,
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
    raise_hand: stageHandlers,
    lower_hand: stageHandlers,
    invite: stageHandlers,
    demote: stageHandlers,
    expire: streamHandlers,
    stream_publish: streamHandlers,
    stream_confirm: streamHandlers,
    stream_unpublish: streamHandlers,
    stream_play: streamHandlers,
    stream_stop: streamHandlers,
    stream_sync: streamHandlers,
    stream_unknown: streamHandlers,
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
    replay: { actions: 'apply' },
  },
  // The status lives in one place, the context (`status`, set by the reducer as it
  // applies `status_changed`); the nodes follow it, so they can never disagree with it.
  states: {
    preparing: {
      always: [
        { guard: { type: 'is', params: 'ended' }, target: 'ended' },
        { guard: { type: 'is', params: 'live' }, target: 'live' },
      ],
      on: {
        set_status: [
          {
            guard: 'mayNotSetStatus',
            actions: { type: 'refuse', params: { code: ErrorCode.NOT_ALLOWED } },
          },
          {
            guard: { type: 'wants', params: 'live' },
            actions: {
              type: 'record',
              params: ({ context, event }) => statusChanged(context, event),
            },
          },
          {
            guard: { type: 'wants', params: 'ended' },
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
      always: { guard: { type: 'is', params: 'ended' }, target: 'ended' },
      on: {
        set_status: [
          {
            guard: 'mayNotSetStatus',
            actions: { type: 'refuse', params: { code: ErrorCode.NOT_ALLOWED } },
          },
          {
            guard: { type: 'wants', params: 'ended' },
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
