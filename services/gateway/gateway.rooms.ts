/**
 * The gateway's view of the rooms its clients are in: the room's stage (so that an
 * audience member's frame to anyone else is refused at the edge), the room's
 * status, and the two NATS subscriptions per room that bring its broadcasts
 * (`room.<id>.bcast`) and every peer's signals (`room.<id>.sig.*`), whatever the
 * number of local members: interest per gateway, never per peer.
 *
 * What must hold:
 * - Broadcasts apply in `seq` order, and a member only receives those newer than
 *   the state it was given when it joined (`LocalMember.seq`).
 * - Until the first join reply arrives, broadcasts are held back: the reply is the
 *   baseline, the held ones that are newer are applied on top of it.
 * - Both subscriptions exist before the room is asked to admit anyone (`acquire`
 *   precedes the join command), so a peer that learns of a new member may address it
 *   at once: a signal to a member prepared but not yet granted is buffered and handed
 *   over after `joined` (in a cluster, see gateway.signal.acks.ts).
 * - Signals from one sender to one addressee keep their order (one subject, one
 *   subscription; the local fast path delivers synchronously).
 * - What reaches a client is the bytes received from NATS, never re-encoded per member.
 */
import type { Msg } from '@nats-io/nats-core';
import { decode, type Bus } from '#shared/runtime/bus.js';
import type { Logger } from '#shared/runtime/log.js';
import type { Role, ServerFrame } from '#shared/wire/protocol.js';
import type { Membership, RoomBroadcast } from '#shared/room/room.commands.js';
import { subjects } from '#shared/wire/subjects.js';
import { LocalMember, type Conn, type ResumeBufferLimits } from './gateway.conn.js';
import { RoomView, onStage, type Incoming } from './gateway.view.js';
import { signalFrameType } from '#shared/wire/signal.frame.js';
import type { FrameMetrics } from './gateway.metrics.js';
import type { ClientReplies } from './gateway.replies.js';
import type { SignalAcks } from './gateway.signal.acks.js';

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
  /** Signals to members of other gateways, the first to each acknowledged. */
  acks: SignalAcks;
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

  /** The view of `room`, subscribed to its broadcasts and signals, held until `release`. */
  acquire(room: string): RoomView {
    let v = this.views.get(room);
    if (v === undefined) {
      const view = new RoomView(room);
      view.sub = this.o.bus.subscribe(subjects.roomBroadcast(room), (msg) =>
        this.onBroadcast(view, msg),
      );
      view.sigSub = this.o.bus.subscribe(
        subjects.roomSignalAll(room),
        (msg) => this.onSignal(view, msg),
        { consumed: true },
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

  /** Marks a resume of `peerId` under way here (`on`), or over: its `peer_resumed` is ours. */
  resumingHere(room: string, peerId: string, on: boolean): void {
    if (on) this.resuming.add(`${room}/${peerId}`);
    else this.resuming.delete(`${room}/${peerId}`);
  }

  /**
   * The membership `peerId` will have, receiving its signals before the room is
   * even asked: a peer that learns of it from the broadcast may address it at
   * once. Until `admit`, what arrives is buffered. A membership this gateway
   * already holds (a resume), or is already preparing, is returned as it is.
   */
  prepare(view: RoomView, peerId: string, role: Role): LocalMember {
    const held = view.local.get(peerId) ?? view.preparing.get(peerId);
    if (held !== undefined) return held;
    const member = new LocalMember(view.room, peerId, role, 0, this.o.resumeBuffer);
    view.preparing.set(peerId, member);
    return member;
  }

  /** Drops a prepared membership the room refused (unless it was already held). */
  abandon(view: RoomView, member: LocalMember): void {
    if (view.preparing.get(member.peerId) === member) view.preparing.delete(member.peerId);
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
    // A resume held elsewhere was prepared with a placeholder; the room knows the role.
    member.role = m.role;
    if (view.preparing.get(member.peerId) === member) view.preparing.delete(member.peerId);
    view.local.set(member.peerId, member);
    conn.memberships.set(view.room, member);
  }

  /** Ends a membership on this gateway (leave, kick, timeout, room ended). */
  remove(member: LocalMember): void {
    const view = this.views.get(member.room);
    if (member.conn?.memberships.get(member.room) === member)
      member.conn.memberships.delete(member.room);
    member.conn = undefined;
    if (view !== undefined && view.local.get(member.peerId) === member) {
      view.local.delete(member.peerId);
      this.dropIfUnused(view);
    }
  }

  /**
   * Sends a peer-to-peer frame of `from` (encoded for the receiver by
   * `encodeSignalFrame`) to `to`. An audience member may address the stage only:
   * false, and nothing sent, for anyone else. A stage member may address any peer
   * id: the audience is never announced, so the gateway cannot tell; a frame to
   * nobody finds no addressee on any gateway and is dropped there.
   */
  relay(
    view: RoomView,
    from: LocalMember,
    to: string,
    frame: string,
    type: 'offer' | 'answer' | 'candidate',
  ): boolean {
    if (!onStage(from.role) && !onStage(view.members.get(to))) return false;
    const local = this.o.localFastPath ? view.local.get(to) : undefined;
    if (local !== undefined) {
      if (local.conn !== undefined) this.o.frames.out(type);
      local.deliver(frame);
    } else this.o.acks.send(view.room, to, Buffer.from(frame));
    return true;
  }

  /** Members whose connection dropped longer ago than `graceMs` are let go. */
  sweepDetached(now: number, graceMs: number): void {
    for (const view of this.views.values())
      for (const m of view.local.values())
        if (m.conn === undefined && now - m.detachedAt > graceMs) this.remove(m);
  }

  /** Every membership held here, for shutdown. */
  *allMembers(): Generator<LocalMember> {
    for (const view of this.views.values()) yield* view.local.values();
  }

  private dropIfUnused(view: RoomView): void {
    if (view.pending > 0 || view.local.size > 0) return;
    view.sub?.unsubscribe();
    view.sigSub?.unsubscribe();
    this.views.delete(view.room);
    this.o.acks.forgetRoom(view.room);
  }

  /** Sets the view from a join/resume reply when it is newer than what we know. */
  private sync(view: RoomView, m: Membership): void {
    if (!view.synced || m.seq > view.seq) {
      view.members.clear();
      for (const p of m.peers) view.members.set(p.peerId, p.role);
      view.status = m.status;
      view.seq = m.seq;
    }
    // Known once announced: a stage member always is, an audience member only by a
    // room that announces its audience (then its own `peer_joined`, held back until
    // this first reply, says so; a later one is applied before its reply arrives).
    const announced = (e: { b: RoomBroadcast }) =>
      e.b.type === 'peer_joined' && e.b.peer.peerId === m.peerId;
    if (onStage(m.role) || view.early.some(announced)) view.members.set(m.peerId, m.role);
    if (!view.synced) {
      view.synced = true;
      const early = view.early;
      view.early = [];
      for (const e of early) this.apply(view, e.b, e.data);
    }
  }

  /** A signal to `room.<id>.sig.<peer>`: handed to that peer if it is a member here, else dropped. */
  private onSignal(view: RoomView, msg: Msg): void {
    const to = msg.subject.slice(view.sigPrefixLength);
    const member = view.local.get(to) ?? view.preparing.get(to);
    if (!this.o.acks.received(msg, member !== undefined) || member === undefined) return;
    if (member.conn !== undefined) this.o.frames.out(signalFrameType(msg.data));
    member.deliver(msg.data);
  }

  private onBroadcast(view: RoomView, msg: Msg): void {
    const b = decode<Incoming>(msg.data);
    if (b.type === 'room_stats') {
      this.stats(view, msg.data);
      return;
    }
    if (!view.synced) {
      view.early.push({ b, data: msg.data });
      return;
    }
    this.apply(view, b, msg.data);
  }

  private apply(view: RoomView, b: RoomBroadcast, data: Uint8Array): void {
    if (b.type === 'room_stats') return; // not numbered: handled as it arrives (onBroadcast)
    if (b.seq <= view.seq) return;
    view.seq = b.seq;
    switch (b.type) {
      case 'peer_joined': {
        view.members.set(b.peer.peerId, b.peer.role);
        const held = view.local.get(b.peer.peerId);
        // A local member announced again is one invited on stage: it sees its own news.
        const promoted = held !== undefined && !onStage(held.role) && onStage(b.peer.role);
        if (held !== undefined) held.role = b.peer.role;
        this.fanOut(view, b.type, b.seq, data, promoted ? undefined : b.peer.peerId);
        break;
      }
      case 'peer_left': {
        // News of a member never announced (audience: a kick the holding gateway
        // must act on) is acted on here and goes to no client.
        const announced = view.members.delete(b.peerId);
        this.o.acks.forgetPeer(view.room, b.peerId);
        const gone = view.local.get(b.peerId);
        if (b.reason === 'demoted') {
          // Off the stage, still in the room's audience: the membership stays.
          if (gone !== undefined) gone.role = 'viewer';
          this.fanOut(view, b.type, b.seq, data, undefined);
          break;
        }
        if (gone !== undefined) {
          if (b.reason === 'kicked' && gone.conn !== undefined)
            this.kick(gone.conn, {
              type: 'kicked',
              room: view.room,
              reason: b.detail ?? 'kicked by the room',
            });
          this.remove(gone);
        }
        if (announced) this.fanOut(view, b.type, b.seq, data, b.peerId);
        break;
      }
      case 'peer_resumed': {
        this.o.acks.forgetPeer(view.room, b.peerId);
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
      // Stage-only news (`scope: 'stage'`).
      case 'hand_raised':
      case 'hand_lowered':
        this.fanOut(view, b.type, b.seq, data, undefined, true);
        break;
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

  /**
   * Forwards the broadcast's bytes as they are (they are client frames) to local
   * members: all but `about`, or with `stageOnly` the stage members only.
   */
  private fanOut(
    view: RoomView,
    type: RoomBroadcast['type'],
    seq: number,
    data: Uint8Array,
    about: string | undefined,
    stageOnly = false,
  ): void {
    let sent = 0;
    for (const m of view.local.values()) {
      if (m.peerId === about || m.seq >= seq || (stageOnly && !onStage(m.role))) continue;
      if (m.conn !== undefined) sent++;
      m.deliver(data, seq);
    }
    if (sent > 0) this.o.frames.out(type, sent);
  }

  /** The room's newest `room_stats` to a member that was just attached, if one was heard. */
  sendStats(view: RoomView, member: LocalMember): void {
    if (view.lastStats === undefined || member.conn === undefined) return;
    member.deliver(view.lastStats);
    this.o.frames.out('room_stats', 1);
  }

  /** `room_stats` to every attached member (not kept for a detached one: each replaces the last). */
  private stats(view: RoomView, data: Uint8Array): void {
    view.lastStats = data; // for a member attached later (sendStats)
    let sent = 0;
    for (const m of view.local.values()) {
      if (m.conn === undefined) continue;
      sent++;
      m.deliver(data);
    }
    if (sent > 0) this.o.frames.out('room_stats', sent);
  }

  private kick(conn: Conn, frame: Extract<ServerFrame, { type: 'kicked' }>): void {
    this.o.replies.send(conn, frame);
  }
}
