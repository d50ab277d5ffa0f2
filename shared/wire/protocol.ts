/**
 * Client protocol v1: the JSON text frames between a client and the gateway.
 *
 * Client frames are validated strictly at the edge (no extra properties, bounded
 * strings) by validators compiled once when the gateway starts. Server frames are
 * plain types: we build them, so we trust them.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ErrorCode, RoomcastError } from './errors.js';
import { SUBJECT_TOKEN_PATTERN } from './subjects.js';

/** Version of the client protocol; bumped only by an incompatible change. */
export const PROTOCOL_VERSION = 1;

/**
 * A member's role. The stage is the publisher and its co-hosts (full peers, announced
 * to every member); everyone else is audience (`viewer`): counted, never announced.
 * `join` takes `publisher` or `viewer`; a viewer becomes a `cohost` only by being
 * invited on stage (see `raise_hand` / `invite`).
 */
export const Role = { publisher: 'publisher', cohost: 'cohost', viewer: 'viewer' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export const RoomStatus = { preparing: 'preparing', live: 'live', ended: 'ended' } as const;
export type RoomStatus = (typeof RoomStatus)[keyof typeof RoomStatus];

/** Why a peer is no longer in a room, as `peer_left` tells the others. */
export const LeaveReason = {
  left: 'left',
  timeout: 'timeout',
  kicked: 'kicked',
  ended: 'ended',
  /** Left the stage (demoted or stepped down) but stays in the room's audience. */
  demoted: 'demoted',
} as const;
export type LeaveReason = (typeof LeaveReason)[keyof typeof LeaveReason];

/** Size limits that shape the schema; they come from config (see config/config.ts). */
export interface ProtocolLimits {
  /** Longest accepted token, in bytes of its compact form. */
  maxTokenBytes: number;
  /** Longest accepted SDP (offer or answer), in characters. */
  maxSdpBytes: number;
  /** Longest accepted ICE candidate line, in characters. */
  maxCandidateBytes: number;
}

const Id = Type.String({ pattern: SUBJECT_TOKEN_PATTERN });
const common = {
  /** Echoed in the reply (and in an error about this frame). */
  id: Type.Optional(
    Type.Union([
      Type.String({ minLength: 1, maxLength: 64 }),
      Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    ]),
  ),
  /** W3C trace context: the gateway continues this trace. */
  traceparent: Type.Optional(
    Type.String({ pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' }),
  ),
};
const strict = { additionalProperties: false } as const;

/** Builds the JSON Schemas of every client frame for the given limits. */
export function clientFrameSchemas(limits: ProtocolLimits) {
  const NullableString = (maxLength: number) =>
    Type.Union([Type.String({ maxLength }), Type.Null()]);
  const Candidate = Type.Object(
    {
      candidate: Type.String({ maxLength: limits.maxCandidateBytes }),
      sdpMid: Type.Optional(NullableString(64)),
      sdpMLineIndex: Type.Optional(
        Type.Union([Type.Integer({ minimum: 0, maximum: 1024 }), Type.Null()]),
      ),
      usernameFragment: Type.Optional(NullableString(256)),
    },
    strict,
  );
  const Sdp = Type.String({ minLength: 1, maxLength: limits.maxSdpBytes });
  return {
    auth: Type.Object(
      {
        type: Type.Literal('auth'),
        token: Type.String({ minLength: 1, maxLength: limits.maxTokenBytes }),
        ...common,
      },
      strict,
    ),
    join: Type.Object(
      {
        type: Type.Literal('join'),
        room: Id,
        role: Type.Union([Type.Literal('publisher'), Type.Literal('viewer')]),
        ...common,
      },
      strict,
    ),
    leave: Type.Object({ type: Type.Literal('leave'), room: Id, ...common }, strict),
    /** An audience member asks to come on stage; the stage sees `hand_raised`. */
    raise_hand: Type.Object({ type: Type.Literal('raise_hand'), room: Id, ...common }, strict),
    /** Withdraws a raised hand. */
    lower_hand: Type.Object({ type: Type.Literal('lower_hand'), room: Id, ...common }, strict),
    /** The owner, publisher or an admin brings a member whose hand is raised on stage. */
    invite: Type.Object({ type: Type.Literal('invite'), room: Id, peer: Id, ...common }, strict),
    /** Takes a co-host off the stage (the owner, publisher, an admin, or the co-host itself). */
    demote: Type.Object({ type: Type.Literal('demote'), room: Id, peer: Id, ...common }, strict),
    offer: Type.Object(
      { type: Type.Literal('offer'), room: Id, to: Id, sdp: Sdp, ...common },
      strict,
    ),
    answer: Type.Object(
      { type: Type.Literal('answer'), room: Id, to: Id, sdp: Sdp, ...common },
      strict,
    ),
    candidate: Type.Object(
      { type: Type.Literal('candidate'), room: Id, to: Id, candidate: Candidate, ...common },
      strict,
    ),
    resume: Type.Object(
      {
        type: Type.Literal('resume'),
        room: Id,
        resume: Type.String({ minLength: 1, maxLength: 256 }),
        ...common,
      },
      strict,
    ),
    ping: Type.Object(
      { type: Type.Literal('ping'), ts: Type.Optional(Type.Number()), ...common },
      strict,
    ),
  } satisfies Record<string, TSchema>;
}

type Schemas = ReturnType<typeof clientFrameSchemas>;
/** Every frame a client may send, a union on `type`. */
export type ClientFrame = { [K in keyof Schemas]: Static<Schemas[K]> }[keyof Schemas];
export type ClientFrameType = ClientFrame['type'];
export type ClientFrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;
export type IceCandidate = ClientFrameOf<'candidate'>['candidate'];
export type FrameId = NonNullable<ClientFrame['id']>;

/** A peer as other members see it. */
export interface PeerInfo {
  peerId: string;
  userId: string;
  role: Role;
}

/** Whether the room's SRS stream can be vouched for (`room_status.stream`). */
export type StreamKnown = 'unknown' | 'known';

/** A member's view of what happened in a room (the joining member's state and the room service's `seq`). */
export interface MembershipFields {
  room: string;
  peerId: string;
  role: Role;
  peers: PeerInfo[];
  status: RoomStatus;
  /** `unknown` while SRS is down (see `room_status.stream`); absent otherwise. */
  stream?: 'unknown';
  /** Resume token: `<peerId>.<secret>`, valid while the member is kept. */
  resume: string;
  /** The room's sequence after this transition; broadcasts at or below it are already reflected. */
  seq: number;
  id?: FrameId;
}

/**
 * Room news every member receives. The room service broadcasts exactly these
 * shapes (room.commands.ts `RoomBroadcast`), so a gateway forwards their bytes as
 * they are.
 */
export type RoomNews =
  | { type: 'peer_joined'; room: string; peer: PeerInfo; seq: number }
  | {
      type: 'peer_left';
      room: string;
      peerId: string;
      reason: LeaveReason;
      /** For `kicked`: the reason the owner or admin gave. */
      detail?: string;
      seq: number;
    }
  | {
      type: 'room_status';
      room: string;
      status: RoomStatus;
      /**
       * Present when the frame is about the room's SRS stream rather than its status
       * (which is then unchanged): `unknown` once SRS has not answered the stream
       * service for STREAM_SRS_DOWN_AFTER_MS (what it carries, publisher and players,
       * cannot be vouched for), `known` when it answers again (a restart of SRS then
       * shows as the publisher stopping, as ever).
       */
      stream?: StreamKnown;
      seq: number;
    }
  /**
   * Stage-only news (`scope: 'stage'`): an audience member raised or lowered its
   * hand. Gateways deliver it to stage members only.
   */
  | { type: 'hand_raised'; room: string; peer: PeerInfo; scope: 'stage'; seq: number }
  | { type: 'hand_lowered'; room: string; peerId: string; scope: 'stage'; seq: number };

/**
 * The audience as a number: sent to every member, coalesced (at most one per
 * `ROOM_STATS_INTERVAL_MS` while it changes), never one per join. Not numbered by
 * `seq`: each one replaces the last.
 */
export interface RoomStats {
  type: 'room_stats';
  room: string;
  /** Audience really watching: WebSocket audience plus SRS players, a user counted once. */
  viewers: number;
  peakViewers: number;
}

/** The stage commands a client sends, each answered by `stage_ok` (or `error`). */
export type StageAction = 'raise_hand' | 'lower_hand' | 'invite' | 'demote';

/**
 * One STUN or TURN server in the shape of WebRTC's `RTCIceServer`, so a client passes
 * the list as it is: `new RTCPeerConnection({ iceServers })`. TURN entries carry
 * time-limited credentials (coturn's TURN REST scheme): `username` is
 * `<unix expiry s>:<userId>`, `credential` the password, valid until that expiry,
 * which is never past the login token's. A refreshed token (`auth` frame) is answered
 * with a new `authenticated` frame and new credentials.
 */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** Every frame the gateway sends, a union on `type`. */
export type ServerFrame =
  | {
      type: 'authenticated';
      userId: string;
      protocol: number;
      /** The ICE servers for this session (empty when none are configured). */
      iceServers: IceServer[];
      id?: FrameId;
    }
  | ({ type: 'joined' } & MembershipFields)
  | ({ type: 'resumed' } & MembershipFields)
  | { type: 'left'; room: string; id?: FrameId }
  | { type: 'stage_ok'; room: string; action: StageAction; id?: FrameId }
  | RoomNews
  | RoomStats
  | { type: 'offer' | 'answer'; room: string; from: string; sdp: string }
  | { type: 'candidate'; room: string; from: string; candidate: IceCandidate }
  | { type: 'kicked'; room: string; reason: string }
  | { type: 'pong'; ts?: number; id?: FrameId }
  | { type: 'error'; code: ErrorCode; message: string; id?: FrameId; room?: string };
export type ServerFrameType = ServerFrame['type'];

/** Parses and validates one text frame; throws `FrameError` with a stable code. */
export type FrameParser = (text: string) => ClientFrame;

/**
 * Compiles the validators once and returns the parser the gateway uses for every
 * frame. Dispatching on `type` first keeps errors precise ("unknown type" rather
 * than "matches none of 8 schemas") and checks one schema per frame.
 */
export function compileFrameParser(limits: ProtocolLimits): FrameParser {
  const schemas = clientFrameSchemas(limits);
  const checks = new Map<string, TypeCheck<TSchema>>();
  for (const [type, schema] of Object.entries(schemas))
    checks.set(type, TypeCompiler.Compile(schema));

  return (text: string): ClientFrame => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new FrameError(ErrorCode.BAD_JSON, 'frame is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FrameError(ErrorCode.BAD_FRAME, 'a frame is a JSON object');
    }
    const type = (value as { type?: unknown }).type;
    if (typeof type !== 'string') {
      throw new FrameError(ErrorCode.BAD_FRAME, '"type" must be a string', readableId(value));
    }
    const check = checks.get(type);
    if (check === undefined) {
      throw new FrameError(
        ErrorCode.UNKNOWN_TYPE,
        `unknown frame type "${type.slice(0, 32)}"`,
        readableId(value),
      );
    }
    if (!check.Check(value)) {
      const first = check.Errors(value).First();
      const where = first?.path === '' || first === undefined ? '' : `${first.path}: `;
      const message = `${where}${first?.message ?? 'invalid'}`.slice(0, 200);
      // A token that is too long (or not a string) is a bad token, not a bad frame:
      // the same answer as for `access_token`, and the gateway closes with 4401.
      const code =
        type === 'auth' && first?.path === '/token' ? ErrorCode.TOKEN_INVALID : ErrorCode.BAD_FRAME;
      throw new FrameError(code, message, readableId(value));
    }
    return value as ClientFrame;
  };
}

/** A frame that failed parsing or validation; `frameId` is its `id` when one could be read. */
export class FrameError extends RoomcastError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly frameId?: FrameId,
  ) {
    super(code, message);
  }
}

function readableId(value: object): FrameId | undefined {
  const id = (value as { id?: unknown }).id;
  if (typeof id === 'string' && id.length > 0 && id.length <= 64) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  return undefined;
}
