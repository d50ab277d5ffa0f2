/**
 * One peer connection to one remote peer, negotiated by the "perfect negotiation"
 * pattern (W3C WebRTC 1.0, §10.7): either side may send an offer whenever it needs
 * one (`negotiationneeded`: tracks added, `restartIce()`), and two offers that
 * cross are settled by a fixed politeness. The impolite side ignores an offer that
 * collides with its own; the polite side rolls its own back and answers. Who is
 * polite is decided by sdk.rtc.ts from the protocol's roles, never by timing.
 */
import type {
  CandidateLike,
  DtlsTransportLike,
  PeerConnectionLike,
  StreamLike,
  TrackLike,
} from './sdk.rtc.types.js';

export interface LinkSignals {
  /** Sends `offer` / `answer` (SDP text) or `candidate` to the remote peer. */
  description(type: 'offer' | 'answer', sdp: string): void;
  candidate(candidate: CandidateLike): void;
  track(track: TrackLike, streams: readonly StreamLike[]): void;
  state(state: string): void;
  /** Applying a remote description failed: the remote is a new peer connection (see `replace`). */
  broken(err: unknown): void;
  /** The remote closed its peer connection (DTLS `closed`), or this one went `closed`. */
  ended(): void;
}

/** The `a=fingerprint` of an SDP: a new one means the remote started a new peer connection. */
export function fingerprintOf(sdp: string): string | undefined {
  return /^a=fingerprint:(.+)$/m.exec(sdp)?.[1]?.trim();
}

export class PeerLink {
  private makingOffer = false;
  private ignoreOffer = false;
  /** `ended` is signalled once. */
  private ended = false;
  /** The DTLS transports followed, so that close() stops following them. */
  private readonly transports = new Set<DtlsTransportLike>();
  /** Those that were `connected`: only such a one going `closed` is the remote closing. */
  private readonly connected = new Set<DtlsTransportLike>();
  private readonly onTransport = () => {
    for (const t of this.inUse()) {
      if (t.state === 'connected') this.connected.add(t);
      else if (t.state === 'closed' && this.connected.has(t)) this.end();
    }
  };
  closed = false;

  constructor(
    readonly peerId: string,
    readonly pc: PeerConnectionLike,
    /** Read at each collision: roles may change (a viewer invited on stage). */
    private readonly isPolite: () => boolean,
    private readonly signals: LinkSignals,
  ) {
    pc.onnegotiationneeded = () => void this.offer();
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      if (c === null || c.candidate === '') return;
      this.signals.candidate({
        candidate: c.candidate,
        sdpMid: c.sdpMid ?? null,
        sdpMLineIndex: c.sdpMLineIndex ?? null,
        usernameFragment: c.usernameFragment ?? null,
      });
    };
    pc.ontrack = (e) => this.signals.track(e.track, e.streams);
    pc.onconnectionstatechange = () => {
      this.signals.state(pc.connectionState);
      this.watchTransports();
      if (pc.connectionState === 'closed') this.end();
    };
    pc.oniceconnectionstatechange = () => {
      // ICE restart on failure; a restart offer that crosses the other side's is settled like any glare.
      if (pc.iceConnectionState === 'failed') pc.restartIce();
    };
  }

  /** What this side sends: its tracks (sendrecv), or receive-only transceivers for `receive` kinds. */
  addMedia(stream: StreamLike | undefined, receive: readonly string[]): void {
    const tracks = stream?.getTracks() ?? [];
    for (const track of tracks) {
      if (stream !== undefined) this.pc.addTrack(track, stream);
    }
    for (const kind of receive) {
      if (!tracks.some((t) => t.kind === kind))
        this.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
  }

  /** An offer or answer from the remote peer. */
  async onDescription(
    type: 'offer' | 'answer',
    sdp: string,
    stream: StreamLike | undefined,
  ): Promise<void> {
    const pc = this.pc;
    const collision = type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
    this.ignoreOffer = !this.isPolite() && collision;
    if (this.ignoreOffer) return;
    try {
      // A polite side's pending offer is rolled back implicitly by setRemoteDescription.
      await pc.setRemoteDescription({ type, sdp });
      this.watchTransports();
      if (type !== 'offer') return;
      if (stream !== undefined) await this.sendTracks(stream);
      await pc.setLocalDescription();
      const answer = pc.localDescription?.sdp;
      if (answer !== undefined) this.signals.description('answer', answer);
    } catch (err) {
      this.signals.broken(err);
    }
  }

  async onCandidate(candidate: CandidateLike): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored are expected to fail.
      if (!this.ignoreOffer && !this.closed) this.signals.state(`candidate failed: ${String(err)}`);
    }
  }

  /** Restarts ICE (after a resume, when the connection did not survive the drop). */
  restart(): void {
    this.pc.restartIce();
  }

  close(): void {
    this.closed = true;
    for (const t of this.transports) t.removeEventListener('statechange', this.onTransport);
    this.transports.clear();
    this.connected.clear();
    const pc = this.pc;
    pc.onnegotiationneeded = pc.onicecandidate = pc.ontrack = null;
    pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
    pc.close();
  }

  /**
   * A remote that closes its peer connection (a tab closed, a page reloaded) sends
   * DTLS close_notify: the transport goes `closed` at once, long before ICE would
   * notice that nothing arrives. The transports exist once a description is applied.
   * An offer's transports of the m-lines after the first are closed when the answer
   * bundles them onto the first: never connected and no longer used, they are not the remote closing.
   */
  private watchTransports(): void {
    if (this.closed) return;
    for (const transport of this.inUse()) {
      if (this.transports.has(transport)) continue;
      this.transports.add(transport);
      transport.addEventListener('statechange', this.onTransport);
    }
    this.onTransport();
  }

  /** The DTLS transports the transceivers use now. */
  private inUse(): Set<DtlsTransportLike> {
    const used = new Set<DtlsTransportLike>();
    for (const t of this.pc.getTransceivers()) {
      const transport = t.sender.transport ?? t.receiver.transport;
      if (transport != null && t.direction !== 'stopped') used.add(transport);
    }
    return used;
  }

  private end(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    this.signals.ended();
  }

  private async offer(): Promise<void> {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.watchTransports();
      const sdp = this.pc.localDescription?.sdp;
      if (sdp !== undefined && this.pc.localDescription?.type === 'offer')
        this.signals.description('offer', sdp);
    } catch (err) {
      this.signals.state(`offer failed: ${String(err)}`);
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * The answering side sends its tracks on the transceivers the offer created (no
   * second negotiation); a track with no free transceiver is added, which makes this
   * side offer once the answer is done.
   */
  async sendTracks(stream: StreamLike): Promise<void> {
    const transceivers = this.pc.getTransceivers();
    for (const track of stream.getTracks()) {
      if (transceivers.some((t) => t.sender.track === track)) continue;
      const free = transceivers.find(
        (t) =>
          t.sender.track === null &&
          t.receiver.track.kind === track.kind &&
          t.direction !== 'stopped',
      );
      if (free === undefined) {
        this.pc.addTrack(track, stream);
        continue;
      }
      // The answer's direction is this one intersected with the offer's: sendonly to a receive-only viewer.
      free.direction = 'sendrecv';
      await free.sender.replaceTrack(track);
      // replaceTrack alone sends the track without its stream: the remote would get `streams: []`.
      free.sender.setStreams?.(stream);
    }
  }
}
