/**
 * The gateway: the only thing clients touch. uWebSockets.js serves `/signaling`
 * (WebSocket) and the HTTP routes (gateway.routes.ts); every frame is checked at
 * the edge and turned into NATS traffic (room commands, peer-to-peer frames) and back.
 *
 * This file is the transport and the composition root: the uWS app, upgrades,
 * sockets and their limits, the sweep and the beacon. A frame goes to
 * gateway.dispatch.ts (rate limit, parse, trace), whose handlers are the session's
 * (gateway.session.ts).
 *
 * What must hold:
 * - A connection's identity comes only from a verified token (`access_token` at
 *   the upgrade, or an `auth` frame).
 * - A bad frame gets an `error` frame with a stable code (or a documented close)
 *   and never affects another connection.
 * - Nothing is buffered for a client without bound: a slow reader is cut off.
 */
import type { TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import { CloseCode, ErrorCode, errorBody, errorTable } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import { closeReason, type Metrics } from '#shared/runtime/metrics.js';
import { compileFrameParser } from '#shared/wire/protocol.js';
import { RoomClient, roomLanes } from '#shared/room/room.client.js';
import { encodeGatewayBeacon } from '#shared/wire/gateway.beacon.js';
import { toAuthError, type Verify } from '#shared/auth/auth.js';
import type { Uws } from '#shared/runtime/uws.js';
import { Conn, inSocketCallback, type WsData } from './gateway.conn.js';
import { FrameDispatch } from './gateway.dispatch.js';
import { sendJson } from './gateway.http.js';
import { authenticatedFrame } from './gateway.ice.js';
import { FrameMetrics } from './gateway.metrics.js';
import { PreAuthLimit } from './gateway.preauth.js';
import { ClientReplies } from './gateway.replies.js';
import { GatewayRevocations } from './gateway.revocations.js';
import { registerRevocationRoutes } from './gateway.revocations.routes.js';
import { Rooms } from './gateway.rooms.js';
import { SignalAcks } from './gateway.signal.acks.js';
import { registerHttp } from './gateway.routes.js';
import { StageCommands } from './gateway.stage.js';
import { Sessions } from './gateway.session.js';

export interface GatewayOptions {
  config: Config;
  bus: Bus;
  log: Logger;
  verify: Verify;
  uws: Uws;
  /** The registry frames and connections are counted in (main.ts serves it); a fresh one by default. */
  metrics?: Metrics;
}

/** How often connections are checked for auth and idle timeouts, in ms. */
const SWEEP_INTERVAL_MS = 1000;
/** The longest `idleTimeout` uWebSockets.js accepts, in seconds. */
const UWS_MAX_IDLE_TIMEOUT_S = 960;

const decoder = new TextDecoder();

export class Gateway {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private readonly conns = new Set<Conn>();
  private connSeq = 0;
  /** Connections not yet authenticated, per remote address. */
  private readonly preAuth: PreAuthLimit;
  private readonly rooms: Rooms;
  private readonly acks: SignalAcks;
  private readonly roomClient: RoomClient;
  private readonly frames: FrameMetrics;
  private readonly replies: ClientReplies;
  private readonly sessions: Sessions;
  private readonly dispatch: FrameDispatch;
  private timers: NodeJS.Timeout[] = [];
  private readonly cfg: Config['gateway'];
  private readonly id: string;
  /** Revoked tokens and sessions: refused by `verify`, their sockets closed (4401). */
  private readonly revocations: GatewayRevocations;
  /** `o.verify`, refusing revoked tokens: the one every channel uses. */
  private readonly verify: Verify;
  port = 0;

  constructor(private readonly o: GatewayOptions) {
    this.cfg = o.config.gateway;
    this.id = o.config.gateway.id ?? 'gateway';
    this.preAuth = new PreAuthLimit(this.cfg.preAuthPerAddress);
    this.frames = new FrameMetrics(o.metrics);
    this.replies = new ClientReplies(this.frames, o.log);
    this.roomClient = new RoomClient(o.bus, roomLanes(o.config.nats));
    this.revocations = new GatewayRevocations({
      nc: o.bus.nc,
      auth: o.config.auth,
      replicas: o.config.nats.replicas,
      log: o.log,
      onChange: () => this.closeRevoked(),
    });
    this.verify = this.revocations.guard(o.verify);
    this.acks = new SignalAcks({
      bus: o.bus,
      gatewayId: this.id,
      ackMs: this.cfg.signalAckMs,
      tries: this.cfg.signalAckTries,
      ackedPerRoom: this.cfg.signalAckedPerRoom,
      holdMs: this.cfg.relayHoldMs,
    });
    this.rooms = new Rooms({
      bus: o.bus,
      gatewayId: this.id,
      localFastPath: this.cfg.localFastPath,
      resumeBuffer: { frames: this.cfg.resumeBufferFrames, bytes: this.cfg.resumeBufferBytes },
      log: o.log,
      frames: this.frames,
      replies: this.replies,
      acks: this.acks,
    });
    this.sessions = new Sessions({
      config: o.config,
      gatewayId: this.id,
      verify: this.verify,
      log: o.log,
      rooms: this.rooms,
      roomClient: this.roomClient,
      replies: this.replies,
    });
    this.dispatch = new FrameDispatch({
      config: this.cfg,
      parse: compileFrameParser({
        maxTokenBytes: o.config.auth.maxTokenBytes,
        maxSdpBytes: this.cfg.maxSdpBytes,
        maxCandidateBytes: this.cfg.maxCandidateBytes,
      }),
      frames: this.frames,
      replies: this.replies,
      sessions: this.sessions,
      stage: new StageCommands(this.roomClient, this.replies),
      log: o.log,
    });
    this.app = o.uws.App();
    this.routes();
  }

  /** Connections open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Room commands waiting here for a slot (the `room_commands_waiting` gauge). */
  get roomCommandsWaiting(): number {
    return this.roomClient.waiting;
  }

  /** Loads the revocations, then starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    // Before the first connection: a revoked token is refused from the start.
    await this.revocations.start();
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
    this.revocations.stop();
    if (this.listenSocket !== undefined) this.o.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const conn of [...this.conns]) conn.close(CloseCode.GOING_AWAY, 'gateway shutting down');
    await this.sessions.settled(this.cfg.shutdownGraceMs);
    for (const m of [...this.rooms.allMembers()]) this.rooms.remove(m);
    this.acks.stop();
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
      // Our own sweep closes idle connections with 4408; this is only a backstop,
      // within what uWS takes (above it, uWS aborts the process at listen).
      idleTimeout: Math.min(
        UWS_MAX_IDLE_TIMEOUT_S,
        Math.max(8, Math.ceil((2 * this.cfg.idleTimeoutMs) / 1000)),
      ),
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => {
        // Everything needed from `req` is copied now: it is gone after this call returns.
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        // getQuery() is undefined without a query string, whatever the typings say.
        const query = (req.getQuery() as string | undefined) ?? '';
        const token = new URLSearchParams(query).get('access_token');
        if (this.conns.size >= this.cfg.maxConnections) {
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
          // Without a token a connection costs a slot and proves nothing until its `auth`
          // frame: one address may hold only so many (a token's upgrade is verified at once,
          // then authenticated or closed). A plain HTTP answer, so that it reads as what it is.
          const release = this.preAuth.take(decoder.decode(res.getRemoteAddressAsText()));
          if (release === undefined) {
            sendJson(res, errorTable.RATE_LIMITED.httpStatus, {
              error: errorBody(
                ErrorCode.RATE_LIMITED,
                'too many connections from this address waiting to authenticate',
              ),
            });
            return;
          }
          conn.holdPreAuth(release);
          res.upgrade<WsData>({ conn }, key, protocol, extensions, context);
          return;
        }
        // Upgraded now and verified after (`verifyUpgrade`): never from a later callback.
        // uWS's upgrade inside `res.cork` (how an async upgrade must be made) can close
        // the new socket at once, without a close frame (1006): when the WebSocket lands
        // at the HTTP socket's address, the end of `cork` takes it for the HTTP response
        // still and may end it (seen in most CI runs, and in about one chaos run of three).
        conn.held = [];
        res.upgrade<WsData>({ conn }, key, protocol, extensions, context);
        void this.verifyUpgrade(conn, token);
      },
      open: (ws) => this.onOpen(ws),
      message: (ws, data, isBinary) =>
        inSocketCallback(() => this.dispatch.onMessage(ws.getUserData().conn, data, isBinary)),
      pong: (ws) => {
        ws.getUserData().conn.lastSeen = Date.now();
      },
      close: (ws, code) => this.onClose(ws.getUserData().conn, code),
    });
    const http = {
      config: this.o.config,
      bus: this.o.bus,
      log: this.o.log,
      verify: this.verify,
      rooms: this.roomClient,
      gatewayId: this.id,
      stats: () => ({ connections: this.conns.size, rooms: this.rooms.size }),
    };
    registerHttp(this.app, http, [
      (app, ctx) => registerRevocationRoutes(app, ctx, this.revocations),
    ]);
  }

  private onOpen(ws: WebSocket<WsData>): void {
    const conn = ws.getUserData().conn;
    conn.ws = ws;
    this.conns.add(conn);
    this.frames.opened(this.conns.size);
  }

  /**
   * The `access_token` of an upgrade: `authenticated`, or the refusal and a close
   * (a browser cannot read an HTTP status, but it can read an error frame). Frames the
   * client sent meanwhile are handled after, in order.
   */
  private async verifyUpgrade(conn: Conn, token: string): Promise<void> {
    try {
      conn.identity = await this.verify(token);
      if (conn.open) this.replies.send(conn, authenticatedFrame(this.o.config, conn.identity));
    } catch (err) {
      if (conn.open) this.replies.refuseAuth(conn, toAuthError(err));
    }
    this.dispatch.release(conn);
  }

  private onClose(conn: Conn, code: number): void {
    conn.closed = true;
    conn.releasePreAuth();
    conn.ws = undefined;
    this.conns.delete(conn);
    this.frames.closed(this.conns.size, closeReason(code));
    this.sessions.closed(conn);
  }

  /** Auth and idle timeouts, token expiry, pings, and letting go of members that never came back. */
  private sweep(now: number): void {
    const auth = this.o.config.auth;
    for (const conn of this.conns) {
      if (conn.identity === undefined) {
        if (now - conn.openedAt > auth.timeoutMs) {
          this.replies.fail(conn, errorBody(ErrorCode.AUTH_REQUIRED, 'no auth frame in time'));
          conn.close(CloseCode.TIMEOUT, 'auth timeout');
        }
      } else if (now - conn.lastSeen > this.cfg.idleTimeoutMs) {
        conn.close(CloseCode.TIMEOUT, 'idle timeout');
      } else if (conn.identity.expiresAt + auth.clockToleranceS * 1000 < now) {
        this.replies.fail(
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

  /** A revocation landed: every socket whose token it names is closed (4401). */
  private closeRevoked(): void {
    for (const conn of this.conns) {
      if (conn.identity === undefined || !this.revocations.isRevoked(conn.identity)) continue;
      this.replies.fail(conn, errorBody(ErrorCode.TOKEN_REVOKED));
      conn.close(CloseCode.AUTH_FAILED, 'token revoked');
    }
  }

  /** Tells the room service this gateway (and so its members) is alive. */
  private beacon(): void {
    const { subject, beacon } = encodeGatewayBeacon(this.id, this.conns.size);
    this.o.bus.publish(subject, beacon);
  }
}
