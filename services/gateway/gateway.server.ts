/**
 * The gateway: the only thing clients touch. uWebSockets.js serves `/signaling`
 * (WebSocket) and `/healthz`; every frame is checked at the edge and turned into
 * NATS traffic (room commands, peer-to-peer frames) and back.
 *
 * What must hold:
 * - The user id is the verified token's `sub`; nothing a client sends can change it.
 * - A bad frame gets an `error` frame with a stable code (or a documented close)
 *   and never affects another connection.
 * - Nothing is buffered for a client without bound: a slow reader is cut off.
 */
import { randomBytes } from 'node:crypto';
import type { TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import {
  CloseCode,
  ErrorCode,
  RoomcastError,
  errorBody,
  errorTable,
  type ErrorBody,
} from '#shared/wire/errors.js';
import { permsFor } from '#shared/auth/grants.js';
import type { Logger } from '#shared/runtime/log.js';
import { closeReason, type Metrics } from '#shared/runtime/metrics.js';
import {
  FrameError,
  PROTOCOL_VERSION,
  compileFrameParser,
  type ClientFrame,
  type ClientFrameOf,
  type FrameId,
  type FrameParser,
  type ServerFrame,
} from '#shared/wire/protocol.js';
import type { Membership } from '#shared/room/room.commands.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { parseResumeToken } from '#shared/room/resume.token.js';
import { encodeGatewayBeacon } from '#shared/wire/gateway.beacon.js';
import { encodeSignalFrame } from '#shared/wire/signal.frame.js';
import { SpanKind, isTracing, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import { toAuthError, type Verify } from '#shared/auth/auth.js';
import { Conn, inSocketCallback, type LocalMember, type WsData } from './gateway.conn.js';
import { sendJson } from './gateway.http.js';
import { registerHttp } from './gateway.routes.js';
import { FrameMetrics, RefusedFrame } from './gateway.metrics.js';
import { Rooms } from './gateway.rooms.js';
import type { Uws } from '#shared/runtime/uws.js';

export interface GatewayOptions {
  config: Config;
  bus: Bus;
  log: Logger;
  verify: Verify;
  uws: Uws;
  /** The registry frames and connections are counted in (main.ts serves it); a fresh one by default. */
  metrics?: Metrics;
}

const decoder = new TextDecoder();
/** Span names of client frames, made once. */
const spanNames = new Map<string, string>();
const spanName = (type: string): string => {
  let name = spanNames.get(type);
  if (name === undefined) {
    name = `ws ${type}`;
    spanNames.set(type, name);
  }
  return name;
};
/** How often connections are checked for auth and idle timeouts, in ms. */
const SWEEP_INTERVAL_MS = 1000;

export class Gateway {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private readonly conns = new Set<Conn>();
  private connSeq = 0;
  /** Upgrades waiting for their token to verify: they count against the connection limit. */
  private upgrading = 0;
  private readonly rooms: Rooms;
  private readonly roomClient: RoomClient;
  private readonly frames: FrameMetrics;
  private readonly parse: FrameParser;
  private readonly inflight = new Set<Promise<unknown>>();
  private timers: NodeJS.Timeout[] = [];
  private readonly cfg: Config['gateway'];
  private readonly id: string;
  port = 0;

  constructor(private readonly o: GatewayOptions) {
    this.cfg = o.config.gateway;
    this.id = o.config.gateway.id ?? 'gateway';
    this.frames = new FrameMetrics(o.metrics);
    this.parse = compileFrameParser({
      maxTokenBytes: o.config.auth.maxTokenBytes,
      maxSdpBytes: this.cfg.maxSdpBytes,
      maxCandidateBytes: this.cfg.maxCandidateBytes,
    });
    this.roomClient = new RoomClient(o.bus);
    this.rooms = new Rooms({
      bus: o.bus,
      gatewayId: this.id,
      localFastPath: this.cfg.localFastPath,
      resumeBuffer: { frames: this.cfg.resumeBufferFrames, bytes: this.cfg.resumeBufferBytes },
      log: o.log,
      frames: this.frames,
    });
    this.app = o.uws.App();
    this.routes();
  }

  /** Connections open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.cfg.host, this.cfg.port, (socket) => {
        if (socket === false) {
          reject(new Error(`gateway cannot listen on ${this.cfg.host}:${this.cfg.port}`));
          return;
        }
        this.listenSocket = socket;
        this.port = this.o.uws.us_socket_local_port(socket);
        this.timers.push(setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS));
        this.timers.push(
          setInterval(() => this.beacon(), Math.max(250, this.o.config.room.gatewayTimeoutMs / 3)),
        );
        this.beacon();
        resolve(this.port);
      });
    });
  }

  /**
   * Stops accepting, closes every connection with 1001 (their memberships are
   * kept for the resume grace, so clients can resume on another gateway), and
   * waits for the room service to hear of it.
   */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.listenSocket !== undefined) this.o.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const conn of [...this.conns]) conn.close(CloseCode.GOING_AWAY, 'gateway shutting down');
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise((r) => setTimeout(r, this.cfg.shutdownGraceMs).unref()),
    ]);
    for (const m of [...this.rooms.allMembers()]) this.rooms.remove(m);
    // Closes every remaining socket (HTTP keep-alives too); missing from the package's typings.
    (this.app as TemplatedApp & { close(): void }).close();
  }

  private routes(): void {
    this.app.ws<WsData>('/signaling', {
      maxPayloadLength: this.cfg.maxFrameBytes,
      // Our own check (Conn.send) cuts a slow reader with 4413 as soon as more than
      // maxBackpressureBytes wait. uWS's limit sits above it so that the close frame
      // still fits in the queue (at uWS's limit the close frame would be dropped too
      // and the client would only see the connection end, 1006); it remains a backstop.
      maxBackpressure: this.cfg.maxBackpressureBytes + 2 * this.cfg.maxFrameBytes,
      // Our own sweep closes idle connections with 4408; this is only a backstop.
      idleTimeout: Math.max(8, Math.ceil((2 * this.cfg.idleTimeoutMs) / 1000)),
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => {
        // Everything needed from `req` is copied now: it is gone after this call returns.
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        // getQuery() is undefined without a query string, whatever the typings say.
        const query = (req.getQuery() as string | undefined) ?? '';
        const token = new URLSearchParams(query).get('access_token');
        if (this.conns.size + this.upgrading >= this.cfg.maxConnections) {
          sendJson(res, errorTable.GATEWAY_FULL.httpStatus, {
            error: errorBody(ErrorCode.GATEWAY_FULL),
          });
          return;
        }
        const conn = new Conn(`${this.id}:${++this.connSeq}`, Date.now(), {
          ratePerS: this.cfg.rateLimitPerS,
          burst: this.cfg.rateLimitBurst,
          maxBackpressureBytes: this.cfg.maxBackpressureBytes,
        });
        if (token === null) {
          res.upgrade<WsData>({ conn }, key, protocol, extensions, context);
          return;
        }
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        this.upgrading++;
        this.o
          .verify(token)
          .then(
            (identity) => {
              conn.identity = identity;
            },
            (err: unknown) => {
              // Upgrade anyway: a browser cannot read an HTTP status, but it can read an error frame.
              conn.authError = toAuthError(err);
            },
          )
          .finally(() => {
            this.upgrading--;
            if (!aborted)
              res.cork(() => res.upgrade<WsData>({ conn }, key, protocol, extensions, context));
          });
      },
      open: (ws) => this.onOpen(ws),
      message: (ws, data, isBinary) =>
        inSocketCallback(() => this.onMessage(ws.getUserData().conn, data, isBinary)),
      pong: (ws) => {
        ws.getUserData().conn.lastSeen = Date.now();
      },
      close: (ws, code) => this.onClose(ws.getUserData().conn, code),
    });
    registerHttp(this.app, {
      config: this.o.config,
      bus: this.o.bus,
      log: this.o.log,
      verify: this.o.verify,
      rooms: this.roomClient,
      gatewayId: this.id,
      stats: () => ({ connections: this.conns.size, rooms: this.rooms.size }),
    });
  }

  private onOpen(ws: WebSocket<WsData>): void {
    const conn = ws.getUserData().conn;
    conn.ws = ws;
    this.conns.add(conn);
    this.frames.opened(this.conns.size);
    if (conn.authError !== undefined) {
      this.refuseAuth(conn, conn.authError);
      return;
    }
    if (conn.identity !== undefined) {
      this.send(conn, {
        type: 'authenticated',
        userId: conn.identity.userId,
        protocol: PROTOCOL_VERSION,
      });
    }
  }

  private onMessage(conn: Conn, data: ArrayBuffer, isBinary: boolean): void {
    const startedAt = performance.now();
    const now = Date.now();
    conn.lastSeen = now;
    if (!conn.takeToken(now)) {
      this.frames.in(RefusedFrame.rateLimited);
      if (++conn.strikes > this.cfg.rateLimitStrikes)
        conn.close(CloseCode.RATE_LIMITED, 'rate limit');
      else this.fail(conn, errorBody(ErrorCode.RATE_LIMITED));
      return;
    }
    conn.strikes = 0;
    if (isBinary) {
      this.frames.in(RefusedFrame.invalid);
      this.fail(conn, errorBody(ErrorCode.BINARY_FRAME));
      return;
    }
    let frame: ClientFrame;
    try {
      frame = this.parse(decoder.decode(data));
    } catch (err) {
      this.frames.in(RefusedFrame.invalid);
      if (!(err instanceof FrameError)) {
        this.fail(conn, errorBody(ErrorCode.BAD_FRAME));
      } else if (err.code === ErrorCode.TOKEN_INVALID && conn.identity === undefined) {
        // An `auth` frame whose token is refused before verifying (too long): the
        // same answer as any bad token, whichever way it came.
        this.refuseAuth(conn, err, err.frameId);
      } else {
        this.fail(conn, err.toBody(), err.frameId);
      }
      return;
    }
    this.frames.in(frame.type);
    // Tracing off costs this one check: no span, no closure, no attributes.
    if (isTracing()) this.traced(conn, frame, startedAt);
    else if (this.dispatch(conn, frame, startedAt) === undefined)
      this.frames.handled(frame.type, startedAt);
  }

  /**
   * Dispatches a frame inside a SERVER span (`ws <type>`) that lasts until its
   * handling is done; a `traceparent` the client sent is the span's parent, so the
   * client's trace continues through the gateway and everything it asks of NATS.
   */
  private traced(conn: Conn, frame: ClientFrame, startedAt: number): void {
    const work = withSpan(
      spanName(frame.type),
      {
        'roomcast.frame.type': frame.type,
        'roomcast.conn': conn.id,
        ...('room' in frame ? { 'roomcast.room': frame.room } : {}),
        ...(conn.identity === undefined ? {} : { 'enduser.id': conn.identity.userId }),
      },
      () => this.dispatch(conn, frame, startedAt),
      {
        kind: SpanKind.SERVER,
        ...(frame.traceparent === undefined ? {} : { parent: frame.traceparent }),
      },
    );
    if (work === undefined) this.frames.handled(frame.type, startedAt);
  }

  /**
   * Handles one frame. Synchronous handling returns `undefined`; asynchronous
   * handling returns its promise, which records the frame's duration when it
   * settles and never rejects.
   */
  private dispatch(conn: Conn, frame: ClientFrame, startedAt: number): Promise<void> | undefined {
    if (frame.type === 'ping') {
      this.send(conn, { type: 'pong', ts: frame.ts, id: frame.id });
      return undefined;
    }
    if (frame.type === 'auth')
      return this.track(conn, frame, this.authenticate(conn, frame), startedAt);
    if (conn.identity === undefined) {
      this.fail(conn, errorBody(ErrorCode.AUTH_REQUIRED), frame.id);
      return undefined;
    }
    switch (frame.type) {
      case 'join':
        return this.track(conn, frame, this.join(conn, frame), startedAt);
      case 'leave':
        return this.track(conn, frame, this.leave(conn, frame), startedAt);
      case 'resume':
        return this.track(conn, frame, this.resume(conn, frame), startedAt);
      case 'offer':
      case 'answer':
      case 'candidate':
        this.relay(conn, frame);
        return undefined;
    }
  }

  /**
   * Runs an async handler; its failure becomes an error frame, never an unhandled
   * rejection. Its duration is recorded when it settles.
   */
  private track(
    conn: Conn,
    frame: ClientFrame,
    work: Promise<void>,
    startedAt: number,
  ): Promise<void> {
    const p = work.then(
      () => this.frames.handled(frame.type, startedAt),
      (err: unknown) => {
        this.frames.handled(frame.type, startedAt);
        if (err instanceof RoomcastError) {
          setSpanAttributes({ 'roomcast.error.code': err.code });
          this.fail(conn, err.toBody(), frame.id);
          return;
        }
        this.o.log.error('handler failed', { conn: conn.id, err });
        this.fail(conn, errorBody(ErrorCode.INTERNAL), frame.id);
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  /** Sends a frame to one client, counted by type. */
  private send(conn: Conn, frame: ServerFrame): void {
    if (!conn.open) return;
    this.frames.out(frame.type);
    conn.sendFrame(frame);
  }

  private fail(conn: Conn, error: ErrorBody, id?: FrameId, room?: string): void {
    this.send(conn, { type: 'error', code: error.code, message: error.message, id, room });
  }

  /** Answers a refused token and ends the connection (4401). The log gets the reason, never the token. */
  private refuseAuth(conn: Conn, err: RoomcastError, id?: FrameId): void {
    this.o.log.info('authentication failed', {
      conn: conn.id,
      code: err.code,
      reason: err.message,
    });
    this.fail(conn, err.toBody(), id);
    conn.close(CloseCode.AUTH_FAILED, 'authentication failed');
  }

  private async authenticate(conn: Conn, frame: ClientFrameOf<'auth'>): Promise<void> {
    let identity;
    try {
      identity = await this.o.verify(frame.token);
    } catch (err) {
      const e = toAuthError(err);
      // A failed refresh leaves a working session alone; a failed first auth ends it.
      if (conn.identity === undefined) {
        this.refuseAuth(conn, e, frame.id);
      } else {
        this.o.log.info('token refresh failed', { conn: conn.id, code: e.code, reason: e.message });
        this.fail(conn, e.toBody(), frame.id);
      }
      return;
    }
    if (conn.identity !== undefined && conn.identity.userId !== identity.userId) {
      this.fail(
        conn,
        errorBody(ErrorCode.ALREADY_AUTHENTICATED, 'a refreshed token must be for the same user'),
        frame.id,
      );
      return;
    }
    conn.identity = identity;
    this.send(conn, {
      type: 'authenticated',
      userId: identity.userId,
      protocol: PROTOCOL_VERSION,
      id: frame.id,
    });
  }

  private async join(conn: Conn, frame: ClientFrameOf<'join'>): Promise<void> {
    const identity = conn.identity;
    if (identity === undefined) return;
    const { room, role, id } = frame;
    if (conn.memberships.has(room) || conn.isJoining(room)) {
      this.fail(conn, errorBody(ErrorCode.ALREADY_JOINED), id, room);
      return;
    }
    if (conn.memberships.size + conn.joiningCount >= this.cfg.maxRoomsPerConnection) {
      this.fail(conn, errorBody(ErrorCode.TOO_MANY_ROOMS), id, room);
      return;
    }
    conn.beginJoining(room);
    const view = this.rooms.acquire(room);
    const member = this.rooms.prepare(view, randomBytes(9).toString('base64url'), role);
    try {
      const reply = await this.roomClient.join(room, {
        peerId: member.peerId,
        userId: identity.userId,
        role,
        perms: permsFor(identity.grants, room),
        gateway: this.id,
        conn: conn.id,
      });
      if (conn.closed) {
        // The client left while the room was admitting it: give the place back.
        this.rooms.abandon(view, member);
        await this.leaveCommand(conn, identity.userId, member).catch(ignoreRefusal);
        return;
      }
      this.rooms.admit(view, conn, member, reply);
      this.send(conn, { type: 'joined', room, ...membershipFields(reply), id });
      member.attach(conn);
    } catch (err) {
      this.rooms.abandon(view, member);
      if (err instanceof RoomRefusedError) {
        this.fail(conn, err.body, id, room);
        return;
      }
      // No answer in time does not mean no join: a slow room may still admit the
      // peer, and nobody would ever take it out again (a ghost holding the publisher
      // slot). The room handles commands in order, so this leave follows that join.
      if (isUnavailable(err))
        this.background(this.leaveCommand(conn, identity.userId, member), room);
      throw err;
    } finally {
      conn.endJoining(room);
      this.rooms.release(view);
    }
  }

  private async resume(conn: Conn, frame: ClientFrameOf<'resume'>): Promise<void> {
    const identity = conn.identity;
    if (identity === undefined) return;
    const { room, id } = frame;
    const token = parseResumeToken(frame.resume);
    if (token === null) {
      this.fail(conn, errorBody(ErrorCode.RESUME_FAILED), id, room);
      return;
    }
    const { peerId } = token;
    if (conn.memberships.has(room) || conn.isJoining(room)) {
      this.fail(conn, errorBody(ErrorCode.ALREADY_JOINED), id, room);
      return;
    }
    conn.beginJoining(room);
    const view = this.rooms.acquire(room);
    this.rooms.beginResume(room, peerId);
    const held = view.local.get(peerId);
    const member = this.rooms.prepare(view, peerId, held?.role ?? 'viewer');
    try {
      const reply = await this.roomClient.resume(room, {
        token: frame.resume,
        userId: identity.userId,
        gateway: this.id,
        conn: conn.id,
      });
      this.rooms.admit(view, conn, member, reply);
      if (conn.closed) {
        // The room now holds the member on a connection that is gone: keep it here,
        // detached and buffering, and tell the room so that its grace clock runs.
        conn.memberships.delete(room);
        member.detach(Date.now());
        this.disconnect(conn, member);
        return;
      }
      this.send(conn, { type: 'resumed', room, ...membershipFields(reply), id });
      member.attach(conn);
    } catch (err) {
      // The room may still move the member onto this connection after we gave up;
      // the disconnect that follows it (commands are handled in order) starts the
      // grace clock instead of leaving the member attached to nothing.
      this.rooms.abandon(view, member);
      if (err instanceof RoomRefusedError) {
        this.fail(conn, err.body, id, room);
        return;
      }
      if (isUnavailable(err)) this.disconnect(conn, member);
      throw err;
    } finally {
      this.rooms.endResume(room, peerId);
      conn.endJoining(room);
      this.rooms.release(view);
    }
  }

  private async leave(conn: Conn, frame: ClientFrameOf<'leave'>): Promise<void> {
    const identity = conn.identity;
    const member = conn.memberships.get(frame.room);
    if (identity === undefined || member === undefined) {
      this.fail(conn, errorBody(ErrorCode.NOT_IN_ROOM), frame.id, frame.room);
      return;
    }
    try {
      await this.leaveCommand(conn, identity.userId, member);
    } catch (err) {
      if (!(err instanceof RoomRefusedError)) throw err;
      // Not in the room (any more) is what the client asked for.
      if (err.body.code !== ErrorCode.NOT_IN_ROOM && err.body.code !== ErrorCode.ROOM_ENDED) {
        this.fail(conn, err.body, frame.id, frame.room);
        return;
      }
    }
    this.rooms.remove(member);
    this.send(conn, { type: 'left', room: frame.room, id: frame.id });
  }

  /** offer / answer / candidate: to exactly the addressed peer, only within a room both are in. */
  private relay(conn: Conn, frame: ClientFrameOf<'offer' | 'answer' | 'candidate'>): void {
    const member = conn.memberships.get(frame.room);
    const view = member === undefined ? undefined : this.rooms.view(frame.room);
    if (member === undefined || view === undefined) {
      this.fail(conn, errorBody(ErrorCode.NOT_IN_ROOM), frame.id, frame.room);
      return;
    }
    const out = encodeSignalFrame(frame, member.peerId);
    if (!this.rooms.relay(view, frame.to, out, frame.type))
      this.fail(conn, errorBody(ErrorCode.PEER_NOT_FOUND), frame.id, frame.room);
  }

  private onClose(conn: Conn, code: number): void {
    conn.closed = true;
    conn.ws = undefined;
    this.conns.delete(conn);
    this.frames.closed(this.conns.size, closeReason(code));
    const now = Date.now();
    for (const member of conn.memberships.values()) {
      // Kept (and buffering) for the resume grace; the room starts the same clock.
      member.detach(now);
      this.disconnect(conn, member);
    }
    conn.memberships.clear();
  }

  /** Asks the room to let `member` of `conn`'s user go: the one leave every path sends. */
  private leaveCommand(conn: Conn, userId: string, member: LocalMember): Promise<unknown> {
    return this.roomClient.leave(member.room, {
      peerId: member.peerId,
      userId,
      gateway: this.id,
      conn: conn.id,
    });
  }

  /** Tells the room that `member` lost its connection `conn` (a no-op if it has moved on since). */
  private disconnect(conn: Conn, member: LocalMember): void {
    this.background(
      this.roomClient.disconnect(member.room, {
        peerId: member.peerId,
        gateway: this.id,
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
    const p = work
      .catch(ignoreRefusal)
      .catch((err: unknown) => this.o.log.warn('room command not delivered', { room, err }));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Auth and idle timeouts, token expiry, pings, and letting go of members that never came back. */
  private sweep(now: number): void {
    const auth = this.o.config.auth;
    for (const conn of this.conns) {
      if (conn.identity === undefined) {
        if (now - conn.openedAt > auth.timeoutMs) {
          this.fail(conn, errorBody(ErrorCode.AUTH_REQUIRED, 'no auth frame in time'));
          conn.close(CloseCode.TIMEOUT, 'auth timeout');
        }
      } else if (now - conn.lastSeen > this.cfg.idleTimeoutMs) {
        conn.close(CloseCode.TIMEOUT, 'idle timeout');
      } else if (conn.identity.expiresAt + auth.clockToleranceS * 1000 < now) {
        this.fail(
          conn,
          errorBody(ErrorCode.TOKEN_EXPIRED, 'token expired; reconnect with a new one and resume'),
        );
        conn.close(CloseCode.AUTH_FAILED, 'token expired');
      } else if (now - conn.lastPing >= this.cfg.heartbeatIntervalMs) {
        conn.lastPing = now;
        conn.ws?.ping();
      }
    }
    this.rooms.sweepDetached(now, this.o.config.room.resumeGraceMs + SWEEP_INTERVAL_MS);
  }

  /** Tells the room service this gateway (and so its members) is alive. */
  private beacon(): void {
    const { subject, beacon } = encodeGatewayBeacon(this.id, this.conns.size);
    this.o.bus.publish(subject, beacon);
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
  };
}
