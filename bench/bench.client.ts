/**
 * A WebSocket client on raw TCP for the load generators: the handshake, an
 * unmasked-frame parser that hands text payloads over without copying, and masked
 * frames built once and written as they are.
 *
 * Why not `ws`: a load generator on `ws` saturates before a uWS server does
 * (measured with the first prototypes). Here a relayed frame costs the client a header
 * parse and a byte comparison; sending costs a `write` of pre-built bytes.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/**
 * Builds one masked client frame. The mask is random per frame, as RFC 6455 asks;
 * a frame built once may be written any number of times (the server unmasks the
 * same amount of bytes either way).
 */
export function maskedFrame(payload: Uint8Array, opcode: number = Opcode.text): Buffer {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65_536 ? 2 : 8;
  const head = 2 + ext + 4;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x80 | opcode;
  if (ext === 0) out[1] = 0x80 | n;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  mask.copy(out, 2 + ext);
  for (let i = 0; i < n; i++) out[head + i] = (payload[i] ?? 0) ^ (mask[i & 3] ?? 0);
  return out;
}

/** Offset of the payload in a frame built by `maskedFrame`. */
export function payloadOffset(payloadLength: number): number {
  return 2 + (payloadLength < 126 ? 0 : payloadLength < 65_536 ? 2 : 8) + 4;
}

/**
 * Writes `text` (ASCII) into a masked frame at payload position `at`, masking it
 * with the frame's own key: how a timestamp goes into a pre-built frame.
 */
export function patchMasked(frame: Buffer, payloadLength: number, at: number, text: string): void {
  const head = payloadOffset(payloadLength);
  const maskAt = head - 4;
  for (let i = 0; i < text.length; i++) {
    const p = at + i;
    frame[head + p] = text.charCodeAt(i) ^ (frame[maskAt + (p & 3)] ?? 0);
  }
}

export interface RawWsOptions {
  host: string;
  port: number;
  /** Path and query of the upgrade request. */
  path: string;
  /** Source address to bind (spreads ports over several 127.0.0.x). */
  localAddress?: string;
  /** A text frame: its payload is `buf[start, end)`, valid only during the call. */
  onText: (buf: Buffer, start: number, end: number) => void;
  onClose: (ws: RawWs) => void;
  /** Called once per chunk read from the socket. */
  onRead?: () => void;
}

const PONG_EMPTY = maskedFrame(new Uint8Array(0), Opcode.pong);
const CLOSE_NORMAL = maskedFrame(Buffer.from([0x03, 0xe8]), Opcode.close);

/** One client connection. */
export class RawWs {
  closed = false;
  /** Close code the server sent, if any. */
  closeCode: number | undefined;
  private rest: Buffer | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly o: RawWsOptions,
  ) {}

  /** Connects and upgrades; rejects with the status line when the server refuses. */
  static open(o: RawWsOptions): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: o.host,
        port: o.port,
        ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }),
      });
      socket.setNoDelay(true);
      const ws = new RawWs(socket, o);
      let head: Buffer = Buffer.alloc(0);
      let upgraded = false;
      const onData = (chunk: Buffer): void => {
        if (upgraded) {
          ws.feed(chunk);
          return;
        }
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(status)) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${status}`));
          return;
        }
        upgraded = true;
        resolve(ws);
        if (head.length > end + 4) ws.feed(head.subarray(end + 4));
      };
      socket.on('data', onData);
      socket.once('connect', () => {
        socket.write(
          `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
            'Sec-WebSocket-Version: 13\r\n\r\n',
        );
      });
      socket.once('error', (err) => {
        if (!upgraded) reject(err);
      });
      socket.once('close', () => {
        if (!upgraded) reject(new Error('closed during the upgrade'));
        ws.closed = true;
        o.onClose(ws);
      });
    });
  }

  /** Writes bytes (one or more pre-built frames). */
  write(frames: Uint8Array): void {
    if (!this.closed) this.socket.write(frames);
  }

  /** Sends a text frame (for the few control frames of set-up; the hot path uses `write`). */
  sendText(text: string): void {
    this.write(maskedFrame(Buffer.from(text)));
  }

  /** Closes with 1000 and ends the socket. */
  close(): void {
    if (this.closed) return;
    this.socket.end(CLOSE_NORMAL);
  }

  private feed(chunk: Buffer): void {
    this.o.onRead?.();
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let pos = 0;
    const len = buf.length;
    while (len - pos >= 2) {
      const b0 = buf[pos] ?? 0;
      const b1 = buf[pos + 1] ?? 0;
      let n = b1 & 0x7f;
      let head = 2;
      if (n === 126) {
        if (len - pos < 4) break;
        n = buf.readUInt16BE(pos + 2);
        head = 4;
      } else if (n === 127) {
        if (len - pos < 10) break;
        n = Number(buf.readBigUInt64BE(pos + 2));
        head = 10;
      }
      // Servers never mask; a masked frame would be a server bug, read past its key anyway.
      if ((b1 & 0x80) !== 0) head += 4;
      if (len - pos < head + n) break;
      const start = pos + head;
      const end = start + n;
      switch (b0 & 0x0f) {
        case Opcode.text:
          this.o.onText(buf, start, end);
          break;
        case Opcode.ping:
          this.write(n === 0 ? PONG_EMPTY : maskedFrame(buf.subarray(start, end), Opcode.pong));
          break;
        case Opcode.close:
          this.closeCode = n >= 2 ? buf.readUInt16BE(start) : 1005;
          this.socket.end(CLOSE_NORMAL);
          break;
        default:
          break;
      }
      pos = end;
    }
    // Keep only the unread tail, copied: a slice would pin the whole chunk.
    if (pos < len) this.rest = Buffer.from(buf.subarray(pos));
  }
}
