/**
 * The benchmark's baseline: a plain `ws` server doing the work our gateway does on
 * the relay path, in the straightforward way, so `npm run bench` can print the two
 * side by side on the same load in the same run.
 *
 * Same work: the JWT is checked at connect (same verifier), every frame is parsed
 * and validated (same compiled TypeBox parser), the same per-connection token
 * bucket, a membership check on room and addressee, a publish to
 * `room.<id>.sig.<peer>` through the same batching bus, one NATS subscription per
 * peer whose messages are forwarded to the socket, and a backpressure cut-off.
 * Joins go to the same room service. With GATEWAY_LOCAL_FASTPATH it hands frames
 * to a peer on the same process directly, as the gateway does.
 *
 * Left out (not on the relay path): resume, leave, broadcast ordering by `seq`,
 * heartbeats, the REST API.
 *
 * Configured by the gateway's own environment variables (GATEWAY_PORT, ...);
 * prints `{"msg":"baseline ready","port":N}` on stderr once listening.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Subscription } from '@nats-io/nats-core';
import { WebSocketServer, type WebSocket } from 'ws';
import { loadConfig } from '#config/config.js';
import { Bus, decode } from '#shared/runtime/bus.js';
import { CloseCode, ErrorCode, errorBody, type ErrorBody } from '#shared/wire/errors.js';
import { permsFor } from '#shared/auth/grants.js';
import { createLogger } from '#shared/runtime/log.js';
import {
  FrameError,
  PROTOCOL_VERSION,
  compileFrameParser,
  type ClientFrame,
  type FrameId,
  type ServerFrame,
} from '#shared/wire/protocol.js';
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { subjects } from '#shared/wire/subjects.js';
import { encodeGatewayBeacon } from '#shared/wire/gateway.beacon.js';
import { createVerifier, type Identity } from '#shared/auth/auth.js';
import { TokenBucket } from '../services/gateway/gateway.limits.js';

const config = loadConfig();
const cfg = config.gateway;
const log = createLogger('baseline', config.log.level);
const id = `baseline-${process.pid}`;
const verify = createVerifier(config.auth);
const parse = compileFrameParser({
  maxTokenBytes: config.auth.maxTokenBytes,
  maxSdpBytes: cfg.maxSdpBytes,
  maxCandidateBytes: cfg.maxCandidateBytes,
});
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: id,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log,
});
const rooms = new RoomClient(bus);

interface Conn {
  id: string;
  ws: WebSocket;
  identity: Identity;
  bucket: TokenBucket;
  /** room → this connection's peer id there */
  rooms: Map<string, string>;
  subs: Subscription[];
}

interface View {
  members: Set<string>;
  local: Map<string, Conn>;
  sub: Subscription;
}
const views = new Map<string, View>();
let connSeq = 0;

function send(c: Conn, data: string | Uint8Array): void {
  if (c.ws.readyState !== c.ws.OPEN) return;
  c.ws.send(data, { binary: false });
  if (c.ws.bufferedAmount > cfg.maxBackpressureBytes)
    c.ws.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
}
const sendFrame = (c: Conn, f: ServerFrame) => send(c, JSON.stringify(f));
const fail = (c: Conn, e: ErrorBody, frameId?: FrameId, room?: string) =>
  sendFrame(c, { type: 'error', code: e.code, message: e.message, id: frameId, room });

function viewOf(room: string): View {
  let v = views.get(room);
  if (v === undefined) {
    const members = new Set<string>();
    v = {
      members,
      local: new Map(),
      sub: bus.subscribe(subjects.roomBroadcast(room), (msg) => {
        const b = decode<RoomBroadcast>(msg.data);
        if (b.type === 'peer_joined') members.add(b.peer.peerId);
        else if (b.type === 'peer_left') members.delete(b.peerId);
      }),
    };
    views.set(room, v);
  }
  return v;
}

async function join(c: Conn, frame: Extract<ClientFrame, { type: 'join' }>): Promise<void> {
  const { room, role } = frame;
  if (c.rooms.has(room)) {
    fail(c, errorBody(ErrorCode.ALREADY_JOINED), frame.id, room);
    return;
  }
  const peerId = randomBytes(9).toString('base64url');
  const sub = bus.subscribe(subjects.roomSignal(room, peerId), (msg) => send(c, msg.data));
  const reply = await rooms
    .join(room, {
      peerId,
      userId: c.identity.userId,
      role,
      perms: permsFor(c.identity.grants, room),
      gateway: id,
      conn: c.id,
    })
    .catch((err: unknown) => {
      if (err instanceof RoomRefusedError) return err;
      throw err;
    });
  if (reply instanceof RoomRefusedError) {
    sub.unsubscribe();
    fail(c, reply.body, frame.id, room);
    return;
  }
  const view = viewOf(room);
  for (const p of reply.peers) view.members.add(p.peerId);
  view.members.add(peerId);
  view.local.set(peerId, c);
  c.rooms.set(room, peerId);
  c.subs.push(sub);
  const { peers, status, resume, seq } = reply;
  sendFrame(c, { type: 'joined', room, peerId, role, peers, status, resume, seq, id: frame.id });
}

function relay(c: Conn, frame: Extract<ClientFrame, { type: 'offer' | 'answer' | 'candidate' }>) {
  const from = c.rooms.get(frame.room);
  const view = views.get(frame.room);
  if (from === undefined || view === undefined) {
    fail(c, errorBody(ErrorCode.NOT_IN_ROOM), frame.id, frame.room);
    return;
  }
  if (!view.members.has(frame.to)) {
    fail(c, errorBody(ErrorCode.PEER_NOT_FOUND), frame.id, frame.room);
    return;
  }
  const out =
    frame.type === 'candidate'
      ? JSON.stringify({ type: 'candidate', room: frame.room, from, candidate: frame.candidate })
      : JSON.stringify({ type: frame.type, room: frame.room, from, sdp: frame.sdp });
  const local = cfg.localFastPath ? view.local.get(frame.to) : undefined;
  if (local !== undefined) send(local, out);
  else bus.publishBytes(subjects.roomSignal(frame.room, frame.to), Buffer.from(out));
}

function onMessage(c: Conn, data: Buffer, isBinary: boolean): void {
  if (!c.bucket.take(Date.now())) {
    fail(c, errorBody(ErrorCode.RATE_LIMITED));
    return;
  }
  if (isBinary) {
    fail(c, errorBody(ErrorCode.BINARY_FRAME));
    return;
  }
  let frame: ClientFrame;
  try {
    frame = parse(data.toString());
  } catch (err) {
    if (err instanceof FrameError) fail(c, err.toBody(), err.frameId);
    else fail(c, errorBody(ErrorCode.BAD_FRAME));
    return;
  }
  switch (frame.type) {
    case 'join':
      join(c, frame).catch(() => fail(c, errorBody(ErrorCode.UNAVAILABLE), frame.id));
      return;
    case 'offer':
    case 'answer':
    case 'candidate':
      relay(c, frame);
      return;
    case 'ping':
      sendFrame(c, { type: 'pong', ts: frame.ts, id: frame.id });
      return;
    case 'auth':
    case 'leave':
    case 'resume':
    case 'raise_hand':
    case 'lower_hand':
    case 'invite':
    case 'demote':
      fail(c, errorBody(ErrorCode.BAD_FRAME, `the baseline does not do ${frame.type}`), frame.id);
      return;
  }
}

function onClose(c: Conn): void {
  for (const s of c.subs) s.unsubscribe();
  for (const [room, peerId] of c.rooms) {
    const view = views.get(room);
    view?.local.delete(peerId);
    if (view !== undefined && view.local.size === 0) {
      view.sub.unsubscribe();
      views.delete(room);
    }
  }
}

type Verified = IncomingMessage & { identity?: Identity };
const wss = new WebSocketServer({
  host: cfg.host,
  port: cfg.port,
  path: '/signaling',
  maxPayload: cfg.maxFrameBytes,
  verifyClient: (info: { req: Verified }, done: (ok: boolean, status?: number) => void) => {
    const token = new URL(info.req.url ?? '/', 'http://x').searchParams.get('access_token');
    if (token === null) {
      done(false, 401);
      return;
    }
    verify(token).then(
      (identity) => {
        info.req.identity = identity;
        done(true);
      },
      () => done(false, 401),
    );
  },
});
wss.on('connection', (ws: WebSocket, req: Verified) => {
  const identity = req.identity;
  if (identity === undefined) {
    ws.close(CloseCode.AUTH_FAILED);
    return;
  }
  const c: Conn = {
    id: `${id}:${++connSeq}`,
    ws,
    identity,
    bucket: new TokenBucket(cfg.rateLimitPerS, cfg.rateLimitBurst, Date.now()),
    rooms: new Map(),
    subs: [],
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => onMessage(c, data, isBinary));
  ws.on('close', () => onClose(c));
  ws.on('error', () => ws.terminate());
  sendFrame(c, {
    type: 'authenticated',
    userId: identity.userId,
    protocol: PROTOCOL_VERSION,
    iceServers: [],
  });
});
wss.on('listening', () => {
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stderr.write(JSON.stringify({ msg: 'baseline ready', port }) + '\n');
});
const beacon = setInterval(
  () => {
    const { subject, beacon } = encodeGatewayBeacon(id, wss.clients.size);
    bus.publish(subject, beacon);
  },
  Math.max(250, config.room.gatewayTimeoutMs / 3),
);

async function shutdown(): Promise<void> {
  clearInterval(beacon);
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  await bus.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
