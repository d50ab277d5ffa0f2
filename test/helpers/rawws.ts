/**
 * A WebSocket client on a bare TCP socket, for what a well-behaved client library
 * will not do: never answer pings, stop reading, send frames of any opcode, read
 * the HTTP answer to a refused upgrade. Frames are parsed by hand (RFC 6455).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { deadline } from './deadline.js';

/** One frame as it arrived. */
export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

export const Opcode = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** The upgrade was refused: the HTTP status and body the gateway answered. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused: HTTP ${status} ${body}`);
  }
}

export class RawWs {
  readonly frames: RawFrame[] = [];
  /** Bytes of WebSocket frames received (headers included). */
  bytesRead = 0;
  /** The close code of the close frame received, if one was. */
  closeCode: number | undefined;
  /** Set once the TCP connection has ended. */
  ended = false;
  private pending: Buffer = Buffer.alloc(0);
  private endWaiters: (() => void)[] = [];
  private waiters: { pred: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void }[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.ended = true;
      for (const w of this.endWaiters) w();
    });
    socket.on('error', () => {
      /* 'close' follows */
    });
  }

  /** Opens `path` on 127.0.0.1:`port` and completes the upgrade; rejects with `UpgradeRefused`. */
  static connect(port: number, path: string): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let head = Buffer.alloc(0);
      const onHead = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0]?.split(' ')[1]);
        if (status !== 101) {
          // A refused upgrade is a plain HTTP answer (kept alive): read its body by length.
          const length = Number(
            /^content-length:\s*(\d+)$/im.exec(lines.join('\n'))?.[1] ?? Number.NaN,
          );
          const body = head.subarray(end + 4);
          if (Number.isNaN(length) || body.length >= length) {
            socket.destroy();
            reject(new UpgradeRefused(status, body.toString()));
          }
          return;
        }
        socket.off('data', onHead);
        const ws = new RawWs(socket);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) ws.onData(rest);
        resolve(ws);
      };
      socket.on('data', onHead);
      socket.once('error', reject);
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
    });
  }

  /** Sends one masked frame, as a client must. */
  sendFrame(opcode: number, payload: Buffer | string): void {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const mask = randomBytes(4);
    let header: Buffer;
    if (data.length < 126) {
      header = Buffer.from([0x80 | opcode, 0x80 | data.length]);
    } else if (data.length < 65_536) {
      header = Buffer.alloc(4);
      header.writeUInt8(0x80 | opcode, 0);
      header.writeUInt8(0x80 | 126, 1);
      header.writeUInt16BE(data.length, 2);
    } else {
      header = Buffer.alloc(10);
      header.writeUInt8(0x80 | opcode, 0);
      header.writeUInt8(0x80 | 127, 1);
      header.writeBigUInt64BE(BigInt(data.length), 2);
    }
    const masked = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) masked[i] = data[i]! ^ mask[i & 3]!;
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  sendText(text: string): void {
    this.sendFrame(Opcode.text, text);
  }

  sendJson(frame: unknown): void {
    this.sendText(JSON.stringify(frame));
  }

  /** Text frames received, parsed as JSON. */
  json(): Record<string, unknown>[] {
    return this.frames
      .filter((f) => f.opcode === Opcode.text)
      .map((f) => JSON.parse(f.payload.toString()) as Record<string, unknown>);
  }

  /** Waits for a frame matching `pred` (among those received so far or later). */
  next(pred: (f: RawFrame) => boolean, timeoutMs = 5000): Promise<RawFrame> {
    const seen = this.frames.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (f: RawFrame) => {
          limit.cancel();
          resolve(f);
        },
      };
      const limit = deadline(timeoutMs, (stall) => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`raw client: no matching frame in ${timeoutMs} ms (${stall})`));
      });
      this.waiters.push(waiter);
    });
  }

  /** Waits for a text frame whose JSON `type` is `type`. */
  async nextJson(type: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const f = await this.next(
      (f) =>
        f.opcode === Opcode.text &&
        (JSON.parse(f.payload.toString()) as { type?: unknown }).type === type,
      timeoutMs,
    );
    return JSON.parse(f.payload.toString()) as Record<string, unknown>;
  }

  /** Stops reading: the kernel buffers fill up and the server sees backpressure. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Resolves when the TCP connection has ended (after a close frame or without one). */
  waitEnd(timeoutMs = 10_000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = () => {
        limit.cancel();
        resolve();
      };
      const limit = deadline(timeoutMs, (stall) => {
        this.endWaiters = this.endWaiters.filter((w) => w !== waiter);
        reject(new Error(`raw client: connection still open after ${timeoutMs} ms (${stall})`));
      });
      this.endWaiters.push(waiter);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const f = parseFrame(this.pending);
      if (f === undefined) return;
      this.pending = this.pending.subarray(f.size);
      this.bytesRead += f.size;
      const frame = { opcode: f.opcode, payload: f.payload };
      if (frame.opcode === Opcode.close && frame.payload.length >= 2)
        this.closeCode = frame.payload.readUInt16BE(0);
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(frame)) return true;
        w.resolve(frame);
        return false;
      });
    }
  }
}

/** Parses one unmasked server frame at the start of `buf`, or undefined if incomplete. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0]! & 0x0f;
  let len = buf[1]! & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  if (buf.length < offset + len) return undefined;
  return { opcode, payload: Buffer.from(buf.subarray(offset, offset + len)), size: offset + len };
}
