/**
 * One client connection and the memberships it holds. The gateway keeps only
 * this: who is on the socket and which rooms it joined. Room truth lives in the
 * room service.
 */
import type { WebSocket } from 'uWebSockets.js';
import { CloseCode } from '#shared/wire/errors.js';
import type { Role, ServerFrame } from '#shared/wire/protocol.js';
import type { Identity } from '#shared/auth/auth.js';
import { takeToken } from './gateway.limits.js';

export interface ConnLimits {
  ratePerS: number;
  burst: number;
  maxBackpressureBytes: number;
}

export interface WsData {
  conn: Conn;
}

/**
 * Connections with frames in their outbox, and when the outboxes are written.
 *
 * Why: a send to a socket other than the one whose callback is running (a frame
 * from NATS, or from another client on the fast path) is a `write(2)` of its own,
 * and at the relay rate those writes were a third of the gateway's CPU. Peers send
 * in bursts (ICE candidates trickle out together), so frames for one client often
 * come several at a time; writing them corked makes them one write.
 *
 * When: frames from NATS are written once the NATS chunk they came in is parsed (a
 * microtask), so they wait for nothing else. Inside a uWS callback a microtask would
 * run as soon as the callback returns (uWS drains the queue after each one), so what
 * a client's frames cause waits for the end of the event-loop turn instead, and the
 * frames a client sent together leave together (the same reasoning as the bus's
 * per-turn publishes, shared/runtime/bus.ts). Either flush writes every outbox, in order.
 */
let pending: Conn[] = [];
let inCallback = 0;
let microtaskScheduled = false;
let turnScheduled = false;

function flushOutboxes(): void {
  const conns = pending;
  pending = [];
  for (const conn of conns) conn.flush();
}
function flushAfterMicrotask(): void {
  microtaskScheduled = false;
  flushOutboxes();
}
function flushAfterTurn(): void {
  turnScheduled = false;
  flushOutboxes();
}
function scheduleFlush(): void {
  if (inCallback > 0) {
    if (!turnScheduled) {
      turnScheduled = true;
      setImmediate(flushAfterTurn);
    }
  } else if (!microtaskScheduled) {
    microtaskScheduled = true;
    queueMicrotask(flushAfterMicrotask);
  }
}

/** Runs a uWS callback: what it sends is written at the end of the event-loop turn. */
export function inSocketCallback<T>(fn: () => T): T {
  inCallback++;
  try {
    return fn();
  } finally {
    inCallback--;
  }
}

export class Conn {
  ws: WebSocket<WsData> | undefined;
  private identified: Identity | undefined;
  /** Gives back this connection's pre-auth slot of its address (gateway.preauth.ts). */
  private preAuthRelease: (() => void) | undefined;
  /** Frames that came while the upgrade's token was verified, in order (FrameDispatch.release). */
  held: { data: ArrayBuffer; isBinary: boolean; at: number }[] | undefined;
  readonly memberships = new Memberships();
  /** Rooms with a join or resume under way (made when first needed: most connections never hold one). */
  private joiningRooms: Set<string> | undefined;
  /** The rate limit's token bucket (see gateway.limits.ts), kept as plain fields. */
  tokens: number;
  tokensAt: number;
  /** Consecutive frames dropped by the rate limit. */
  strikes = 0;
  lastSeen: number;
  lastPing: number;
  closed = false;
  /** Frames sent this turn and not yet written (undefined when none). */
  private outbox: (string | Uint8Array)[] | undefined;

  constructor(
    readonly id: string,
    readonly openedAt: number,
    private readonly limits: ConnLimits,
  ) {
    this.tokens = limits.burst;
    this.tokensAt = openedAt;
    this.lastSeen = openedAt;
    this.lastPing = openedAt;
  }

  /**
   * Who the connection is, from a verified token. An accessor so that the first
   * identity, wherever it is set (upgrade or `auth` frame), gives back the pre-auth slot.
   */
  get identity(): Identity | undefined {
    return this.identified;
  }

  set identity(identity: Identity | undefined) {
    this.identified = identity;
    if (identity !== undefined) this.releasePreAuth();
  }

  /** Holds a pre-auth slot until the connection authenticates or closes. */
  holdPreAuth(release: () => void): void {
    this.preAuthRelease = release;
  }

  releasePreAuth(): void {
    const release = this.preAuthRelease;
    this.preAuthRelease = undefined;
    release?.();
  }

  /** Takes a token of the rate limit; false when the frame must be dropped. */
  takeToken(now: number): boolean {
    return takeToken(this, this.limits.ratePerS, this.limits.burst, now);
  }

  /** True while a join or resume of `room` is under way. */
  isJoining(room: string): boolean {
    return this.joiningRooms?.has(room) ?? false;
  }

  /** Joins and resumes under way. */
  get joiningCount(): number {
    return this.joiningRooms?.size ?? 0;
  }

  beginJoining(room: string): void {
    (this.joiningRooms ??= new Set()).add(room);
  }

  endJoining(room: string): void {
    this.joiningRooms?.delete(room);
    if (this.joiningRooms?.size === 0) this.joiningRooms = undefined;
  }

  /** True until the connection is closed (by either side). */
  get open(): boolean {
    return this.ws !== undefined && !this.closed;
  }

  /**
   * Sends a text frame: queued, and written together with the other frames for
   * this client that come in the same burst (see `scheduleFlush`). A client whose
   * unsent bytes pass the backpressure limit is cut off (4413) rather than buffered
   * without bound.
   */
  send(data: string | Uint8Array): void {
    if (this.ws === undefined || this.closed) return;
    if (this.outbox !== undefined) {
      this.outbox.push(data);
      return;
    }
    this.outbox = [data];
    pending.push(this);
    scheduleFlush();
  }

  /** Writes the queued frames now, corked: one `write(2)` carries them all. */
  flush(): void {
    const frames = this.outbox;
    this.outbox = undefined;
    const ws = this.ws;
    if (frames === undefined || ws === undefined || this.closed) return;
    const first = frames[0];
    if (frames.length === 1 && first !== undefined) this.write(ws, first);
    else
      ws.cork(() => {
        for (const data of frames) if (!this.write(ws, data)) return;
      });
  }

  /** False when the frame cut the client off. */
  private write(ws: WebSocket<WsData>, data: string | Uint8Array): boolean {
    const status = ws.send(data, false);
    // 0: queued behind unsent data; 2: dropped because the queue is over maxBackpressure.
    if (
      status === 2 ||
      (status === 0 && ws.getBufferedAmount() > this.limits.maxBackpressureBytes)
    ) {
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
      return false;
    }
    return true;
  }

  sendFrame(frame: ServerFrame): void {
    this.send(JSON.stringify(frame));
  }

  /** Ends the connection with a close code; the close handler does the clean-up. */
  close(code: number, reason: string): void {
    const ws = this.ws;
    if (ws === undefined || this.closed) return;
    // What was sent before the close (an error frame, say) goes out before the close frame.
    this.flush();
    if (!this.open) return; // the flush found a slow consumer and closed it already
    this.closed = true;
    ws.end(code, reason);
  }
}

/**
 * A connection's memberships by room. A short list (at most
 * GATEWAY_MAX_ROOMS_PER_CONNECTION, usually one) costs an idle connection a
 * fraction of what a Map does.
 */
export class Memberships {
  private list: LocalMember[] = [];

  get size(): number {
    return this.list.length;
  }

  get(room: string): LocalMember | undefined {
    return this.list.find((m) => m.room === room);
  }

  has(room: string): boolean {
    return this.get(room) !== undefined;
  }

  set(room: string, member: LocalMember): void {
    const i = this.list.findIndex((m) => m.room === room);
    if (i < 0) this.list.push(member);
    else this.list[i] = member;
  }

  delete(room: string): void {
    this.list = this.list.filter((m) => m.room !== room);
  }

  /** A copy: callers may change the memberships while they go through them. */
  values(): LocalMember[] {
    return [...this.list];
  }

  clear(): void {
    this.list = [];
  }
}

/** A frame kept for a member without a connection; `seq` 0 for peer-to-peer frames. */
interface Buffered {
  data: string | Uint8Array;
  seq: number;
}

/** How much a membership keeps for its client while the client is away. */
export interface ResumeBufferLimits {
  frames: number;
  /** Bytes (string frames count their length in UTF-16 units: close enough for a bound). */
  bytes: number;
}

/**
 * A membership held by this gateway. While its connection is down (`conn`
 * undefined) it stays in its room's view and buffers what arrives, so a client
 * that resumes here misses nothing. It holds no subscription of its own: the
 * room's view receives the room's news and signals once for every local member.
 */
export class LocalMember {
  /** The connection delivering to the client; undefined while none does (frames are buffered). */
  conn: Conn | undefined;
  detachedAt = 0;
  /** What arrived while no connection delivered (made when first needed). */
  private buffer: Buffered[] | undefined;
  private bufferedBytes = 0;

  constructor(
    readonly room: string,
    readonly peerId: string,
    /** Changes on stage: a viewer invited on stage is a `cohost`, and a `viewer` again when demoted. */
    public role: Role,
    /** The room sequence at which it joined or resumed: older broadcasts are already known. */
    public seq: number,
    private readonly limits: ResumeBufferLimits,
  ) {}

  /** Sends `data` to the client, or keeps it while the client is away; `seq` > 0 for broadcasts. */
  deliver(data: string | Uint8Array, seq = 0): void {
    if (this.conn !== undefined) {
      this.conn.send(data);
      return;
    }
    // Bounded in frames and bytes: a client that never returns must not grow the
    // gateway. The oldest frames go first; a frame larger than the whole budget is dropped.
    const size = data.length;
    if (this.limits.frames === 0 || size > this.limits.bytes) return;
    const buffer = (this.buffer ??= []);
    while (buffer.length >= this.limits.frames || this.bufferedBytes + size > this.limits.bytes) {
      const dropped = buffer.shift();
      if (dropped === undefined) break;
      this.bufferedBytes -= dropped.data.length;
    }
    buffer.push({ data, seq });
    this.bufferedBytes += size;
  }

  /**
   * Moves the membership onto `conn` and hands it what arrived meanwhile, except
   * broadcasts at or below `seq`: the `joined`/`resumed` reply already reflects them.
   */
  attach(conn: Conn): void {
    this.conn = conn;
    const pending = this.buffer;
    this.buffer = undefined;
    this.bufferedBytes = 0;
    if (pending === undefined) return;
    for (const [i, b] of pending.entries()) {
      if (this.conn !== conn) {
        // Cut off (slow reader) in the middle: the rest waits for the next resume.
        this.buffer = pending.slice(i);
        this.bufferedBytes = this.buffer.reduce((n, x) => n + x.data.length, 0);
        return;
      }
      if (b.seq === 0 || b.seq > this.seq) conn.send(b.data);
    }
  }

  detach(now: number): void {
    this.conn = undefined;
    this.detachedAt = now;
  }
}
