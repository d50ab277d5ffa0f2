/**
 * Stand-ins for the SDK's in-process unit tests: a gateway behind a fake WebSocket
 * (answers `auth` and `join` as the protocol says), an RTCPeerConnection that
 * records what it was given, and JWT-shaped tokens.
 */

/** An unsigned JWT-shaped token with these claims (the SDK never verifies, only reads `exp`). */
export function fakeJwt(claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part(claims)}.sig`;
}

type Frame = Record<string, unknown> & { type: string };

/** What the fake gateway answers `join` with: `peers` and `peerId` of the joined member. */
export interface FakeGateway {
  peerId: string;
  peers: { peerId: string; userId: string; role: string }[];
  /** The `iceServers` of each `authenticated`, by how many were sent before it. */
  iceServers: (n: number) => unknown[];
  authenticated: number;
  sent: Frame[];
}

/** A WebSocket constructor whose sockets talk to `gw`. */
export function fakeSocket(gw: FakeGateway) {
  return class FakeSocket {
    readyState = 0;
    onopen: ((e: unknown) => void) | null = null;
    onmessage: ((e: { data: unknown }) => void) | null = null;
    onclose: ((e: { code: number; reason: string }) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    constructor(readonly url: string) {
      queueMicrotask(() => {
        this.readyState = 1;
        this.onopen?.({});
      });
    }
    send(text: string): void {
      const f = JSON.parse(text) as Frame;
      gw.sent.push(f);
      const reply = (r: object) =>
        queueMicrotask(() => this.onmessage?.({ data: JSON.stringify({ ...r, id: f.id }) }));
      if (f.type === 'auth')
        reply({
          type: 'authenticated',
          userId: 'u',
          protocol: 1,
          iceServers: gw.iceServers(gw.authenticated++),
        });
      if (f.type === 'join')
        reply({
          type: 'joined',
          room: f.room,
          peerId: gw.peerId,
          role: f.role,
          peers: gw.peers,
          status: 'preparing',
          resume: `${gw.peerId}.secret`,
          seq: 1,
        });
    }
    close(): void {
      this.readyState = 3;
      this.onclose?.({ code: 1000, reason: '' });
    }
  };
}

/** An RTCPeerConnection that records its configuration and what it was asked to send. */
export class FakePeerConnection {
  static made: FakePeerConnection[] = [];
  signalingState = 'stable';
  iceConnectionState = 'new';
  connectionState = 'new';
  remoteDescription = null;
  localDescription = null;
  onnegotiationneeded = null;
  onicecandidate = null;
  ontrack = null;
  oniceconnectionstatechange = null;
  onconnectionstatechange = null;
  transceivers: string[] = [];
  configurations: Record<string, unknown>[] = [];
  closed = false;
  constructor(configuration: Record<string, unknown>) {
    this.configurations.push(configuration);
    FakePeerConnection.made.push(this);
  }
  addTransceiver(kind: string, init: { direction: string }): void {
    this.transceivers.push(`${kind}:${init.direction}`);
  }
  setConfiguration(configuration: Record<string, unknown>): void {
    this.configurations.push(configuration);
  }
  close(): void {
    this.closed = true;
  }
}
