/**
 * Every client frame's way in: the rate limit, the strict parse, a span when
 * tracing is on, then the session's handler for its type. A frame that is refused
 * gets an `error` frame with a stable code (or a documented close) and never
 * affects another connection; a handler's failure becomes an error frame, never an
 * unhandled rejection.
 */
import type { Config } from '#config/config.js';
import { CloseCode, ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import { FrameError, type ClientFrame, type FrameParser } from '#shared/wire/protocol.js';
import { SpanKind, isTracing, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import type { Conn } from './gateway.conn.js';
import { RefusedFrame, type FrameMetrics } from './gateway.metrics.js';
import type { ClientReplies } from './gateway.replies.js';
import type { Sessions } from './gateway.session.js';
import type { StageCommands } from './gateway.stage.js';

export interface FrameDispatchOptions {
  config: Config['gateway'];
  parse: FrameParser;
  frames: FrameMetrics;
  replies: ClientReplies;
  sessions: Sessions;
  stage: StageCommands;
  log: Logger;
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

export class FrameDispatch {
  private readonly replies: ClientReplies;
  private readonly frames: FrameMetrics;
  private readonly sessions: Sessions;

  constructor(private readonly o: FrameDispatchOptions) {
    this.replies = o.replies;
    this.frames = o.frames;
    this.sessions = o.sessions;
  }

  /** A message from a client's socket. */
  onMessage(conn: Conn, data: ArrayBuffer, isBinary: boolean): void {
    const startedAt = performance.now();
    const now = Date.now();
    conn.lastSeen = now;
    if (!conn.takeToken(now)) {
      this.frames.in(RefusedFrame.rateLimited);
      if (++conn.strikes > this.o.config.rateLimitStrikes)
        conn.close(CloseCode.RATE_LIMITED, 'rate limit');
      else this.replies.fail(conn, errorBody(ErrorCode.RATE_LIMITED));
      return;
    }
    conn.strikes = 0;
    if (conn.held !== undefined) {
      // The upgrade's token is being verified: the frame waits its turn, copied (uWS
      // reuses its buffer) and already counted by the rate limit, which bounds the wait.
      conn.held.push({ data: data.slice(0), isBinary, at: startedAt });
      return;
    }
    this.handle(conn, data, isBinary, startedAt);
  }

  /** The frames held while the upgrade's token was verified, now that it is (or was refused). */
  release(conn: Conn): void {
    const held = conn.held ?? [];
    conn.held = undefined;
    for (const h of held) if (conn.open) this.handle(conn, h.data, h.isBinary, h.at);
  }

  /** A frame past the rate limit: parsed, then handled by its type. */
  private handle(conn: Conn, data: ArrayBuffer, isBinary: boolean, startedAt: number): void {
    if (isBinary) {
      this.frames.in(RefusedFrame.invalid);
      this.replies.fail(conn, errorBody(ErrorCode.BINARY_FRAME));
      return;
    }
    let frame: ClientFrame;
    try {
      frame = this.o.parse(decoder.decode(data));
    } catch (err) {
      this.frames.in(RefusedFrame.invalid);
      if (!(err instanceof FrameError)) {
        this.replies.fail(conn, errorBody(ErrorCode.BAD_FRAME));
      } else if (err.code === ErrorCode.TOKEN_INVALID && conn.identity === undefined) {
        // An `auth` frame whose token is refused before verifying (too long): the
        // same answer as any bad token, whichever way it came.
        this.replies.refuseAuth(conn, err, err.frameId);
      } else {
        this.replies.fail(conn, err.toBody(), err.frameId);
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
      this.replies.send(conn, { type: 'pong', ts: frame.ts, id: frame.id });
      return undefined;
    }
    if (frame.type === 'auth')
      return this.track(conn, frame, this.sessions.authenticate(conn, frame), startedAt);
    if (conn.identity === undefined) {
      this.replies.fail(conn, errorBody(ErrorCode.AUTH_REQUIRED), frame.id);
      return undefined;
    }
    switch (frame.type) {
      case 'join':
        return this.track(conn, frame, this.sessions.join(conn, frame), startedAt);
      case 'leave':
        return this.track(conn, frame, this.sessions.leave(conn, frame), startedAt);
      case 'resume':
        return this.track(conn, frame, this.sessions.resume(conn, frame), startedAt);
      case 'offer':
      case 'answer':
      case 'candidate':
        this.sessions.relay(conn, frame);
        return undefined;
      case 'raise_hand':
      case 'lower_hand':
      case 'invite':
      case 'demote':
        return this.track(conn, frame, this.o.stage.handle(conn, frame), startedAt);
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
          this.replies.fail(conn, err.toBody(), frame.id);
          return;
        }
        this.o.log.error('handler failed', { conn: conn.id, err });
        this.replies.fail(conn, errorBody(ErrorCode.INTERNAL), frame.id);
      },
    );
    this.sessions.keep(p);
    return p;
  }
}
