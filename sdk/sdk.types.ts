/**
 * The SDK's types: the server frames as shared/wire/protocol.ts spells them (types
 * only: nothing of the gateway's code reaches a browser), the events a client and a
 * room emit, and the one error class every promise rejects with.
 */
import type { ErrorCode } from '#shared/wire/errors.js';
import type {
  IceServer,
  PeerInfo,
  Role,
  RoomStatus,
  ServerFrame,
  StageAction,
} from '#shared/wire/protocol.js';

export type { ErrorCode, IceServer, PeerInfo, Role, RoomStatus, ServerFrame, StageAction };

/** Every server frame type. */
export type ServerFrameType = ServerFrame['type'];

/**
 * The frame of one `type`. Spelled with `infer` rather than `Extract`: the protocol
 * types `offer` and `answer` as one member (`type: 'offer' | 'answer'`), which
 * `Extract<ServerFrame, { type: 'offer' }>` would drop.
 */
export type FrameOf<T extends ServerFrameType> = ServerFrame extends infer F
  ? F extends { type: infer U }
    ? T extends U
      ? Omit<F, 'type'> & { type: T }
      : never
    : never
  : never;

/** Where the client's connection stands. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The client's events: every server frame by its type, and the connection's own. */
export type ClientEvents = { [T in ServerFrameType]: FrameOf<T> } & {
  /** Any frame, before its typed event. */
  frame: ServerFrame;
  state: ConnectionState;
  /** A reconnect is scheduled: attempt number (1 = the first) and the delay before it, in ms. */
  reconnecting: { attempt: number; delayMs: number };
  /** Something failed that no promise reports (an `error` frame without `id`, a failed refresh, a lost room). */
  failure: RoomcastClientError;
};

/** A room's events: its frames by type, and `change` whenever its state changed. */
export type RoomEvents = {
  [T in ServerFrameType]: FrameOf<T>;
} & {
  change: undefined;
  /** The room is gone for this client: left, kicked, ended, or a resume that failed. */
  closed: { reason: 'left' | 'kicked' | 'ended' | 'resume_failed'; error?: RoomcastClientError };
};

/**
 * The error every SDK promise rejects with. `code` is one of the protocol's codes
 * (shared/wire/errors.ts); the SDK's own failures use `UNAVAILABLE` (no reply in
 * time, the connection was lost or closed: try again) so that `switch (err.code)` covers all.
 */
export class RoomcastClientError extends Error {
  override readonly name = 'RoomcastClientError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The room the refused frame named, when it named one. */
    readonly room?: string,
  ) {
    super(message);
  }
}

/** The room's stage as the SDK keeps it (the audience is a number: `stats.viewers`). */
export interface RoomSnapshot {
  room: string;
  peerId: string;
  role: Role;
  status: RoomStatus;
  /** Stage members other than you, by peer id. */
  members: ReadonlyMap<string, PeerInfo>;
  /** Raised hands (stage members only see them), by peer id. */
  hands: ReadonlyMap<string, PeerInfo>;
  stats: { viewers: number; peakViewers: number } | undefined;
  seq: number;
}
