/**
 * WebRTC for one room: a peer connection per remote peer (sdk.link.ts), created and
 * negotiated by one rule that both ends compute alike from what the protocol tells
 * them.
 *
 * Who offers (and is impolite):
 * - audience ↔ stage: the audience member. The stage is never told of the audience
 *   (no `peer_joined` for viewers), so only the viewer can start; it offers to each
 *   stage member it learns of (`joined.peers`, `resumed.peers`, `peer_joined`).
 * - stage ↔ stage: the member whose peer id sorts first (plain string comparison).
 * The other side answers and is polite: when two offers cross (an ICE restart, new
 * tracks on both sides), it rolls its own back and answers; the impolite side
 * ignores the incoming offer and keeps its own.
 *
 * After a resume: a connection that is still `connected` is kept (only the signaling
 * socket dropped). Otherwise the offering side starts a fresh peer connection and
 * offers again; the answering side restarts ICE on its own. An offer whose DTLS
 * fingerprint differs from the current remote description comes from a new peer
 * connection (the other side reloaded): the link is replaced. ICE `failed` restarts ICE.
 *
 * A remote that closes its peer connection (a tab closed or reloaded) closes DTLS at
 * once: the link is closed then (`closed` emitted), not when ICE times out. A stage
 * member this side offers to is offered a fresh link, as after a resume; an audience
 * peer (or a stage member that offers to this side) is dropped, and offers anew if it returns.
 *
 * P2P rooms: media that flows peer-to-peer never reaches SRS, so nothing else sets
 * the room live. A publisher that publishes a stream through this helper sets a
 * `preparing` room `live` (`PUT /api/rooms/:id`, the room's `set_status`); only the
 * owner or an admin may, so a publisher that is neither gets a `NOT_ALLOWED` `error` event.
 */
import { Emitter } from './sdk.emitter.js';
import { PeerLink, fingerprintOf } from './sdk.link.js';
import type { Room } from './sdk.room.js';
import type {
  PeerConnectionConstructor,
  PeerConnectionLike,
  StreamLike,
  TrackLike,
} from './sdk.rtc.types.js';
import { RoomcastClientError } from './sdk.types.js';

export { PeerLink };

export interface RoomRtcOptions {
  /** Local media to send (a stage member's camera). Without it this side only receives. */
  stream?: StreamLike;
  /** Kinds to receive when offering without a track of that kind. Defaults to audio and video. */
  receive?: readonly ('audio' | 'video')[];
  /** The RTCPeerConnection constructor; defaults to the global one. */
  RTCPeerConnection?: PeerConnectionConstructor;
  /** More RTCConfiguration (e.g. `iceTransportPolicy: 'relay'`); `iceServers` defaults to the gateway's. */
  configuration?: Record<string, unknown>;
  /** A publisher with a stream sets a `preparing` room live. Defaults to true. */
  goLive?: boolean;
}

export interface RtcEvents {
  track: { peerId: string; track: TrackLike; streams: readonly StreamLike[] };
  /** A peer connection's `connectionState` (or a negotiation step that failed). */
  state: { peerId: string; state: string };
  /** The link to a peer was closed (it left, or its connection is being replaced). */
  closed: { peerId: string };
  error: RoomcastClientError;
}

/** Prefix of the `id` on relayed frames: a PEER_NOT_FOUND naming it closes that link. */
const SIG = 'sig:';

export class RoomRtc extends Emitter<RtcEvents> {
  readonly links = new Map<string, PeerLink>();
  private stream: StreamLike | undefined;
  private readonly PC: PeerConnectionConstructor;
  private readonly offs: (() => void)[];

  constructor(
    readonly room: Room,
    private readonly o: RoomRtcOptions = {},
  ) {
    super();
    this.stream = o.stream;
    const PC =
      o.RTCPeerConnection ??
      (globalThis as { RTCPeerConnection?: PeerConnectionConstructor }).RTCPeerConnection;
    if (PC === undefined)
      throw new TypeError('no RTCPeerConnection: pass the RTCPeerConnection option');
    this.PC = PC;
    const r = room;
    this.offs = [
      r.on('change', () => this.sync()),
      r.on('peer_left', (f) => {
        if (f.reason !== 'demoted') this.drop(f.peerId);
      }),
      r.on('resumed', () => this.afterResume()),
      r.on('offer', (f) => void this.onDescription(f.from, 'offer', f.sdp)),
      r.on('answer', (f) => void this.onDescription(f.from, 'answer', f.sdp)),
      r.on('candidate', (f) => void this.links.get(f.from)?.onCandidate(f.candidate)),
      r.on('error', (f) => {
        if (f.code === 'PEER_NOT_FOUND' && typeof f.id === 'string' && f.id.startsWith(SIG))
          this.drop(f.id.slice(SIG.length));
      }),
      r.on('authenticated', () => this.updateIceServers()),
      r.on('closed', () => this.close()),
    ];
    this.sync();
    void this.goLive();
  }

  /** True when this side offers to `peerId` (and is the impolite one). */
  offers(peerId: string): boolean {
    if (!this.room.members.has(peerId)) return false;
    if (this.room.role === 'viewer') return true;
    return this.room.peerId < peerId;
  }

  /** Starts sending `stream` on every link (and on those to come); a publisher's room goes live. */
  async publish(stream: StreamLike): Promise<void> {
    this.stream = stream;
    await Promise.all([...this.links.values()].map((l) => l.sendTracks(stream)));
    await this.goLive();
  }

  /** Closes every peer connection and stops following the room. */
  close(): void {
    for (const off of this.offs) off();
    for (const peerId of [...this.links.keys()]) this.drop(peerId);
  }

  /** Links to every stage member this side offers to. */
  private sync(): void {
    if (!this.room.active) return;
    for (const peerId of this.room.members.keys())
      if (this.offers(peerId) && !this.links.has(peerId)) this.link(peerId, true);
  }

  private afterResume(): void {
    for (const [peerId, link] of [...this.links]) {
      if (link.pc.connectionState === 'connected') continue;
      if (this.offers(peerId)) this.replace(peerId);
      else link.restart();
    }
    void this.goLive();
  }

  private async onDescription(from: string, type: 'offer' | 'answer', sdp: string): Promise<void> {
    let link = this.links.get(from);
    const known = link?.pc.remoteDescription?.sdp;
    if (type === 'offer' && known !== undefined && fingerprintOf(known) !== fingerprintOf(sdp)) {
      this.drop(from);
      link = undefined;
    }
    if (link === undefined) {
      if (type === 'answer') return;
      link = this.link(from, false);
    }
    await link.onDescription(type, sdp, this.stream);
  }

  private link(peerId: string, offerer: boolean): PeerLink {
    const pc = new this.PC(this.configuration()) as PeerConnectionLike;
    const room = this.room.room;
    const send = (frame: Record<string, unknown> & { type: string }) =>
      this.room.transport.send({ ...frame, room, to: peerId, id: `${SIG}${peerId}` });
    const link = new PeerLink(peerId, pc, () => !this.offers(peerId), {
      description: (type, sdp) => send({ type, sdp }),
      candidate: (candidate) => send({ type: 'candidate', candidate }),
      track: (track, streams) => this.emit('track', { peerId, track, streams }),
      state: (state) => this.emit('state', { peerId, state }),
      broken: () => this.replace(peerId),
      ended: () => this.ended(peerId, link),
    });
    this.links.set(peerId, link);
    // The offering side says what it sends and receives; adding them fires `negotiationneeded`.
    if (offerer) link.addMedia(this.stream, this.o.receive ?? ['audio', 'video']);
    return link;
  }

  /** A fresh peer connection: offered at once by the offering side, else waiting for the other's offer. */
  private replace(peerId: string): void {
    this.drop(peerId);
    if (this.offers(peerId)) this.link(peerId, true);
  }

  /** The remote closed its peer connection (see the rule above). */
  private ended(peerId: string, link: PeerLink): void {
    if (this.links.get(peerId) !== link) return;
    this.drop(peerId);
    if (this.room.active && this.offers(peerId)) this.link(peerId, true);
  }

  private drop(peerId: string): void {
    const link = this.links.get(peerId);
    if (link === undefined) return;
    this.links.delete(peerId);
    link.close();
    this.emit('closed', { peerId });
  }

  private configuration(): Record<string, unknown> {
    return { iceServers: this.room.transport.iceServers, ...this.o.configuration };
  }

  /** A refreshed token comes with fresh TURN credentials: later ICE restarts use them. */
  private updateIceServers(): void {
    for (const link of this.links.values()) {
      try {
        link.pc.setConfiguration(this.configuration());
      } catch {
        // A browser that refuses the change keeps the old servers until the link is replaced.
      }
    }
  }

  private async goLive(): Promise<void> {
    const r = this.room;
    if (this.o.goLive === false || this.stream === undefined) return;
    if (r.role !== 'publisher' || r.status !== 'preparing' || !r.active) return;
    try {
      await r.setStatus('live');
    } catch (err) {
      this.emit(
        'error',
        err instanceof RoomcastClientError
          ? err
          : new RoomcastClientError('UNAVAILABLE', `setting the room live: ${String(err)}`, r.room),
      );
    }
  }
}
