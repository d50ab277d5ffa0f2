/**
 * The gateway's view of the rooms its clients are in: who else is a member (so a
 * frame to an unknown peer is refused at the edge), the room's status, and the
 * NATS subscriptions that bring a room's broadcasts and each local peer's frames.
 *
 * What must hold:
 * - Broadcasts apply in `seq` order, and a member only receives those newer than
 *   the state it was given when it joined (`LocalMember.seq`).
 * - Until the first join reply arrives, broadcasts are held back: the reply is the
 *   baseline, the held ones that are newer are applied on top of it.
 */
import type { Msg, Subscription } from '@nats-io/nats-core';
import { decode, type Bus } from '#shared/runtime/bus.js';
import type { Logger } from '#shared/runtime/log.js';
import type { Role, RoomStatus, ServerFrame } from '#shared/wire/protocol.js';
import type { Membership, RoomBroadcast } from '#shared/room/room.commands.js';
import { subjects } from '#shared/wire/subjects.js';
import { LocalMember, type Conn, type ResumeBufferLimits } from './gateway.conn.js';
import { signalFrameType } from '#shared/wire/signal.frame.js';
import type { FrameMetrics } from './gateway.metrics.js';
import type { ClientReplies } from './gateway.replies.js';

export class RoomView {
  /** Peer ids of every member, local or not: the addressees a frame may name. */
  readonly members = new Set<string>();
  status: RoomStatus = 'preparing';
  seq = 0;
  synced = false;
  /** Broadcasts that arrived before the first reply: applied once it is known. */
  early: { b: RoomBroadcast; data: Uint8Array }[] = [];
  readonly local = new Map<string, LocalMember>();
  /** Joins and resumes under way; the view is kept while any is. */
  pending = 0;
  sub: Subscription | undefined;

  constructor(readonly room: string) {}
}

export interface RoomsOptions {
  bus: Bus;
  gatewayId: string;
  localFastPath: boolean;
  resumeBuffer: ResumeBufferLimits;
  log: Logger;
  /** Where frames handed to clients are counted. */
  frames: FrameMetrics;
  /** How a frame of the gateway's own (`kicked`) reaches a client. */
  replies: ClientReplies;
}

export class Rooms {
  private readonly views = new Map<string, RoomView>();
  /** `room/peer` keys with a resume under way here: their `peer_resumed` is ours. */
  private readonly resuming = new Set<string>();

  constructor(private readonly o: RoomsOptions) {}

  get size(): number {
    return this.views.size;
  }

  view(room: string): RoomView | undefined {
    return this.views.get(room);
  }

  /** The view of `room`, subscribed to its broadcasts, held until `release`. */
  acquire(room: string): RoomView {
    let v = this.views.get(room);
    if (v === undefined) {
      const view = new RoomView(room);
      view.sub = this.o.bus.subscribe(subjects.roomBroadcast(room), (msg) =>
        this.onBroadcast(view, msg),
      );
      this.views.set(room, view);
      v = view;
    }
    v.pending++;
    return v;
  }

  release(view: RoomView): void {
    view.pending--;
    this.dropIfUnused(view);
  }

  beginResume(room: string, peerId: string): void {
    this.resuming.add(`${room}/${peerId}`);
  }

  endResume(room: string, peerId: string): void {
    this.resuming.delete(`${room}/${peerId}`);
  }

  /**
   * The membership `peerId` will have, subscribed to its frames before the room
   * is even asked: a peer that learns of it from the broadcast may address it at
   * once. Until `admit`, what arrives is buffered. A membership this gateway
   * already holds (a resume) is returned as it is.
   */
  prepare(view: RoomView, peerId: string, role: Role): LocalMember {
    const held = view.local.get(peerId);
    if (held !== undefined) return held;
    const member = new LocalMember(view.room, peerId, role, 0, this.o.resumeBuffer);
    member.sub = this.o.bus.subscribe(subjects.roomSignal(view.room, peerId), (msg) => {
      if (member.conn !== undefined) this.o.frames.out(signalFrameType(msg.data));
      member.deliver(msg.data);
    });
    return member;
  }

  /** Drops a prepared membership the room refused (unless it was already held). */
  abandon(view: RoomView, member: LocalMember): void {
    if (view.local.get(member.peerId) !== member) member.sub?.unsubscribe();
  }

  /**
   * Records a membership the room granted. The caller sends `joined`/`resumed` and
   * then calls `member.attach(conn)`, so that frame comes before any buffered one.
   */
  admit(view: RoomView, conn: Conn, member: LocalMember, m: Membership): void {
    this.sync(view, m);
    const previous = member.conn;
    if (previous !== undefined && previous !== conn) {
      // Resumed on a new connection while the old one still looked alive here.
      previous.memberships.delete(view.room);
      this.kick(previous, {
        type: 'kicked',
        room: view.room,
        reason: 'resumed on another connection',
      });
      member.detach(Date.now());
    }
    member.seq = m.seq;
    view.local.set(member.peerId, member);
    conn.memberships.set(view.room, member);
  }

  /** Ends a membership on this gateway (leave, kick, timeout, room ended). */
  remove(member: LocalMember): void {
    const view = this.views.get(member.room);
    member.sub?.unsubscribe();
    member.sub = undefined;
    if (member.conn?.memberships.get(member.room) === member)
      member.conn.memberships.delete(member.room);
    member.conn = undefined;
    if (view !== undefined && view.local.get(member.peerId) === member) {
      view.local.delete(member.peerId);
      this.dropIfUnused(view);
    }
  }

  /**
   * Sends a peer-to-peer frame (encoded for the receiver by `encodeSignalFrame`) to
   * `to`. Returns false when `to` is not a member of the
   * room as far as we know.
   */
  relay(
    view: RoomView,
    to: string,
    frame: string,
    type: 'offer' | 'answer' | 'candidate',
  ): boolean {
    if (!view.members.has(to)) return false;
    const local = this.o.localFastPath ? view.local.get(to) : undefined;
    if (local !== undefined) {
      if (local.conn !== undefined) this.o.frames.out(type);
      local.deliver(frame);
    } else this.o.bus.publishBytes(subjects.roomSignal(view.room, to), Buffer.from(frame));
    return true;
  }

  /** Members whose connection dropped longer ago than `graceMs` are let go. */
  sweepDetached(now: number, graceMs: number): void {
    for (const view of this.views.values()) {
      for (const m of view.local.values()) {
        if (m.conn === undefined && now - m.detachedAt > graceMs) this.remove(m);
      }
    }
  }

  /** Every membership held here, for shutdown. */
  *allMembers(): Generator<LocalMember> {
    for (const view of this.views.values()) yield* view.local.values();
  }

  private dropIfUnused(view: RoomView): void {
    if (view.pending > 0 || view.local.size > 0) return;
    view.sub?.unsubscribe();
    this.views.delete(view.room);
  }

  /** Sets the view from a join/resume reply when it is newer than what we know. */
  private sync(view: RoomView, m: Membership): void {
    if (!view.synced || m.seq > view.seq) {
      view.members.clear();
      for (const p of m.peers) view.members.add(p.peerId);
      view.members.add(m.peerId);
      view.status = m.status;
      view.seq = m.seq;
    } else {
      view.members.add(m.peerId);
    }
    if (!view.synced) {
      view.synced = true;
      const early = view.early;
      view.early = [];
      for (const e of early) this.apply(view, e.b, e.data);
    }
  }

  private onBroadcast(view: RoomView, msg: Msg): void {
    const b = decode<RoomBroadcast>(msg.data);
    if (!view.synced) {
      view.early.push({ b, data: msg.data });
      return;
    }
    this.apply(view, b, msg.data);
  }

  private apply(view: RoomView, b: RoomBroadcast, data: Uint8Array): void {
    if (b.type === 'room_stats') {
      // Not numbered (each one replaces the last): every local member gets it as it is.
      for (const m of view.local.values()) m.deliver(data);
      return;
    }
    if (b.seq <= view.seq) return;
    view.seq = b.seq;
    switch (b.type) {
      case 'hand_raised':
      case 'hand_lowered':
        break; // stage-only news: delivered once the stage lands in the gateway
      case 'peer_joined':
        view.members.add(b.peer.peerId);
        this.fanOut(view, b.type, b.seq, data, b.peer.peerId);
        break;
      case 'peer_left': {
        view.members.delete(b.peerId);
        const gone = view.local.get(b.peerId);
        if (gone !== undefined) {
          if (b.reason === 'kicked' && gone.conn !== undefined)
            this.kick(gone.conn, {
              type: 'kicked',
              room: view.room,
              reason: b.detail ?? 'kicked by the room',
            });
          this.remove(gone);
        }
        this.fanOut(view, b.type, b.seq, data, b.peerId);
        break;
      }
      case 'peer_resumed': {
        const held = view.local.get(b.peerId);
        const ours = b.gateway === this.o.gatewayId && held?.conn?.id === b.conn;
        if (held !== undefined && !ours && !this.resuming.has(`${view.room}/${b.peerId}`)) {
          // Resumed elsewhere: whatever this gateway still holds for the peer is stale.
          if (held.conn !== undefined)
            this.kick(held.conn, {
              type: 'kicked',
              room: view.room,
              reason: 'resumed on another connection',
            });
          this.remove(held);
        }
        break;
      }
      case 'room_status':
        view.status = b.status;
        this.fanOut(view, b.type, b.seq, data, undefined);
        if (b.status === 'ended') {
          for (const m of [...view.local.values()]) this.remove(m);
          view.members.clear();
        }
        break;
    }
  }

  /** Forwards the broadcast's bytes as they are (they are client frames) to local members. */
  private fanOut(
    view: RoomView,
    type: RoomBroadcast['type'],
    seq: number,
    data: Uint8Array,
    about: string | undefined,
  ): void {
    let sent = 0;
    for (const m of view.local.values()) {
      if (m.peerId === about || m.seq >= seq) continue;
      if (m.conn !== undefined) sent++;
      m.deliver(data, seq);
    }
    if (sent > 0) this.o.frames.out(type, sent);
  }

  private kick(conn: Conn, frame: Extract<ServerFrame, { type: 'kicked' }>): void {
    this.o.replies.send(conn, frame);
  }
}
