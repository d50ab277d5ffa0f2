/**
 * The client: one WebSocket to a gateway's `/signaling`, authenticated with a token
 * or a token provider (refreshed before it expires with an `auth` frame on the open
 * connection), the memberships it holds (sdk.room.ts), and what keeps them through
 * a dropped connection: reconnect with exponential backoff and jitter, then `resume`
 * every room with its resume token (same peer id, same place).
 *
 * `close()` closes the socket cleanly, but a clean close is not a leave: the gateway
 * keeps each membership for the resume grace period (`ROOM_RESUME_GRACE_MS`); call
 * `room.leave()` first to free the place at once.
 */
import { Emitter } from './sdk.emitter.js';
import {
  WS_OPEN,
  globalWebSocket,
  messageText,
  type WebSocketConstructor,
  type WebSocketLike,
} from './sdk.platform.js';
import { Requests } from './sdk.requests.js';
import { apiBaseOf, putRoomStatus } from './sdk.rest.js';
import { Room } from './sdk.room.js';
import { backoffMs, refreshDelayMs, tokenExpiryMs, type TokenProvider } from './sdk.token.js';
import {
  RoomcastClientError,
  type ClientEvents,
  type ConnectionState,
  type ErrorCode,
  type FrameOf,
  type IceServer,
  type ServerFrame,
  type ServerFrameType,
} from './sdk.types.js';

export interface RoomcastClientOptions {
  /** The gateway's signaling URL, e.g. `ws://127.0.0.1:8090/signaling`. */
  url: string;
  /** A token, or a function that returns a fresh one (then refreshed before expiry and on reconnect). */
  token: string | TokenProvider;
  /** The WebSocket constructor; defaults to the global one (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** Base of the REST API, for `setStatus`. Defaults to the origin of `url` (ws → http). */
  apiUrl?: string;
  /** How long a command waits for its reply, in ms. Defaults to 10000. */
  requestTimeoutMs?: number;
  /** Refresh the token this long before it expires (at most a third of what is left), in ms. Defaults to 60000. */
  refreshLeadMs?: number;
  /** Reconnect backoff: first delay and cap in ms (jittered). Defaults to 500 and 10000. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** How many times `connect()` tries before it rejects with UNAVAILABLE. Defaults to 3. */
  connectAttempts?: number;
  /** Reconnect after a drop. Defaults to true. */
  reconnect?: boolean;
  /** Send a `ping` this often to notice a dead connection, in ms; 0 turns it off. Defaults to 15000. */
  pingIntervalMs?: number;
}

/** Auth codes after which reconnecting with the same credentials cannot help. */
const FINAL_AUTH: readonly ErrorCode[] = [
  'TOKEN_INVALID',
  'TOKEN_REVOKED',
  'ALREADY_AUTHENTICATED',
];
/** Resume refusals that mean the membership is gone for good. */
const RESUME_GONE: readonly ErrorCode[] = [
  'RESUME_FAILED',
  'ROOM_ENDED',
  'ROOM_NOT_FOUND',
  'NOT_ALLOWED',
];

export class RoomcastClient extends Emitter<ClientEvents> {
  state: ConnectionState = 'idle';
  /** The user id the gateway took from the token (`authenticated.userId`). */
  userId: string | undefined;
  /** The ICE servers of the last `authenticated` frame (empty when the gateway gives none). */
  iceServers: IceServer[] = [];
  /** The memberships this client holds, by room id. */
  readonly rooms = new Map<string, Room>();
  private ws: WebSocketLike | undefined;
  private token = '';
  private readonly requests = new Requests();
  private attempt = 0;
  /** True while `open` runs: a close then fails the open, it does not start a reconnect. */
  private opening = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly WS: WebSocketConstructor;

  constructor(private readonly o: RoomcastClientOptions) {
    super();
    const ws = o.WebSocket ?? globalWebSocket();
    if (ws === undefined) throw new TypeError('no global WebSocket: pass the WebSocket option');
    this.WS = ws;
  }

  /**
   * Connects and authenticates. A refused token rejects at once (TOKEN_*); a
   * connection that fails or closes before `authenticated` is tried again with
   * backoff, `connectAttempts` times in all, then rejects with UNAVAILABLE.
   */
  async connect(): Promise<void> {
    if (this.state !== 'idle' && this.state !== 'closed') throw new Error('already connected');
    this.setState('connecting');
    const attempts = this.o.connectAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.open();
        return;
      } catch (err) {
        const e = this.asError(err, 'connect failed');
        this.abandon();
        if (e.code !== 'UNAVAILABLE' || attempt >= attempts || this.isClosed()) {
          this.shutdown();
          throw e;
        }
        const { baseMs = 500, maxMs = 10_000 } = this.o.backoff ?? {};
        await new Promise((r) => setTimeout(r, backoffMs(attempt, baseMs, maxMs)));
      }
    }
  }

  /** Joins `room` as `publisher` or `viewer`; rejects with the gateway's code (ROOM_NOT_FOUND, ROOM_FULL, ...). */
  async join(room: string, role: 'publisher' | 'viewer'): Promise<Room> {
    return this.adopt(await this.request({ type: 'join', room, role }, 'joined'));
  }

  private adopt(membership: FrameOf<'joined'> | FrameOf<'resumed'>): Room {
    const r = new Room(this, membership);
    this.rooms.set(r.room, r);
    r.on('closed', () => {
      if (this.rooms.get(r.room) === r) this.rooms.delete(r.room);
    });
    return r;
  }

  /**
   * Leaves every room: for a page that is going away (`pagehide`), so that its place
   * is freed at once rather than after the grace period. The frames are written
   * before this returns; the promise settles with their replies.
   */
  async leaveAll(): Promise<void> {
    await Promise.allSettled([...this.rooms.values()].map((room) => room.leave()));
  }

  /**
   * Takes back a membership this client does not hold yet: after a page reload, with
   * the room's last `resumeToken` (kept e.g. in sessionStorage). Same peer id, same place.
   */
  async resumeRoom(room: string, resumeToken: string): Promise<Room> {
    const resumed = await this.request({ type: 'resume', room, resume: resumeToken }, 'resumed');
    return this.adopt(resumed);
  }

  /** Closes the connection cleanly. Memberships are kept by the gateway for the grace period unless left first. */
  close(): void {
    this.shutdown();
  }

  /** Round trip of a `ping`, in ms. */
  async ping(): Promise<number> {
    const started = Date.now();
    await this.request({ type: 'ping', ts: started }, 'pong');
    return Date.now() - started;
  }

  /** `PUT /api/rooms/:room {status}` with the current token (owner or admin only). */
  setStatus(room: string, status: 'live' | 'ended'): Promise<void> {
    return putRoomStatus(this.o.apiUrl ?? apiBaseOf(this.o.url), this.token, room, status);
  }

  /** Sends a frame and waits for the reply carrying its id (or the `error` that refuses it). */
  request<T extends ServerFrameType>(
    frame: Record<string, unknown> & { type: string },
    reply: T,
  ): Promise<FrameOf<T>> {
    const ws = this.ws;
    if (
      ws === undefined ||
      ws.readyState !== WS_OPEN ||
      (this.state !== 'open' && frame.type !== 'auth' && frame.type !== 'resume')
    )
      return Promise.reject(this.unavailable('not connected', frame));
    const sent = this.requests.start(frame, this.o.requestTimeoutMs ?? 10_000, (text) =>
      ws.send(text),
    );
    return sent.then((f) => {
      // The gateway answers a request with its reply type or an error (which rejected already).
      if (f.type !== reply) throw this.unavailable(`${f.type} in reply to ${frame.type}`, frame);
      return f as FrameOf<T>;
    });
  }

  /** Sends a frame that has no reply; dropped when not connected (signals are re-sent after a resume). */
  send(frame: Record<string, unknown> & { type: string }): void {
    if (this.ws?.readyState === WS_OPEN && this.state === 'open')
      this.ws.send(JSON.stringify(frame));
  }

  private async open(): Promise<void> {
    this.opening = true;
    try {
      await this.openSocket();
    } finally {
      this.opening = false;
    }
  }

  private async openSocket(): Promise<void> {
    this.token = typeof this.o.token === 'string' ? this.o.token : await this.o.token();
    const ws = new this.WS(this.o.url) as WebSocketLike;
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => undefined;
      ws.onclose = (e) =>
        reject(new RoomcastClientError('UNAVAILABLE', `connection closed (${e.code})`));
    });
    ws.onmessage = (e) => this.onMessage(ws, messageText(e.data));
    ws.onclose = (e) => this.onClosed(ws, e.code);
    await this.request({ type: 'auth', token: this.token }, 'authenticated');
    this.scheduleRefresh();
    this.attempt = 0;
    this.setState('open');
    this.schedulePing(ws);
  }

  /** Taken as the frame arrives, so that listeners of `authenticated` see the new ICE servers. */
  private onAuthenticated(auth: FrameOf<'authenticated'>): void {
    this.userId = auth.userId;
    // A gateway older than `iceServers` sends none: the frame is the network's word, not the type's.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    this.iceServers = auth.iceServers ?? [];
    for (const room of this.rooms.values()) room.notify('authenticated', auth);
  }

  private scheduleRefresh(): void {
    const provider = this.o.token;
    const exp = tokenExpiryMs(this.token);
    if (typeof provider === 'string' || exp === undefined) return;
    const ws = this.ws;
    this.later(refreshDelayMs(exp, Date.now(), this.o.refreshLeadMs ?? 60_000), async () => {
      if (ws !== this.ws || this.state !== 'open') return;
      try {
        const token = await provider();
        await this.request({ type: 'auth', token }, 'authenticated');
        this.token = token;
        this.scheduleRefresh();
      } catch (err) {
        this.emit('failure', this.asError(err, 'token refresh failed'));
        // Tried again a third of what is left later; once expired, the reconnect gets a new one.
        if (ws === this.ws) this.scheduleRefresh();
      }
    });
  }

  private onMessage(ws: WebSocketLike, text: string): void {
    if (ws !== this.ws) return;
    const frame = JSON.parse(text) as ServerFrame;
    this.emit('frame', frame);
    if (frame.type === 'authenticated') this.onAuthenticated(frame);
    if (this.requests.settle(frame)) {
      // A reply: its promise has it.
    } else if (frame.type === 'error') {
      // An error about a frame that expected no reply (a relayed signal): its room hears of it too.
      if (frame.room !== undefined) this.rooms.get(frame.room)?.notify('error', frame);
      this.emit('failure', new RoomcastClientError(frame.code, frame.message, frame.room));
    } else if ('room' in frame) {
      this.rooms.get(frame.room)?.apply(frame);
    }
    this.emit(frame.type, frame);
  }

  private onClosed(ws: WebSocketLike, code: number): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    ws.onmessage = ws.onclose = null;
    this.clearTimers();
    this.requests.failAll(`connection lost (${code})`);
    if (this.state === 'closed' || this.opening) return;
    if (this.o.reconnect === false) {
      this.shutdown();
      return;
    }
    this.reconnect();
  }

  private reconnect(): void {
    const attempt = ++this.attempt;
    const delayMs = backoffMs(
      attempt,
      this.o.backoff?.baseMs ?? 500,
      this.o.backoff?.maxMs ?? 10_000,
    );
    this.setState('reconnecting');
    this.emit('reconnecting', { attempt, delayMs });
    this.later(delayMs, async () => {
      if (this.state !== 'reconnecting') return;
      try {
        await this.open();
      } catch (err) {
        const e = this.asError(err, 'reconnect failed');
        this.abandon();
        // A refused token cannot get better by retrying, unless a provider may give a new one.
        if (
          FINAL_AUTH.includes(e.code) ||
          (e.code.startsWith('TOKEN_') && typeof this.o.token === 'string')
        ) {
          this.emit('failure', e);
          this.shutdown();
        } else if (!this.isClosed()) {
          this.reconnect();
        }
        return;
      }
      await Promise.all([...this.rooms.values()].map((room) => this.resume(room)));
    });
  }

  /** Resumes one membership on the new connection; a refusal that means "gone" closes the room. */
  private async resume(room: Room): Promise<void> {
    for (let attempt = 1; room.active && this.state === 'open'; attempt++) {
      try {
        const resumed = await this.request(
          { type: 'resume', room: room.room, resume: room.resumeToken },
          'resumed',
        );
        room.reset(resumed);
        room.notify('resumed', resumed);
        return;
      } catch (err) {
        const e = this.asError(err, 'resume failed');
        if (RESUME_GONE.includes(e.code)) {
          room.close('resume_failed', e);
          this.emit('failure', e);
          return;
        }
        // UNAVAILABLE: the room service is slow or restarting; the place is kept meanwhile.
        await new Promise((r) => this.later(backoffMs(attempt, 250, 5000), () => r(undefined)));
      }
    }
  }

  private schedulePing(ws: WebSocketLike): void {
    const every = this.o.pingIntervalMs ?? 15_000;
    if (every <= 0) return;
    this.later(every, async () => {
      if (ws !== this.ws) return;
      try {
        await this.ping();
        this.schedulePing(ws);
      } catch {
        // No pong: the connection is dead even if the socket has not noticed.
        if (ws === this.ws) {
          ws.close();
          this.onClosed(ws, 4408);
        }
      }
    });
  }

  /** Drops the current socket without reporting it (a failed open). */
  private abandon(): void {
    const ws = this.ws;
    this.ws = undefined;
    if (ws === undefined) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WS_OPEN) ws.close();
  }

  private shutdown(): void {
    this.setState('closed');
    const ws = this.ws;
    this.clearTimers();
    if (ws !== undefined) {
      ws.close(1000, 'client closed');
      this.onClosed(ws, 1000);
    }
  }

  private later(ms: number, fn: () => unknown): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void fn();
    }, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Read through a method: a state check across an `await` must not be narrowed away. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private unavailable(why: string, frame: Record<string, unknown>): RoomcastClientError {
    return new RoomcastClientError(
      'UNAVAILABLE',
      why,
      typeof frame.room === 'string' ? frame.room : undefined,
    );
  }

  private asError(err: unknown, why: string): RoomcastClientError {
    return err instanceof RoomcastClientError
      ? err
      : new RoomcastClientError('UNAVAILABLE', `${why}: ${String(err)}`);
  }
}
