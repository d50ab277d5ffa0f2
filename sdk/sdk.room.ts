/**
 * One membership of the client: the room's stage, raised hands, status and
 * audience count kept as state from the frames the gateway sends, and the room's
 * commands as promises. The client (sdk.client.ts) routes each frame naming this
 * room here and resumes the membership after a reconnect.
 *
 * `seq`: `joined` / `resumed` carry the room's sequence; room news numbered at or
 * below it is already reflected in them and is skipped, so a frame delivered twice
 * around a resume changes nothing.
 */
import { Emitter } from './sdk.emitter.js';
import type {
  FrameOf,
  PeerInfo,
  Role,
  RoomEvents,
  RoomSnapshot,
  RoomStatus,
  ServerFrame,
  StageAction,
} from './sdk.types.js';

/** What a room asks of its client: send a frame and wait for the reply carrying its id. */
export interface RoomTransport {
  request<T extends 'left' | 'stage_ok'>(
    frame: Record<string, unknown> & { type: string },
    reply: T,
  ): Promise<FrameOf<T>>;
  /** Sends a frame that has no reply (offer, answer, candidate). */
  send(frame: Record<string, unknown> & { type: string }): void;
  /** `PUT /api/rooms/:room {status}` with the client's current token. */
  setStatus(room: string, status: 'live' | 'ended'): Promise<void>;
  /** The ICE servers of the last `authenticated` frame (none when the gateway gives none). */
  readonly iceServers: readonly { urls: string | string[] }[];
}

type Membership = FrameOf<'joined'> | FrameOf<'resumed'>;

export class Room extends Emitter<RoomEvents> implements RoomSnapshot {
  readonly room: string;
  peerId: string;
  role: Role;
  status: RoomStatus;
  seq: number;
  /** The token that resumes this membership after a reconnect (it changes with every resume). */
  resumeToken: string;
  readonly members = new Map<string, PeerInfo>();
  readonly hands = new Map<string, PeerInfo>();
  stats: { viewers: number; peakViewers: number } | undefined;
  /** False once left, kicked, ended, or not resumed. */
  active = true;

  constructor(
    readonly transport: RoomTransport,
    joined: Membership,
  ) {
    super();
    this.room = joined.room;
    this.peerId = joined.peerId;
    this.role = joined.role;
    this.status = joined.status;
    this.seq = joined.seq;
    this.resumeToken = joined.resume;
    this.reset(joined);
  }

  /** Leaves for good: the place is freed at once (closing the socket keeps it for the grace period). */
  async leave(): Promise<void> {
    await this.transport.request({ type: 'leave', room: this.room }, 'left');
    this.close('left');
  }

  raiseHand(): Promise<FrameOf<'stage_ok'>> {
    return this.stage('raise_hand');
  }
  lowerHand(): Promise<FrameOf<'stage_ok'>> {
    return this.stage('lower_hand');
  }
  /** Brings `peerId`, whose hand is raised, on stage (owner, publisher or admin). */
  invite(peerId: string): Promise<FrameOf<'stage_ok'>> {
    return this.stage('invite', peerId);
  }
  /** Takes a co-host off the stage (owner, publisher, admin, or the co-host itself). */
  demote(peerId: string = this.peerId): Promise<FrameOf<'stage_ok'>> {
    return this.stage('demote', peerId);
  }

  /** Sets the room's status through the REST API (owner or admin only): `live` or `ended`. */
  setStatus(status: 'live' | 'ended'): Promise<void> {
    return this.transport.setStatus(this.room, status);
  }

  /** The stage member that publishes, if any. */
  get publisher(): PeerInfo | undefined {
    return [...this.members.values()].find((p) => p.role === 'publisher');
  }

  /** True while this member is on stage (publisher or co-host). */
  get onStage(): boolean {
    return this.role !== 'viewer';
  }

  private stage(action: StageAction, peer?: string): Promise<FrameOf<'stage_ok'>> {
    const frame = { type: action, room: this.room, ...(peer === undefined ? {} : { peer }) };
    return this.transport.request(frame, 'stage_ok');
  }

  /** A `joined` or `resumed` reply: the whole state again. */
  reset(m: Membership): void {
    this.peerId = m.peerId;
    this.role = m.role;
    this.status = m.status;
    this.seq = m.seq;
    this.resumeToken = m.resume;
    this.members.clear();
    // `peers` is the stage without you (never the audience); filtered anyway.
    for (const p of m.peers) if (p.peerId !== m.peerId) this.members.set(p.peerId, p);
    this.emit('change', undefined);
  }

  /** A frame naming this room (other than the replies its promises take). */
  apply(frame: ServerFrame): void {
    if ('seq' in frame && frame.type !== 'joined' && frame.type !== 'resumed') {
      if (frame.seq <= this.seq) return;
      this.seq = frame.seq;
    }
    switch (frame.type) {
      case 'peer_joined':
        if (frame.peer.peerId === this.peerId) this.role = frame.peer.role;
        else this.members.set(frame.peer.peerId, frame.peer);
        this.hands.delete(frame.peer.peerId);
        break;
      case 'peer_left':
        if (frame.peerId === this.peerId) this.role = 'viewer';
        this.members.delete(frame.peerId);
        break;
      case 'hand_raised':
        this.hands.set(frame.peer.peerId, frame.peer);
        break;
      case 'hand_lowered':
        this.hands.delete(frame.peerId);
        break;
      case 'room_stats':
        this.stats = { viewers: frame.viewers, peakViewers: frame.peakViewers };
        break;
      case 'room_status':
        this.status = frame.status;
        break;
      // Replies, signals and the rest change no state; they are emitted as they are.
      case 'joined':
      case 'resumed':
      case 'left':
      case 'stage_ok':
      case 'offer':
      case 'answer':
      case 'candidate':
      case 'kicked':
      case 'authenticated':
      case 'pong':
      case 'error':
        break;
    }
    this.emit(frame.type, frame);
    if (frame.type === 'kicked') this.close('kicked');
    else if (frame.type === 'room_status' && frame.status === 'ended') this.close('ended');
    else this.emit('change', undefined);
  }

  /** The membership is over; the client forgets it. */
  close(reason: RoomEvents['closed']['reason'], error?: RoomEvents['closed']['error']): void {
    if (!this.active) return;
    this.active = false;
    this.members.clear();
    this.hands.clear();
    this.emit('change', undefined);
    this.emit('closed', { reason, ...(error === undefined ? {} : { error }) });
  }

  /** Emits a frame that `apply` does not handle (a `resumed` after a reconnect). */
  notify<K extends keyof RoomEvents>(type: K, value: RoomEvents[K]): void {
    this.emit(type, value);
  }
}
