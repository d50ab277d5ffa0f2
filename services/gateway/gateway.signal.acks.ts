/**
 * The first signal from this gateway to each addressee is acknowledged; the rest go
 * as before.
 *
 * Why: a gateway subscribes to a room's signals (`room.<id>.sig.*`) when its first
 * member there joins, and in a NATS cluster that interest reaches the other nodes
 * over their routes in its own time, not in step with the join's reply and
 * broadcast, which travel other routes. A peer that addresses the new member at once
 * may publish on a node that has not heard of the interest yet, and the signal is
 * dropped there without a word (`npm run chaos -- --no-kills`: about 16 of 3,300
 * session offers per minute with the two gateways on different nodes, none with both
 * on one). NATS's "no responders" cannot tell: the sender's own gateway, holding the
 * room too, is interest enough. An acknowledged signal proves the path (the sender's
 * node knows the holder's interest, and keeps knowing it while the holder stays
 * subscribed), so only the first needs one.
 *
 * What must hold:
 * - Signals from this gateway to one addressee arrive in the order sent: until the
 *   first is acknowledged, later ones wait behind it.
 * - An unacknowledged first signal is sent again every `ackMs` with the same ack
 *   subject; the holder delivers it once (it remembers the ack subjects it delivered
 *   for as long as repeats can come) and acknowledges every copy.
 * - After `tries` sends the addressee is taken for gone and what waited is dropped
 *   (a signal to nobody always was). What waits is bounded by the per-connection
 *   frame limits over those tries.
 * - A peer announced as gone or moved (left, resumed elsewhere) is acknowledged anew.
 * - Every signal, first or not, leaves through one queue (the bus's held publishes),
 *   so a first signal never overtakes one sent before it to the same peer.
 */
import type { Msg, Subscription } from '@nats-io/nats-core';
import type { Bus } from '#shared/runtime/bus.js';
import { subjects } from '#shared/wire/subjects.js';

export interface SignalAckOptions {
  bus: Bus;
  gatewayId: string;
  /** GATEWAY_SIGNAL_ACK_MS */
  ackMs: number;
  /** GATEWAY_SIGNAL_ACK_TRIES */
  tries: number;
  /** GATEWAY_SIGNAL_ACKED_PER_ROOM */
  ackedPerRoom: number;
  /** GATEWAY_RELAY_HOLD_MS: every signal leaves through the bus's held queue, in order. */
  holdMs: number;
}

/** A first signal waiting for its acknowledgement, and what waits behind it. */
interface Probe {
  room: string;
  to: string;
  ack: string;
  first: Uint8Array;
  held: Uint8Array[];
  sends: number;
  timer?: NodeJS.Timeout;
}

const CONFIRMED = 'confirmed';
type Addressee = Probe | typeof CONFIRMED;

export class SignalAcks {
  private readonly rooms = new Map<string, Map<string, Addressee>>();
  private readonly probes = new Map<string, Probe>();
  /** Ack subjects of first signals delivered here, with when a repeat can no longer come. */
  private readonly delivered = new Map<string, number>();
  private readonly sub: Subscription;
  private n = 0;

  constructor(private readonly o: SignalAckOptions) {
    this.sub = o.bus.subscribe(subjects.signalAcks(o.gatewayId), (msg) => {
      // A status, not an acknowledgement: "no responders" (503) when the first signal
      // found no interest at all, which is the case this is here for.
      if (msg.headers?.hasError !== true) this.acked(msg.subject);
    });
  }

  /** Sends a signal to `to` in `room` through NATS (not a member of this gateway). */
  send(room: string, to: string, frame: Uint8Array): void {
    let peers = this.rooms.get(room);
    const known = peers?.get(to);
    if (known === CONFIRMED) {
      this.o.bus.publishHeld(subjects.roomSignal(room, to), frame, this.o.holdMs);
      return;
    }
    if (known !== undefined) {
      known.held.push(frame);
      return;
    }
    if (peers === undefined) {
      peers = new Map();
      this.rooms.set(room, peers);
    }
    const ack = subjects.signalAck(this.o.gatewayId, ++this.n);
    const probe: Probe = { room, to, ack, first: frame, held: [], sends: 0 };
    peers.set(to, probe);
    this.probes.set(ack, probe);
    this.sendProbe(probe);
  }

  /**
   * A signal arrived for this gateway's `room` (`here`: its addressee is a member
   * here). Acknowledges a first signal addressed here; false when it must not be
   * delivered (a repeat of one delivered already).
   */
  received(msg: Msg, here: boolean): boolean {
    const ack = msg.reply;
    if (ack === undefined || ack === '') return true;
    // Someone else's member (this gateway holds the room too): theirs to acknowledge.
    if (!here) return false;
    this.o.bus.respond(msg, null);
    const now = Date.now();
    for (const [key, until] of this.delivered) {
      if (until > now) break;
      this.delivered.delete(key);
    }
    if (this.delivered.has(ack)) return false;
    this.delivered.set(ack, now + this.o.ackMs * (this.o.tries + 1));
    return true;
  }

  /** `peerId` left `room` or moved to another connection: its next signal is acknowledged anew. */
  forgetPeer(room: string, peerId: string): void {
    const peers = this.rooms.get(room);
    if (peers?.get(peerId) === CONFIRMED) peers.delete(peerId);
  }

  /** This gateway no longer holds `room`: what waits for it is dropped. */
  forgetRoom(room: string): void {
    const peers = this.rooms.get(room);
    if (peers === undefined) return;
    for (const a of peers.values()) if (a !== CONFIRMED) this.drop(a);
    this.rooms.delete(room);
  }

  stop(): void {
    for (const probe of this.probes.values()) clearTimeout(probe.timer);
    this.probes.clear();
    this.rooms.clear();
    this.sub.unsubscribe();
  }

  private sendProbe(probe: Probe): void {
    probe.sends++;
    this.o.bus.publishHeld(
      subjects.roomSignal(probe.room, probe.to),
      probe.first,
      this.o.holdMs,
      probe.ack,
    );
    probe.timer = setTimeout(() => {
      if (probe.sends < this.o.tries) this.sendProbe(probe);
      else {
        this.drop(probe);
        this.rooms.get(probe.room)?.delete(probe.to);
      }
    }, this.o.ackMs);
    probe.timer.unref();
  }

  private acked(ack: string): void {
    const probe = this.probes.get(ack);
    if (probe === undefined) return;
    this.drop(probe);
    const peers = this.rooms.get(probe.room);
    if (peers === undefined) return;
    peers.delete(probe.to);
    // An audience is never announced leaving: past the bound the oldest is forgotten,
    // which costs it one acknowledged signal later.
    if (peers.size >= this.o.ackedPerRoom) {
      // Insertion order is age; probes are few, so the first confirmed one is near the front.
      for (const [peer, a] of peers) {
        if (a !== CONFIRMED) continue;
        peers.delete(peer);
        break;
      }
    }
    peers.set(probe.to, CONFIRMED);
    for (const frame of probe.held)
      this.o.bus.publishHeld(subjects.roomSignal(probe.room, probe.to), frame, this.o.holdMs);
  }

  private drop(probe: Probe): void {
    clearTimeout(probe.timer);
    this.probes.delete(probe.ack);
  }
}
