/**
 * The one table of error codes. Every error a client, an operator or another
 * service can see is spelled here, with its default message and the HTTP status
 * the REST API answers it with. Codes are stable: clients `switch` on them.
 */
export const ErrorCode = {
  /** The frame is not valid JSON. */
  BAD_JSON: 'BAD_JSON',
  /** A binary WebSocket frame; the protocol is JSON text frames only. */
  BINARY_FRAME: 'BINARY_FRAME',
  /** The frame's `type` is not one the protocol knows. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** The frame (or REST body) does not match the schema: missing, extra or wrongly typed fields. */
  BAD_FRAME: 'BAD_FRAME',
  /** A frame other than `auth` before the connection authenticated. */
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  /** `auth` on a connection that is already authenticated. */
  ALREADY_AUTHENTICATED: 'ALREADY_AUTHENTICATED',
  /** The token is malformed, forged, of a refused algorithm, issuer or audience. */
  TOKEN_INVALID: 'TOKEN_INVALID',
  /** The token's `exp` has passed (beyond the clock tolerance). */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** The token's `nbf` is still in the future (beyond the clock tolerance). */
  TOKEN_NOT_YET_VALID: 'TOKEN_NOT_YET_VALID',
  /** An administrator revoked the token, or every session of its user. */
  TOKEN_REVOKED: 'TOKEN_REVOKED',
  /** The token is valid but does not grant this action. */
  NOT_ALLOWED: 'NOT_ALLOWED',
  /** No room with this id. */
  ROOM_NOT_FOUND: 'ROOM_NOT_FOUND',
  /** A room with this id exists already. */
  ROOM_EXISTS: 'ROOM_EXISTS',
  /** The room has ended; nothing more happens in it. */
  ROOM_ENDED: 'ROOM_ENDED',
  /** The room has as many viewers as its maxViewers. */
  ROOM_FULL: 'ROOM_FULL',
  /** The room already has its one publisher. */
  PUBLISHER_TAKEN: 'PUBLISHER_TAKEN',
  /** This connection is already a member of that room. */
  ALREADY_JOINED: 'ALREADY_JOINED',
  /** This connection is not a member of the room the frame names. */
  NOT_IN_ROOM: 'NOT_IN_ROOM',
  /** The addressed peer is not a member of that room. */
  PEER_NOT_FOUND: 'PEER_NOT_FOUND',
  /** The stage has as many members as `ROOM_STAGE_MAX` allows. */
  STAGE_FULL: 'STAGE_FULL',
  /** `invite` names a member who has not raised its hand (consent comes first). */
  HAND_NOT_RAISED: 'HAND_NOT_RAISED',
  /** The stage command needs a member on stage (demote) or in the audience (raise_hand). */
  NOT_ON_STAGE: 'NOT_ON_STAGE',
  /** The connection has joined as many rooms as the gateway allows. */
  TOO_MANY_ROOMS: 'TOO_MANY_ROOMS',
  /** The resume token is unknown, for another user, or its grace period is over. */
  RESUME_FAILED: 'RESUME_FAILED',
  /** The room's lifecycle does not allow that change (e.g. out of ended). */
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  /** Frames arrive faster than the per-connection rate limit; the frame was dropped. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The frame or body is larger than the configured maximum. */
  TOO_LARGE: 'TOO_LARGE',
  /** The gateway has as many connections as it allows. */
  GATEWAY_FULL: 'GATEWAY_FULL',
  /** The service that owns this request did not answer in time, or none is running. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** No such HTTP route. */
  NOT_FOUND: 'NOT_FOUND',
  /** A bug on our side; the message is generic, the details are in the service log. */
  INTERNAL: 'INTERNAL',
  /** The HTTP route exists, but not with this method (the `allow` header lists those it takes). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface ErrorSpec {
  readonly message: string;
  readonly httpStatus: number;
}

/** Default message and HTTP status for every code. */
export const errorTable: Readonly<Record<ErrorCode, ErrorSpec>> = {
  BAD_JSON: { message: 'frame is not valid JSON', httpStatus: 400 },
  BINARY_FRAME: { message: 'binary frames are not supported; send JSON text', httpStatus: 400 },
  UNKNOWN_TYPE: { message: 'unknown frame type', httpStatus: 400 },
  BAD_FRAME: { message: 'frame does not match the protocol schema', httpStatus: 400 },
  AUTH_REQUIRED: { message: 'authenticate first', httpStatus: 401 },
  ALREADY_AUTHENTICATED: { message: 'connection is already authenticated', httpStatus: 400 },
  TOKEN_INVALID: { message: 'token is not valid', httpStatus: 401 },
  TOKEN_EXPIRED: { message: 'token has expired', httpStatus: 401 },
  TOKEN_NOT_YET_VALID: { message: 'token is not valid yet', httpStatus: 401 },
  TOKEN_REVOKED: { message: 'token has been revoked', httpStatus: 401 },
  NOT_ALLOWED: { message: 'not allowed', httpStatus: 403 },
  ROOM_NOT_FOUND: { message: 'room not found', httpStatus: 404 },
  ROOM_EXISTS: { message: 'room already exists', httpStatus: 409 },
  ROOM_ENDED: { message: 'room has ended', httpStatus: 409 },
  ROOM_FULL: { message: 'room is full', httpStatus: 409 },
  PUBLISHER_TAKEN: { message: 'room already has a publisher', httpStatus: 409 },
  ALREADY_JOINED: { message: 'already a member of this room', httpStatus: 409 },
  NOT_IN_ROOM: { message: 'not a member of this room', httpStatus: 409 },
  PEER_NOT_FOUND: { message: 'no such peer in this room', httpStatus: 404 },
  STAGE_FULL: { message: 'the stage is full', httpStatus: 409 },
  HAND_NOT_RAISED: { message: 'that member has not raised its hand', httpStatus: 409 },
  NOT_ON_STAGE: { message: 'not possible from where that member stands', httpStatus: 409 },
  TOO_MANY_ROOMS: { message: 'too many rooms on one connection', httpStatus: 429 },
  RESUME_FAILED: { message: 'session cannot be resumed', httpStatus: 409 },
  INVALID_TRANSITION: { message: 'room status cannot change that way', httpStatus: 409 },
  RATE_LIMITED: { message: 'too many frames; slow down', httpStatus: 429 },
  TOO_LARGE: { message: 'too large', httpStatus: 413 },
  GATEWAY_FULL: { message: 'gateway is at its connection limit', httpStatus: 503 },
  UNAVAILABLE: { message: 'service unavailable, try again', httpStatus: 503 },
  NOT_FOUND: { message: 'not found', httpStatus: 404 },
  INTERNAL: { message: 'internal error', httpStatus: 500 },
  METHOD_NOT_ALLOWED: { message: 'method not allowed', httpStatus: 405 },
};

/** The wire shape of an error, in frames, command replies and REST bodies. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** An error with a stable code; `cause` chains the underlying failure. */
export class RoomcastError extends Error {
  override readonly name = 'RoomcastError';
  constructor(
    readonly code: ErrorCode,
    message: string = errorTable[code].message,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The HTTP status the REST API answers this error with. */
  get httpStatus(): number {
    return errorTable[this.code].httpStatus;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/**
 * Nobody listens on the subject a request went to (the service is not running, or
 * no replica has subscribed yet): retrying elsewhere or shortly is safe, and nothing
 * was done. `UNAVAILABLE` on the wire.
 */
export class NoRespondersError extends RoomcastError {
  readonly reason = 'no_responders';
  constructor(service: string, options?: { cause?: unknown }) {
    super(ErrorCode.UNAVAILABLE, `nothing answers on ${service}`, options);
  }
}

/**
 * A request reached a responder (or the server lost it) but no answer came within
 * its deadline: the work may still be done, so a retry must be idempotent.
 * `UNAVAILABLE` on the wire.
 */
export class RequestTimeoutError extends RoomcastError {
  readonly reason = 'timeout';
  constructor(service: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(ErrorCode.UNAVAILABLE, `no answer on ${service} within ${timeoutMs} ms`, options);
  }
}

/**
 * More commands wait for one room in this process than its bound allows
 * (`ROOM_COMMANDS_QUEUED`): nothing was sent, and trying again later is safe.
 * `UNAVAILABLE` on the wire.
 */
export class RoomBusyError extends RoomcastError {
  readonly reason = 'busy';
  constructor(roomId: string, queued: number, options?: { cause?: unknown }) {
    super(
      ErrorCode.UNAVAILABLE,
      `room ${roomId} has ${queued} commands waiting here already`,
      options,
    );
  }
}

/** Builds the wire error body for a code, with the table's message unless one is given. */
export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { code, message: message ?? errorTable[code].message };
}

/** True when `value` is one of the codes in the table (for replies read off the wire). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorTable, value);
}

/**
 * WebSocket close codes the gateway uses. 4xxx mirror the HTTP status they resemble;
 * 1001 and 1009 are the standard ones.
 */
export const CloseCode = {
  /** The gateway is shutting down; reconnect (to another gateway) and resume. */
  GOING_AWAY: 1001,
  /** A frame exceeded the maximum frame size (some clients see 1006: no close frame). */
  TOO_LARGE: 1009,
  /**
   * Authentication failed, the token expired, or it was revoked (then within a second
   * of the revocation, after a `TOKEN_REVOKED` error frame); an `error` frame with the
   * reason precedes it.
   */
  AUTH_FAILED: 4401,
  /** No `auth` frame within the auth timeout, or no sign of life within the idle timeout. */
  TIMEOUT: 4408,
  /** The connection kept flooding past its rate limit. */
  RATE_LIMITED: 4429,
  /** The client reads slower than the gateway writes; its send buffer passed the limit. */
  SLOW_CONSUMER: 4413,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
