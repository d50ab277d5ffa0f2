/**
 * The signalling session's frame handlers, for every connection: `auth`, `join`,
 * `resume`, `leave` and the peer-to-peer relay, and what a closed connection means
 * for its memberships. Frames reach them validated (gateway.dispatch.ts); room
 * commands leave through RoomClient.
 *
 * What must hold:
 * - The user id is the verified token's `sub`; nothing a client sends can change it.
 * - A membership the room may have granted is never forgotten without telling the
 *   room (a ghost would hold its place): every path out ends in a leave or a disconnect.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '#config/config.js';
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import { permsFor } from '#shared/auth/grants.js';
import type { Logger } from '#shared/runtime/log.js';
import type { ClientFrameOf, FrameId } from '#shared/wire/protocol.js';
import type { Membership } from '#shared/room/room.commands.js';
import { RoomRefusedError, type RoomClient } from '#shared/room/room.client.js';
import { parseResumeToken } from '#shared/room/resume.token.js';
import { encodeSignalFrame } from '#shared/wire/signal.frame.js';
import { toAuthError, type Verify } from '#shared/auth/auth.js';
import { Admission } from './gateway.admission.js';
import type { Conn, LocalMember } from './gateway.conn.js';
import { authenticatedFrame } from './gateway.ice.js';
import { recheckRooms } from './gateway.regrant.js';
import type { ClientReplies } from './gateway.replies.js';
import type { Rooms } from './gateway.rooms.js';

export interface SessionsOptions {
  config: Config;
  gatewayId: string;
  verify: Verify;
  log: Logger;
  rooms: Rooms;
  roomClient: RoomClient;
  replies: ClientReplies;
}

export class Sessions {
  /** Work still under way (handlers, background commands): shutdown waits for it. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly replies: ClientReplies;
  private readonly rooms: Rooms;

  constructor(private readonly o: SessionsOptions) {
    this.replies = o.replies;
    this.rooms = o.rooms;
  }

  /** Keeps `p` until it settles, so that `settled` waits for it. */
  keep(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Resolves when the work under way now has settled, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
  }

  async authenticate(conn: Conn, frame: ClientFrameOf<'auth'>): Promise<void> {
    let identity;
    try {
      identity = await this.o.verify(frame.token);
    } catch (err) {
      const e = toAuthError(err);
      // A failed refresh leaves a working session alone; a failed first auth ends it.
      if (conn.identity === undefined) {
        this.replies.refuseAuth(conn, e, frame.id);
      } else {
        this.o.log.info('token refresh failed', { conn: conn.id, code: e.code, reason: e.message });
        this.replies.fail(conn, e.toBody(), frame.id);
      }
      return;
    }
    if (conn.identity !== undefined && conn.identity.userId !== identity.userId) {
      this.replies.fail(
        conn,
        errorBody(ErrorCode.ALREADY_AUTHENTICATED, 'a refreshed token must be for the same user'),
        frame.id,
      );
      return;
    }
    const refreshed = conn.identity !== undefined;
    conn.identity = identity;
    // New TURN credentials too: they expire with the token they were made for.
    this.replies.send(conn, authenticatedFrame(this.o.config, identity, frame.id));
    // A refresh may grant less: rooms whose grant is gone are left (gateway.regrant.ts).
    if (refreshed && conn.memberships.size > 0) {
      await recheckRooms(
        { ...this.o, leave: (c, userId, member) => this.leaveCommand(c, userId, member) },
        conn,
        identity,
      );
    }
  }

  async join(conn: Conn, frame: ClientFrameOf<'join'>): Promise<void> {
    const identity = conn.identity;
    if (identity === undefined) return;
    const { room, role, id } = frame;
    if (this.refusedAsBusy(conn, room, id)) return;
    if (conn.memberships.size + conn.joiningCount >= this.o.config.gateway.maxRoomsPerConnection) {
      this.replies.fail(conn, errorBody(ErrorCode.TOO_MANY_ROOMS), id, room);
      return;
    }
    const entry = Admission.join(
      this.rooms,
      conn,
      room,
      randomBytes(9).toString('base64url'),
      role,
    );
    const { member } = entry;
    try {
      const reply = await this.o.roomClient.join(room, {
        peerId: member.peerId,
        userId: identity.userId,
        role,
        perms: permsFor(identity.grants, room),
        gateway: this.o.gatewayId,
        conn: conn.id,
      });
      if (conn.closed) {
        // The client left while the room was admitting it: give the place back.
        entry.abandon();
        await this.leaveCommand(conn, identity.userId, member).catch(ignoreRefusal);
        return;
      }
      entry.admit(reply);
      this.replies.send(conn, { type: 'joined', room, ...membershipFields(reply), id });
      entry.attach();
    } catch (err) {
      entry.abandon();
      if (this.answeredRefusal(conn, err, id, room)) return;
      // No answer in time does not mean no join: a slow room may still admit the
      // peer, and nobody would ever take it out again (a ghost holding the publisher
      // slot). The room handles commands in order, so this leave follows that join.
      if (isUnavailable(err))
        this.background(this.leaveCommand(conn, identity.userId, member), room);
      throw err;
    } finally {
      entry.end();
    }
  }

  async resume(conn: Conn, frame: ClientFrameOf<'resume'>): Promise<void> {
    const identity = conn.identity;
    if (identity === undefined) return;
    const { room, id } = frame;
    const token = parseResumeToken(frame.resume);
    if (token === null) {
      this.replies.fail(conn, errorBody(ErrorCode.RESUME_FAILED), id, room);
      return;
    }
    if (this.refusedAsBusy(conn, room, id)) return;
    const entry = Admission.resume(this.rooms, conn, room, token.peerId);
    const { member } = entry;
    try {
      const reply = await this.o.roomClient.resume(room, {
        token: frame.resume,
        userId: identity.userId,
        gateway: this.o.gatewayId,
        conn: conn.id,
      });
      entry.admit(reply);
      if (conn.closed) {
        // The room now holds the member on a connection that is gone: keep it here,
        // detached and buffering, and tell the room so that its grace clock runs.
        conn.memberships.delete(room);
        member.detach(Date.now());
        this.disconnect(conn, member);
        return;
      }
      this.replies.send(conn, { type: 'resumed', room, ...membershipFields(reply), id });
      entry.attach();
    } catch (err) {
      entry.abandon();
      if (this.answeredRefusal(conn, err, id, room)) return;
      // The room may still move the member onto this connection after we gave up;
      // the disconnect that follows it (commands are handled in order) starts the
      // grace clock instead of leaving the member attached to nothing.
      if (isUnavailable(err)) this.disconnect(conn, member);
      throw err;
    } finally {
      entry.end();
    }
  }

  async leave(conn: Conn, frame: ClientFrameOf<'leave'>): Promise<void> {
    const identity = conn.identity;
    const member = conn.memberships.get(frame.room);
    if (identity === undefined || member === undefined) {
      this.replies.fail(conn, errorBody(ErrorCode.NOT_IN_ROOM), frame.id, frame.room);
      return;
    }
    try {
      await this.leaveCommand(conn, identity.userId, member);
    } catch (err) {
      if (!(err instanceof RoomRefusedError)) throw err;
      // Not in the room (any more) is what the client asked for.
      if (err.body.code !== ErrorCode.NOT_IN_ROOM && err.body.code !== ErrorCode.ROOM_ENDED) {
        this.replies.fail(conn, err.body, frame.id, frame.room);
        return;
      }
    }
    this.rooms.remove(member);
    this.replies.send(conn, { type: 'left', room: frame.room, id: frame.id });
  }

  /**
   * offer / answer / candidate: to exactly the addressed peer, only within a room
   * both are in; from the audience, only to the stage.
   */
  relay(conn: Conn, frame: ClientFrameOf<'offer' | 'answer' | 'candidate'>): void {
    const member = conn.memberships.get(frame.room);
    const view = member === undefined ? undefined : this.rooms.view(frame.room);
    if (member === undefined || view === undefined) {
      this.replies.fail(conn, errorBody(ErrorCode.NOT_IN_ROOM), frame.id, frame.room);
      return;
    }
    const out = encodeSignalFrame(frame, member.peerId);
    if (!this.rooms.relay(view, member, frame.to, out, frame.type))
      this.replies.fail(conn, errorBody(ErrorCode.PEER_NOT_FOUND), frame.id, frame.room);
  }

  /** The connection is gone: its memberships are kept (and buffer) for the resume grace. */
  closed(conn: Conn): void {
    const now = Date.now();
    for (const member of conn.memberships.values()) {
      // The room starts the same grace clock when it hears of it.
      member.detach(now);
      this.disconnect(conn, member);
    }
    conn.memberships.clear();
  }

  /** A room's refusal goes to the client as it is; true when `err` was one. */
  private answeredRefusal(
    conn: Conn,
    err: unknown,
    id: FrameId | undefined,
    room: string,
  ): boolean {
    if (!(err instanceof RoomRefusedError)) return false;
    this.replies.fail(conn, err.body, id, room);
    return true;
  }

  /** ALREADY_JOINED when `conn` is in `room` or on its way in; true when refused. */
  private refusedAsBusy(conn: Conn, room: string, id: FrameId | undefined): boolean {
    if (!conn.memberships.has(room) && !conn.isJoining(room)) return false;
    this.replies.fail(conn, errorBody(ErrorCode.ALREADY_JOINED), id, room);
    return true;
  }

  /** Asks the room to let `member` of `userId` go: the one leave every path sends. */
  private leaveCommand(conn: Conn, userId: string, member: LocalMember): Promise<unknown> {
    return this.o.roomClient.leave(member.room, {
      peerId: member.peerId,
      userId,
      gateway: this.o.gatewayId,
      conn: conn.id,
    });
  }

  /** Tells the room that `member` lost its connection `conn` (a no-op if it has moved on since). */
  private disconnect(conn: Conn, member: LocalMember): void {
    this.background(
      this.o.roomClient.disconnect(member.room, {
        peerId: member.peerId,
        gateway: this.o.gatewayId,
        conn: conn.id,
      }),
      member.room,
    );
  }

  /**
   * A room command nobody waits for; shutdown waits for it. A refusal is an answer
   * (nothing to do); a transport failure is only logged.
   */
  private background(work: Promise<unknown>, room: string): void {
    this.keep(
      work
        .catch(ignoreRefusal)
        .catch((err: unknown) => this.o.log.warn('room command not delivered', { room, err })),
    );
  }
}

/** Swallows a room's refusal (a command whose answer nobody needs); rethrows anything else. */
function ignoreRefusal(err: unknown): void {
  if (!(err instanceof RoomRefusedError)) throw err;
}

function isUnavailable(err: unknown): boolean {
  return err instanceof RoomcastError && err.code === ErrorCode.UNAVAILABLE;
}

function membershipFields(m: Membership): Membership {
  return {
    peerId: m.peerId,
    role: m.role,
    peers: m.peers,
    status: m.status,
    resume: m.resume,
    seq: m.seq,
    ...(m.stream === undefined ? {} : { stream: m.stream }),
  };
}
