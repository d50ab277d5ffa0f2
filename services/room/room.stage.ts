/**
 * The stage's rules: who may raise a hand, invite, demote, and the events each
 * accepted command records. Coming on stage takes consent (the member's raised
 * hand) and permission (the owner, the publisher or an admin invites); the stage
 * holds at most `stageMax` members, the publisher included. Pure functions of the
 * state and the command, used by the room machine.
 */
import { ErrorCode } from '#shared/wire/errors.js';
import type { RoomPerms } from '#shared/auth/grants.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { memberOf, viewersIfJoined, type RoomState } from '#shared/room/room.state.js';
import type { Ev, Refusal, RoomMachineEvent } from './room.machine.events.js';
import { mayAdminister } from './room.members.js';

type StageEvent = Ev<'raise_hand' | 'lower_hand' | 'invite' | 'demote'>;
const stageTypes = new Set<string>(['raise_hand', 'lower_hand', 'invite', 'demote']);
/** True for the stage's commands. */
export const isStageEvent = (e: RoomMachineEvent): e is StageEvent => stageTypes.has(e.type);

/** Never used: the guard has just found a refusal; this keeps the types honest. */
const internal = { code: ErrorCode.INTERNAL } as const;

interface Args {
  context: RoomState;
  event: RoomMachineEvent;
}

/**
 * The machine's transitions for the stage's commands: refuse (guard `stageRefused`),
 * or record what changed, possibly nothing. The same in preparing and live.
 */
export const stageHandlers = [
  {
    guard: 'stageRefused',
    actions: {
      type: 'refuse',
      params: ({ context, event }: Args) =>
        (isStageEvent(event) ? stageRefusal(context, event) : null) ?? internal,
    },
  },
  {
    actions: {
      type: 'record',
      params: ({ context, event }: Args) =>
        isStageEvent(event) ? stageEvents(context, event) : [],
    },
  },
] as const;

/** The owner, an admin, or whoever holds the publisher slot may run the stage. */
function mayRunStage(s: RoomState, userId: string, perms: RoomPerms): boolean {
  return mayAdminister(s, userId, perms) || s.publisher?.userId === userId;
}

const cohosts = (s: RoomState) => s.stage.filter((id) => memberOf(s, id)?.role === 'cohost').length;

/** Why a stage command is refused, or null (a command that changes nothing is not refused). */
export function stageRefusal(s: RoomState, e: StageEvent): Refusal {
  const m = memberOf(s, e.peerId);
  switch (e.type) {
    case 'raise_hand':
    case 'lower_hand':
      if (m === undefined || m.userId !== e.userId) return { code: ErrorCode.NOT_IN_ROOM };
      return m.role === 'viewer'
        ? null
        : { code: ErrorCode.NOT_ON_STAGE, message: 'already on stage' };
    case 'invite':
      if (!mayRunStage(s, e.userId, e.perms))
        return { code: ErrorCode.NOT_ALLOWED, message: 'only the owner, publisher or an admin' };
      if (m === undefined) return { code: ErrorCode.PEER_NOT_FOUND };
      if (m.role !== 'viewer') return null; // already on stage
      if (m.hand !== true) return { code: ErrorCode.HAND_NOT_RAISED };
      // The publisher's place is kept: co-hosts fill the stage up to one short of its cap.
      return cohosts(s) >= e.stageMax - 1 ? { code: ErrorCode.STAGE_FULL } : null;
    case 'demote':
      if (m === undefined) return { code: ErrorCode.PEER_NOT_FOUND };
      if (!mayRunStage(s, e.userId, e.perms) && m.userId !== e.userId)
        return { code: ErrorCode.NOT_ALLOWED, message: 'only the owner, publisher or an admin' };
      if (m.role !== 'cohost')
        return { code: ErrorCode.NOT_ON_STAGE, message: 'only a co-host leaves the stage' };
      return viewersIfJoined(s, m.userId) > s.settings.maxViewers
        ? { code: ErrorCode.ROOM_FULL, message: 'no audience seat to go back to' }
        : null;
  }
}

/** The events of an accepted stage command: none when it changes nothing. */
export function stageEvents(s: RoomState, e: StageEvent): RoomEvent[] {
  const m = memberOf(s, e.peerId);
  if (m === undefined) return [];
  const base = { v: 1, at: e.at, peerId: e.peerId } as const;
  switch (e.type) {
    case 'raise_hand':
      return m.hand === true ? [] : [{ type: 'hand_raised', ...base }];
    case 'lower_hand':
      return m.hand === true ? [{ type: 'hand_lowered', ...base }] : [];
    case 'invite':
      return m.role === 'viewer' ? [{ type: 'member_promoted', ...base, by: e.userId }] : [];
    case 'demote':
      return [{ type: 'member_demoted', ...base, by: e.userId }];
  }
}
