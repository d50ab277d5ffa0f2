/** Replies the room host sends: refusals, and what a joining or resuming member learns. */
import { ErrorCode, errorBody, type ErrorBody } from '#shared/wire/errors.js';
import type { Membership } from '#shared/room/room.commands.js';
import { memberOf, peersOf, type RoomState } from '#shared/room/room.state.js';
import type { Decision } from './room.actor.js';

/** A refusal with a stable code. */
export function fail(code: ErrorCode, message?: string): { ok: false; error: ErrorBody } {
  return { ok: false, error: errorBody(code, message) };
}

/** The refusal of a command the machine refused. */
export function refusal(d: Decision): { ok: false; error: ErrorBody } {
  return fail(d.refused?.code ?? ErrorCode.INTERNAL, d.refused?.message);
}

/** What member `peerId` learns when it joins or resumes with `resume`. */
export function membershipOf(s: RoomState, peerId: string, resume: string): Membership {
  const me = memberOf(s, peerId);
  return {
    peerId,
    role: me?.role ?? 'viewer',
    peers: peersOf(s).filter((p) => p.peerId !== peerId),
    status: s.status,
    resume,
    seq: s.seq,
    // Joining during an SRS outage: the `room_status` that said so came before this member.
    ...((s.stream.unknownSince ?? null) === null ? {} : { stream: 'unknown' as const }),
  };
}
