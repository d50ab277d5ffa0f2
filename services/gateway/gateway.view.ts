/**
 * A gateway's view of one room (kept by `Rooms`, gateway.rooms.ts): the members it
 * knows with their role, the room's status and `seq`, the local memberships, and
 * the room's two subscriptions.
 */
import type { Subscription } from '@nats-io/nats-core';
import type { Role, RoomStats, RoomStatus } from '#shared/wire/protocol.js';
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import { subjects } from '#shared/wire/subjects.js';
import type { LocalMember } from './gateway.conn.js';

/** What arrives on a room's broadcast subject: numbered news, and the unnumbered audience count. */
export type Incoming = RoomBroadcast | RoomStats;

/** The stage is the publisher and its co-hosts; `viewer` is the audience. */
export const onStage = (role: Role | undefined): boolean => role !== undefined && role !== 'viewer';

export class RoomView {
  /**
   * Members announced to this gateway, with their role: the stage (every member is
   * told of the stage, never of the audience). An audience member may address
   * only the stage members in it; only an announced member's departure is news.
   */
  readonly members = new Map<string, Role>();
  status: RoomStatus = 'preparing';
  seq = 0;
  synced = false;
  /** Broadcasts that arrived before the first reply: applied once it is known. */
  early: { b: RoomBroadcast; data: Uint8Array }[] = [];
  /** The newest `room_stats` heard: a member that joins gets it at once, not at the next change. */
  lastStats: Uint8Array | undefined;
  readonly local = new Map<string, LocalMember>();
  /** Memberships asked of the room and not granted yet: their signals are buffered. */
  readonly preparing = new Map<string, LocalMember>();
  /** Joins and resumes under way; the view is kept while any is. */
  pending = 0;
  sub: Subscription | undefined;
  sigSub: Subscription | undefined;
  /** `room.<id>.sig.`: what a signal's subject starts with, before the addressee's peer id. */
  readonly sigPrefixLength: number;

  constructor(readonly room: string) {
    this.sigPrefixLength = subjects.roomSignal(room, '').length;
  }
}
