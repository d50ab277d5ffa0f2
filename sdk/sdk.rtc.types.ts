/**
 * The part of WebRTC the negotiation helper uses, typed structurally (the SDK
 * compiles without the DOM library; a browser's RTCPeerConnection fits these shapes).
 */

export interface SessionDescriptionLike {
  type: 'offer' | 'answer' | 'pranswer' | 'rollback';
  /** The SDP text: what the protocol's `sdp` field carries, as it is. */
  sdp?: string;
}

export interface CandidateLike {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface TrackLike {
  readonly kind: string;
}

export interface StreamLike {
  getTracks(): TrackLike[];
}

/** An RTCDtlsTransport: its `state` goes `closed` when the remote closes its peer connection. */
export interface DtlsTransportLike {
  readonly state: string;
  addEventListener(type: 'statechange', listener: () => void): void;
  removeEventListener(type: 'statechange', listener: () => void): void;
}

export interface TransceiverLike {
  direction: string;
  readonly receiver: { readonly track: TrackLike; readonly transport?: DtlsTransportLike | null };
  readonly sender: {
    readonly track: TrackLike | null;
    /** Set once a description is applied; absent in old browsers. */
    readonly transport?: DtlsTransportLike | null;
    replaceTrack(track: TrackLike | null): Promise<void>;
    /** Signals the track's stream (msid) so the remote's `track` event names it; absent in old browsers. */
    setStreams?(...streams: StreamLike[]): void;
  };
}

export interface PeerConnectionLike {
  readonly signalingState: string;
  readonly iceConnectionState: string;
  readonly connectionState: string;
  readonly remoteDescription: SessionDescriptionLike | null;
  readonly localDescription: SessionDescriptionLike | null;
  onnegotiationneeded: (() => void) | null;
  onicecandidate: ((e: { candidate: CandidateLike | null }) => void) | null;
  ontrack: ((e: { track: TrackLike; streams: readonly StreamLike[] }) => void) | null;
  oniceconnectionstatechange: (() => void) | null;
  onconnectionstatechange: (() => void) | null;
  setLocalDescription(description?: SessionDescriptionLike): Promise<void>;
  setRemoteDescription(description: SessionDescriptionLike): Promise<void>;
  addIceCandidate(candidate: CandidateLike): Promise<void>;
  addTrack(track: TrackLike, ...streams: StreamLike[]): unknown;
  addTransceiver(kind: string, init: { direction: string }): unknown;
  getTransceivers(): TransceiverLike[];
  restartIce(): void;
  setConfiguration(configuration: Record<string, unknown>): void;
  close(): void;
}

/** An RTCPeerConnection constructor (the global one in browsers). */
export type PeerConnectionConstructor = new (configuration: Record<string, unknown>) => object;
