/**
 * What the gateway answers one client: frames counted by type, error frames, and
 * the refusal of a token (which ends the connection). Transport, frame handlers
 * and sweep all answer through this, so every frame out is counted once.
 */
import { CloseCode, type ErrorBody, type RoomcastError } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { FrameId, ServerFrame } from '#shared/wire/protocol.js';
import type { Conn } from './gateway.conn.js';
import type { FrameMetrics } from './gateway.metrics.js';

export class ClientReplies {
  constructor(
    private readonly frames: FrameMetrics,
    private readonly log: Logger,
  ) {}

  /** Sends a frame to one client, counted by type. */
  send(conn: Conn, frame: ServerFrame): void {
    if (!conn.open) return;
    this.frames.out(frame.type);
    conn.sendFrame(frame);
  }

  /** Sends an `error` frame, answering frame `id` about `room` when given. */
  fail(conn: Conn, error: ErrorBody, id?: FrameId, room?: string): void {
    this.send(conn, { type: 'error', code: error.code, message: error.message, id, room });
  }

  /** Answers a refused token and ends the connection (4401). The log gets the reason, never the token. */
  refuseAuth(conn: Conn, err: RoomcastError, id?: FrameId): void {
    this.log.info('authentication failed', {
      conn: conn.id,
      code: err.code,
      reason: err.message,
    });
    this.fail(conn, err.toBody(), id);
    conn.close(CloseCode.AUTH_FAILED, 'authentication failed');
  }
}
