/**
 * A load-generator process, forked by run.ts: opens raw-TCP WebSocket clients,
 * joins them to rooms, and relays candidate frames between the two peers of each
 * pair, either as fast as the server takes them (a window of frames in flight per
 * direction) or at a fixed rate with a send timestamp in each frame.
 *
 * Both peers of a pair live in this process, so a frame's latency is measured with
 * one monotonic clock, and the window needs no coordination between processes.
 *
 * It speaks our protocol, or the PeerJS server's when the target says so
 * (load.peerjs.ts): same pairs, same frames in size and timestamp, same counting.
 */
import { performance } from 'node:perf_hooks';
import { RawWs, maskedFrame, patchMasked } from './bench.client.js';
import { pool } from '#shared/runtime/task.pool.js';
import { serveCommands } from './load.channel.js';
import {
  HEARTBEAT_FRAME,
  HEARTBEAT_MS,
  PEERJS_CANDIDATE_PREFIX,
  isPeerjsError,
  peerjsCandidate,
  peerjsPath,
} from './load.peerjs.js';
import {
  HIST_BUCKET_US,
  HIST_MAX_US,
  type Command,
  type Go,
  type Reply,
  type Sample,
  type Setup,
  type Target,
  tokenFor,
} from './load.messages.js';

/** How a relayed candidate starts on the wire, from our gateway and the baseline alike. */
const CANDIDATE_PREFIX = Buffer.from('{"type":"candidate",');
/** The prefix of relayed frames from the server under test (set up with the target). */
let relayedPrefix = CANDIDATE_PREFIX;
const TS_MARK = Buffer.from(' ts=');
const TS_DIGITS = 12;

interface Waiter {
  pred: (f: Record<string, unknown>) => boolean;
  resolve: (f: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class Peer {
  ws!: RawWs;
  peerId = '';
  partner: Peer | undefined;
  /** One frame to the partner, and `window` of them back to back. */
  frame: Buffer | undefined;
  burst: Buffer | undefined;
  payloadLength = 0;
  tsAt = -1;
  /** Frames the partner received from us that we may replace (window mode). */
  permits = 0;
  /** The PeerJS client's heartbeat timer. */
  heartbeat: NodeJS.Timeout | undefined;
  private waiters: Waiter[] = [];

  constructor(readonly user: string) {}

  onControl(f: Record<string, unknown>): void {
    if (f.type === 'error' || isPeerjsError(f)) {
      stats.errors++;
      stats.lastError =
        f.type === 'error'
          ? `${String(f.code)}: ${String(f.message)}`
          : JSON.stringify(f).slice(0, 200);
    }
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (w.pred(f)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(f);
        return;
      }
    }
  }

  next(pred: (f: Record<string, unknown>) => boolean, what: string, timeoutMs = 30_000) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.user}: no ${what} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  failAll(err: Error): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

const stats = {
  sent: 0,
  received: 0,
  errors: 0,
  lastError: undefined as string | undefined,
  closed: 0,
  reads: 0,
  hist: new Uint32Array(Math.ceil(HIST_MAX_US / HIST_BUCKET_US) + 1),
};
const peers: Peer[] = [];
let closing = false;
let go: Go | undefined;
let rateTimer: NodeJS.Timeout | undefined;

function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

function recordLatency(buf: Buffer, start: number, end: number): void {
  const at = buf.indexOf(TS_MARK, start);
  if (at < 0 || at + TS_MARK.length + TS_DIGITS > end) return;
  let ts = 0;
  for (let i = at + TS_MARK.length, stop = i + TS_DIGITS; i < stop; i++)
    ts = ts * 10 + ((buf[i] ?? 48) - 48);
  const us = nowUs() - ts;
  const bucket = Math.min(Math.max(0, Math.floor(us / HIST_BUCKET_US)), stats.hist.length - 1);
  stats.hist[bucket] = (stats.hist[bucket] ?? 0) + 1;
}

/** Peers with permits to spend, written once per event-loop turn. */
const dirty: Peer[] = [];
let flushScheduled = false;
function flushPermits(): void {
  flushScheduled = false;
  if (go?.mode !== 'window') {
    dirty.length = 0;
    return;
  }
  for (const p of dirty) {
    const n = p.permits;
    p.permits = 0;
    if (n === 0 || p.burst === undefined || p.frame === undefined) continue;
    p.ws.write(n === 1 ? p.frame : p.burst.subarray(0, n * p.frame.length));
    stats.sent += n;
  }
  dirty.length = 0;
}

function onText(self: Peer, buf: Buffer, start: number, end: number): void {
  if (
    end - start > relayedPrefix.length &&
    buf.compare(relayedPrefix, 0, relayedPrefix.length, start, start + relayedPrefix.length) === 0
  ) {
    stats.received++;
    if (go?.mode === 'rate') recordLatency(buf, start, end);
    else if (go?.mode === 'window') {
      const sender = self.partner;
      if (sender !== undefined && sender.permits++ === 0) dirty.push(sender);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushPermits);
      }
    }
    return;
  }
  let f: Record<string, unknown>;
  try {
    f = JSON.parse(buf.toString('utf8', start, end)) as Record<string, unknown>;
  } catch {
    stats.errors++;
    stats.lastError = 'unparsable frame from the server';
    return;
  }
  self.onControl(f);
}

async function open(target: Target, user: string, localAddress: string | undefined): Promise<Peer> {
  const peerjs = target.protocol === 'peerjs';
  // PeerJS checks no token: the one it wants only lets a client reclaim its id.
  const token = peerjs ? `t${user}` : await tokenFor(target, user);
  const peer = new Peer(user);
  const authenticated = peerjs
    ? peer.next((f) => f.type === 'OPEN', 'OPEN')
    : peer.next((f) => f.type === 'authenticated', 'authenticated');
  peer.ws = await RawWs.open({
    host: target.host,
    port: target.port,
    path: peerjs
      ? peerjsPath(user, token)
      : target.authFrame === true
        ? '/signaling'
        : `/signaling?access_token=${token}`,
    ...(localAddress === undefined ? {} : { localAddress }),
    onText: (buf, start, end) => onText(peer, buf, start, end),
    onRead: () => {
      stats.reads++;
    },
    onClose: () => {
      clearInterval(peer.heartbeat);
      if (!closing) stats.closed++;
      peer.failAll(new Error(`${user}: connection closed`));
    },
  });
  peers.push(peer);
  if (target.authFrame === true) peer.ws.sendText(JSON.stringify({ type: 'auth', token }));
  await authenticated;
  if (peerjs) {
    // As the PeerJS client does: the server would drop a silent client after 90 s.
    peer.peerId = user;
    peer.heartbeat = setInterval(() => peer.ws.write(HEARTBEAT_FRAME), HEARTBEAT_MS);
  }
  return peer;
}

let joinSeq = 0;
async function join(peer: Peer, room: string, role: 'publisher' | 'viewer'): Promise<void> {
  const id = `j${++joinSeq}`;
  const reply = peer.next((f) => f.id === id, `reply to join ${room}`);
  peer.ws.sendText(JSON.stringify({ type: 'join', room, role, id }));
  const f = await reply;
  if (f.type !== 'joined') throw new Error(`join ${room}: ${JSON.stringify(f)}`);
  peer.peerId = String(f.peerId);
}

/**
 * The candidate frame `from` sends to `to`, padded to `bytes` of JSON, with a
 * timestamp slot: ours, or the PeerJS client's (`room` unused there).
 */
function buildFrame(from: Peer, to: Peer, room: string, bytes: number, peerjs: boolean): void {
  const line = (pad: number) =>
    `candidate:842163049 1 udp 1677729535 192.0.2.10 ${40000 + (pad % 9999)} typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-cost 999${' '.repeat(pad)}${TS_MARK.toString()}${'0'.repeat(TS_DIGITS)}`;
  const make = (pad: number) =>
    peerjs
      ? peerjsCandidate(to.peerId, line(pad))
      : JSON.stringify({
          type: 'candidate',
          room,
          to: to.peerId,
          candidate: { candidate: line(pad), sdpMid: '0', sdpMLineIndex: 0 },
        });
  const pad = Math.max(0, bytes - make(0).length);
  const text = make(pad);
  const payload = Buffer.from(text);
  from.payloadLength = payload.length;
  from.tsAt = text.lastIndexOf(TS_MARK.toString()) + TS_MARK.length;
  from.frame = maskedFrame(payload);
}

async function setup(s: Setup): Promise<number> {
  const addr = (i: number) =>
    s.localAddresses.length === 0 ? undefined : s.localAddresses[i % s.localAddresses.length];
  const tag = `p${process.pid}`;
  const peerjs = s.target.protocol === 'peerjs';
  relayedPrefix = peerjs ? PEERJS_CANDIDATE_PREFIX : CANDIDATE_PREFIX;
  if (s.kind === 'pairs') {
    await pool(s.rooms, s.concurrency, async (room, i) => {
      const [a, b] = await Promise.all([
        open(s.target, `${tag}-${i}a`, addr(2 * i)),
        open(s.target, `${tag}-${i}b`, addr(2 * i + 1)),
      ]);
      // PeerJS has no rooms: a pair is two ids that address each other.
      if (!peerjs) {
        await join(a, room, 'publisher');
        await join(b, room, 'viewer');
      }
      a.partner = b;
      b.partner = a;
      buildFrame(a, b, room, s.frameBytes, peerjs);
      buildFrame(b, a, room, s.frameBytes, peerjs);
    });
    return peers.length;
  }
  const members = s.rooms.flatMap((room) =>
    Array.from({ length: s.roomSize }, (_, k) => ({ room, k })),
  );
  await pool(members, s.concurrency, async ({ room, k }, i) => {
    const p = await open(s.target, `${tag}-${i}`, addr(i));
    await join(p, room, k === 0 ? 'publisher' : 'viewer');
  });
  return peers.length;
}

function start(g: Go): void {
  go = g;
  const senders = peers.filter((p) => p.frame !== undefined);
  if (g.mode === 'window') {
    for (const p of senders) {
      const frame = p.frame!;
      p.burst = Buffer.concat(Array.from({ length: g.window }, () => frame));
      p.ws.write(p.burst);
      stats.sent += g.window;
    }
    return;
  }
  if (senders.length === 0) return;
  const t0 = performance.now();
  let sentHere = 0;
  let rr = 0;
  rateTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * g.perSecond) / 1000) - sentHere;
    for (let k = 0; k < due; k++) {
      const p = senders[rr++ % senders.length]!;
      const frame = Buffer.from(p.frame!);
      patchMasked(frame, p.payloadLength, p.tsAt, String(nowUs()).padStart(TS_DIGITS, '0'));
      p.ws.write(frame);
    }
    sentHere += Math.max(0, due);
    stats.sent += Math.max(0, due);
  }, 1);
}

function halt(): void {
  go = undefined;
  if (rateTimer !== undefined) clearInterval(rateTimer);
  rateTimer = undefined;
}

function sample(): Sample {
  const hist: [number, number][] = [];
  stats.hist.forEach((count, bucket) => {
    if (count > 0) hist.push([bucket, count]);
  });
  return {
    sent: stats.sent,
    received: stats.received,
    errors: stats.errors,
    lastError: stats.lastError,
    closed: stats.closed,
    reads: stats.reads,
    hist,
  };
}

async function closeAll(): Promise<void> {
  closing = true;
  halt();
  for (const p of peers) clearInterval(p.heartbeat);
  const open = peers.filter((p) => !p.ws.closed);
  const gone = Promise.all(
    open.map((p) => new Promise<void>((r) => p.ws.socket.once('close', () => r()))),
  );
  for (const p of open) p.ws.close();
  await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
}

async function handle(c: Command): Promise<Reply> {
  switch (c.cmd) {
    case 'setup': {
      const t0 = performance.now();
      const connections = await setup(c.setup);
      return { ok: 'ready', connections, setupMs: Math.round(performance.now() - t0) };
    }
    case 'go':
      start(c.go);
      return { ok: 'done' };
    case 'mark':
      stats.sent = 0;
      stats.received = 0;
      stats.reads = 0;
      stats.hist.fill(0);
      return { ok: 'done' };
    case 'sample':
      return { ok: 'sample', ...sample() };
    case 'halt':
      halt();
      return { ok: 'done' };
    case 'close':
      await closeAll();
      return { ok: 'done' };
  }
}

serveCommands('load.js is forked by run.js (npm run bench), not run on its own', handle);
