/**
 * A test client on `ws`: records every frame and close, and waits for the ones a
 * test expects (by predicate, with a timeout that fails loudly).
 */
import WebSocket from 'ws';
import type { ServerFrame } from '#shared/wire/protocol.js';
import { deadline } from './deadline.js';

export type Frame = ServerFrame & Record<string, unknown>;

export class Client {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  /** The socket's last error: a 1006 that the client itself caused names it. */
  error: Error | undefined;
  private closedWire = '';
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  private cursor = 0;
  /** Resolves when the socket closes: for waits that must end with it (no timer). */
  readonly whenClosed: Promise<{ code: number; reason: string }>;
  private onClosed: (c: { code: number; reason: string }) => void = () => {};

  private constructor(readonly ws: WebSocket) {
    this.whenClosed = new Promise((resolve) => (this.onClosed = resolve));
    ws.on('message', (data, isBinary) => {
      const f = JSON.parse(isBinary ? '{}' : (data as Buffer).toString()) as Frame;
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(f)) return true;
        w.resolve(f);
        return false;
      });
    });
    ws.on('close', (code, reason) => {
      this.closedWire = this.wire();
      this.closed = { code, reason: reason.toString() };
      this.onClosed(this.closed);
      for (const w of this.closeWaiters) w(this.closed);
    });
    ws.on('error', (err) => {
      // The close event reports it (a 1006); kept to say why (`closeCause`).
      this.error = err;
    });
  }

  /** Opens a connection; resolves once open (or rejects with the HTTP status on refusal). */
  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
      );
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame (after those already taken by `next`) matching `pred`. */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    for (let i = this.cursor; i < this.frames.length; i++) {
      const f = this.frames[i]!;
      if (pred(f)) {
        this.cursor = i + 1;
        return Promise.resolve(f);
      }
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (f: Frame) => {
          limit.cancel();
          this.cursor = this.frames.length;
          resolve(f);
        },
      };
      const limit = deadline(timeoutMs, (stall) => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no matching frame in ${timeoutMs} ms (${stall}; ${this.wire()}); got ${JSON.stringify(this.frames.slice(-5))}`,
          ),
        );
      });
      this.waiters.push(waiter);
    });
  }

  /** The next frame of `type`. */
  nextOf<T extends Frame['type']>(type: T, timeoutMs = 5000): Promise<Extract<Frame, { type: T }>> {
    return this.next((f) => f.type === type, timeoutMs) as Promise<Extract<Frame, { type: T }>>;
  }

  /** Sends a frame and waits for the reply carrying its id. */
  async call(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    const id = frame.id ?? `c${Math.random().toString(36).slice(2)}`;
    this.send({ ...frame, id });
    return this.next((f) => f.id === id, timeoutMs);
  }

  waitClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const waiter = (c: { code: number; reason: string }) => {
        limit.cancel();
        resolve(c);
      };
      const limit = deadline(timeoutMs, (stall) => {
        this.closeWaiters = this.closeWaiters.filter((w) => w !== waiter);
        reject(new Error(`not closed within ${timeoutMs} ms (${stall})`));
      });
      this.closeWaiters.push(waiter);
    });
  }

  /**
   * Why the socket closed, as far as the client can tell: the code, the socket's last
   * error (a 1006 the client's own protocol check caused names it; none means the
   * server's end closed without a close frame), and what the wire carried until then.
   */
  closeCause(): string {
    if (this.closed === undefined) return 'open';
    const err = this.error === undefined ? 'no client error' : `error: ${this.error.message}`;
    return `closed ${this.closed.code} (${err}; ${this.closedWire})`;
  }

  /**
   * What the socket itself saw, for a timeout's message: whether bytes arrived that
   * no frame came of (a client-side problem) or none did (the server sent nothing).
   */
  private wire(): string {
    const socket = (this.ws as unknown as { _socket?: { bytesRead: number; bytesWritten: number } })
      ._socket;
    return `socket: state ${this.ws.readyState}, ${socket?.bytesRead ?? '?'} bytes read, ${socket?.bytesWritten ?? '?'} written, ${this.frames.length} frames${this.closed ? `, closed ${this.closed.code}` : ''}`;
  }

  /** Frames seen so far of `type`. */
  seen(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): void {
    this.ws.close();
  }

  /** Drops the TCP connection without a close frame (a network failure). */
  drop(): void {
    this.ws.terminate();
  }
}
