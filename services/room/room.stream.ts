/**
 * The room's rules for its SRS stream: who may take the publisher slot as an
 * encoder, when the room goes live, SRS players in the viewer seats, and what a
 * reconcile list from the SRS API changes. Pure functions of the state and the
 * command (time included), used by the room machine.
 *
 * Capacity: SRS players and signaling viewers share one `viewers` count and one
 * `maxViewers`: a seat is a seat, whichever way the picture reaches the viewer. The
 * publisher (stream or peer) never takes a seat.
 */
import { timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '#shared/wire/errors.js';

import type { RoomEvent, StreamStopReason } from '#shared/room/room.events.js';
import type { PublisherRef } from '#shared/room/room.events.js';
import type { Refusal, StreamMachineEvent } from './room.machine.events.js';
import { maySeeRoom, privacyOf } from '#shared/room/room.access.js';
import {
  applyEvent,
  streamViewerOf,
  streamViewersOf,
  viewersIfPlayed,
  type RoomState,
} from '#shared/room/room.state.js';

type Ev<T extends StreamMachineEvent['type']> = Extract<StreamMachineEvent, { type: T }>;

/** Who signs in to SRS as the publisher: the owner with the stream key, or a token's user. */
function publishUser(s: RoomState, e: Ev<'stream_publish'>): string | null {
  if (e.key !== null) return sameKey(e.key, s.streamKey) ? s.ownerId : null;
  if (e.userId === null) return null;
  return e.userId === s.ownerId || e.perms.publish ? e.userId : null;
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** True when `clientId` already holds the slot: a repeated on_publish changes nothing. */
export function holdsSlot(s: RoomState, clientId: string): boolean {
  return streamPublisher(s)?.clientId === clientId;
}

/** Why `stream_publish` is refused, or null. Credentials first, then the single slot. */
export function streamPublishRefusal(s: RoomState, e: Ev<'stream_publish'>): Refusal {
  if (holdsSlot(s, e.clientId)) return null;
  if (publishUser(s, e) === null) {
    return {
      code: ErrorCode.NOT_ALLOWED,
      message: e.key !== null ? 'wrong stream key' : 'no publish grant for this room',
    };
  }
  return s.publisher === null ? null : { code: ErrorCode.PUBLISHER_TAKEN };
}

export function streamPublishEvents(s: RoomState, e: Ev<'stream_publish'>): RoomEvent[] {
  const userId = publishUser(s, e);
  if (userId === null) return [];
  if (s.publisher !== null) {
    // Credentials were right: the contention is recorded, as for signaling publishers.
    return holdsSlot(s, e.clientId)
      ? []
      : [{ type: 'publisher_refused', v: 1, at: e.at, userId, reason: ErrorCode.PUBLISHER_TAKEN }];
  }
  return [
    {
      type: 'publisher_granted',
      v: 1,
      at: e.at,
      publisher: {
        kind: 'stream',
        clientId: e.clientId,
        userId,
        ...(e.serviceId === null ? {} : { serviceId: e.serviceId }),
      },
    },
  ];
}

/** Confirming the holder: recorded once per publish session. */
export function streamConfirmEvents(
  s: RoomState,
  clientId: string,
  streamId: string | null,
  at: number,
): RoomEvent[] {
  if (!holdsSlot(s, clientId) || s.stream.confirmedAt !== null) return [];
  const confirmed: RoomEvent = { type: 'stream_confirmed', v: 1, at, clientId, streamId };
  if (s.status !== 'preparing') return [confirmed];
  return [
    confirmed,
    { type: 'status_changed', v: 1, at, from: 'preparing', to: 'live', by: 'stream' },
  ];
}

/**
 * Releasing the slot of `clientId`. After a confirmed stream the absence is timed:
 * the publisher is declared gone after `graceMs`, the room ends after `endAfterMs`.
 */
export function streamReleaseEvents(
  s: RoomState,
  clientId: string,
  reason: StreamStopReason,
  timing: { at: number; graceMs: number; endAfterMs: number },
): RoomEvent[] {
  const p = streamPublisher(s);
  if (p?.clientId !== clientId) return [];
  const { at } = timing;
  const wasLive = s.stream.confirmedAt !== null;
  return [
    { type: 'publisher_released', v: 1, at, publisher: p },
    {
      type: 'stream_stopped',
      v: 1,
      at,
      clientId,
      reason,
      goneAt: wasLive ? at + timing.graceMs : null,
      endAt: wasLive ? at + Math.max(timing.graceMs, timing.endAfterMs) : null,
    },
  ];
}

/** Why `stream_play` is refused, or null. Permission before capacity, as for `join`. */
export function streamPlayRefusal(s: RoomState, e: Ev<'stream_play'>): Refusal {
  if (streamViewerOf(s, e.clientId) !== undefined) return null;
  if (!maySeeRoom(privacyOf(s), e.userId, e.perms)) {
    return {
      code: ErrorCode.NOT_ALLOWED,
      message: 'this room is private: play with a valid token in the URL',
    };
  }
  return viewersIfPlayed(s, e.userId) > s.settings.maxViewers
    ? { code: ErrorCode.ROOM_FULL }
    : null;
}

export function streamPlayEvents(s: RoomState, e: Ev<'stream_play'>): RoomEvent[] {
  if (streamViewerOf(s, e.clientId) !== undefined) return [];
  return [
    {
      type: 'stream_viewer_joined',
      v: 1,
      at: e.at,
      clientId: e.clientId,
      userId: e.userId,
      serviceId: e.serviceId,
    },
  ];
}

export function streamStopEvents(s: RoomState, e: Ev<'stream_stop'>): RoomEvent[] {
  return streamViewerOf(s, e.clientId) === undefined
    ? []
    : [{ type: 'stream_viewer_left', v: 1, at: e.at, clientId: e.clientId, reason: e.reason }];
}

/**
 * Whether a list from SRS process `serviceId`, as old as `cutoff`, may judge an
 * entry recorded at `at` by `entryService`: always when the entry belongs to an SRS
 * process that has since restarted; otherwise only when it is older than the list.
 */
function judgeable(
  entryAt: number,
  entryService: string | null | undefined,
  serviceId: string,
  cutoff: number,
): 'restarted' | 'old' | 'young' {
  if (entryService != null && entryService !== serviceId) return 'restarted';
  return entryAt < cutoff ? 'old' : 'young';
}

/**
 * What a reconcile list changes in the room, and which SRS clients it carries that
 * the room did not admit (the stream service kicks them):
 * - the slot's holder: confirmed when SRS shows it publishing; released when SRS no
 *   longer carries it and the list is not older than the grant;
 * - a publisher other than the holder: kicked (that is how a second encoder that got
 *   past the hooks is stopped);
 * - players the room counts but SRS no longer carries (a lost on_stop): seat freed;
 * - players SRS carries but the room does not count (the room missed them, e.g. a
 *   list read while they came and went): in a public room they take a free seat;
 *   without a free seat, or in a private room (their token cannot be checked again),
 *   they are kicked.
 */
export function streamSyncPlan(
  s: RoomState,
  e: Ev<'stream_sync'>,
): { events: RoomEvent[]; kick: string[] } {
  const cutoff = e.at - e.listAgeMs;
  const timing = { at: e.at, graceMs: e.graceMs, endAfterMs: e.endAfterMs };
  const events: RoomEvent[] = [];
  const kick: string[] = [];
  const p = streamPublisher(s);
  if (p !== undefined && e.publisher === p.clientId) {
    events.push(...streamConfirmEvents(s, p.clientId, e.streamId, e.at));
  } else if (p !== undefined) {
    const age = judgeable(s.stream.grantedAt ?? e.at, p.serviceId, e.serviceId, cutoff);
    if (age !== 'young') {
      const reason: StreamStopReason =
        age === 'restarted'
          ? 'srs_restarted'
          : s.stream.confirmedAt === null
            ? 'unconfirmed'
            : 'vanished';
      events.push(...streamReleaseEvents(s, p.clientId, reason, timing));
    }
  }
  if (e.publisher !== null && p?.clientId !== e.publisher) kick.push(e.publisher);

  const carried = new Set(e.viewers);
  // Seats are counted on the state as these events leave it (a user counted once).
  let seats = s;
  const record = (ev: RoomEvent) => {
    events.push(ev);
    seats = applyEvent(seats, ev);
  };
  for (const v of streamViewersOf(s)) {
    if (carried.has(v.clientId)) continue;
    const age = judgeable(v.at, v.serviceId, e.serviceId, cutoff);
    if (age === 'young') continue;
    record({
      type: 'stream_viewer_left',
      v: 1,
      at: e.at,
      clientId: v.clientId,
      reason: age === 'restarted' ? 'srs_restarted' : 'vanished',
    });
  }
  for (const clientId of new Set(e.viewers)) {
    if (streamViewerOf(s, clientId) !== undefined) continue;
    if (s.settings.isPrivate || viewersIfPlayed(seats, null) > s.settings.maxViewers) {
      kick.push(clientId);
      continue;
    }
    record({
      type: 'stream_viewer_joined',
      v: 1,
      at: e.at,
      clientId,
      userId: null,
      serviceId: e.serviceId,
    });
  }
  return { events, kick };
}

/** The SRS clients of this room's stream that the room did not admit. */
export function streamSyncKicks(s: RoomState, e: Ev<'stream_sync'>): string[] {
  return streamSyncPlan(s, e).kick;
}

/** Events due at `at` for a stream that stopped and did not come back. */
export function streamExpiredEvents(s: RoomState, at: number): RoomEvent[] {
  const st = s.stream;
  if (s.publisher !== null || st.goneAt === null) return [];
  const out: RoomEvent[] = [];
  if (!st.gone && st.goneAt <= at) out.push({ type: 'publisher_gone', v: 1, at, since: st.goneAt });
  if (st.endAt !== null && st.endAt <= at && s.status !== 'ended') {
    out.push({ type: 'status_changed', v: 1, at, from: s.status, to: 'ended', by: 'stream' });
  }
  return out;
}

/** SRS is down: recorded once per outage (the stream service may say it again). */
export function streamUnknownEvents(s: RoomState, e: Ev<'stream_unknown'>): RoomEvent[] {
  return (s.stream.unknownSince ?? null) === null
    ? [{ type: 'stream_unknown', v: 1, at: e.at, since: e.since }]
    : [];
}

/** A complete poll reached the room: an outage it was told of is over. */
function knownAgain(s: RoomState, at: number): RoomEvent[] {
  return (s.stream.unknownSince ?? null) === null ? [] : [{ type: 'stream_known', v: 1, at }];
}

/** The events a stream command records (none when refused, but a recorded contention). */
export function streamEvents(s: RoomState, e: StreamMachineEvent): RoomEvent[] {
  switch (e.type) {
    case 'stream_unknown':
      return streamUnknownEvents(s, e);
    case 'stream_publish':
      return streamPublishEvents(s, e);
    case 'stream_confirm':
      return streamConfirmEvents(s, e.clientId, e.streamId, e.at);
    case 'stream_unpublish':
      return streamReleaseEvents(s, e.clientId, e.reason, e);
    case 'stream_play':
      return streamPlayRefusal(s, e) === null ? streamPlayEvents(s, e) : [];
    case 'stream_stop':
      return streamStopEvents(s, e);
    case 'stream_sync':
      return [...knownAgain(s, e.at), ...streamSyncPlan(s, e).events];
  }
}

/** Why a stream command is refused, or null. Only publish and play can be refused. */
export function streamRefusal(s: RoomState, e: StreamMachineEvent): Refusal {
  if (e.type === 'stream_publish') return streamPublishRefusal(s, e);
  if (e.type === 'stream_play') return streamPlayRefusal(s, e);
  return null;
}

/** The stream publisher holding the slot, if a stream holds it. */
export function streamPublisher(
  s: RoomState,
): Extract<PublisherRef, { kind: 'stream' }> | undefined {
  return s.publisher?.kind === 'stream' ? s.publisher : undefined;
}

/** Deadlines of the stream's absence still to come: the room service arms a timer for each. */
export function streamDeadlines(s: RoomState): number[] {
  const out: number[] = [];
  if (s.stream.goneAt !== null && !s.stream.gone) out.push(s.stream.goneAt);
  if (s.stream.endAt !== null) out.push(s.stream.endAt);
  return out;
}
