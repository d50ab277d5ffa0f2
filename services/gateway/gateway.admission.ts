/**
 * One join or resume under way on a connection, from the request until the room's
 * answer. It owns the whole bookkeeping of getting into a room, so the handlers
 * (gateway.session.ts) only open it, admit or abandon, and end it:
 * - the connection's slot for the room: a second join or resume of the same room
 *   is refused meanwhile, and it counts against GATEWAY_MAX_ROOMS_PER_CONNECTION;
 * - the room's view, held (and subscribed to the room's broadcasts) until `end`;
 * - the membership, prepared before the room is asked, so that a peer that learns
 *   of it from the broadcast may address it at once (what arrives is buffered);
 * - for a resume, the claim on the peer's `peer_resumed` broadcast (ours, not a
 *   sign that the peer resumed elsewhere).
 */
import type { Role } from '#shared/wire/protocol.js';
import type { Membership } from '#shared/room/room.commands.js';
import type { Conn, LocalMember } from './gateway.conn.js';
import type { Rooms } from './gateway.rooms.js';
import type { RoomView } from './gateway.view.js';

export class Admission {
  /** The membership the room is asked to grant (for a resume, the one held here if any). */
  readonly member: LocalMember;
  private readonly view: RoomView;

  private constructor(
    private readonly rooms: Rooms,
    private readonly conn: Conn,
    readonly room: string,
    peerId: string,
    role: Role | undefined,
    private readonly resuming: boolean,
  ) {
    conn.beginJoining(room);
    this.view = rooms.acquire(room);
    if (resuming) rooms.resumingHere(room, peerId, true);
    // A resume keeps the role of the membership held here; for one held elsewhere
    // the role is a placeholder: the room's reply tells the client its role.
    this.member = rooms.prepare(
      this.view,
      peerId,
      role ?? this.view.local.get(peerId)?.role ?? 'viewer',
    );
  }

  /** A join of `room` as the new peer `peerId`. */
  static join(rooms: Rooms, conn: Conn, room: string, peerId: string, role: Role): Admission {
    return new Admission(rooms, conn, room, peerId, role, false);
  }

  /** A resume of `peerId`'s membership of `room`. */
  static resume(rooms: Rooms, conn: Conn, room: string, peerId: string): Admission {
    return new Admission(rooms, conn, room, peerId, undefined, true);
  }

  /**
   * Records the membership the room granted. The caller sends `joined`/`resumed`
   * and then calls `attach`, so that frame comes before any buffered one.
   */
  admit(reply: Membership): void {
    this.rooms.admit(this.view, this.conn, this.member, reply);
  }

  /** Hands the client what arrived for it meanwhile; from now on frames go straight to it. */
  attach(): void {
    this.member.attach(this.conn);
    // The audience count as it stands: the stats of this very join may have come first.
    this.rooms.sendStats(this.view, this.member);
  }

  /** The room refused or did not answer: drops the prepared membership (unless it was held already). */
  abandon(): void {
    this.rooms.abandon(this.view, this.member);
  }

  /** Gives back the slot, the claim and the view; always called, whatever the outcome. */
  end(): void {
    if (this.resuming) this.rooms.resumingHere(this.room, this.member.peerId, false);
    this.conn.endJoining(this.room);
    this.rooms.release(this.view);
  }
}
