/** The WebSocket and REST gateway: limits, heartbeats, resume buffers, development aids. */
import { bool, int, list, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';
import type { AuthConfig } from './auth.settings.js';
import { SUBJECT_ID } from './setting.checks.js';

export const gatewaySettings = {
  id: str(
    'GATEWAY_ID',
    undefined,
    'Name of this gateway process in logs and subjects. Defaults to host-pid-random.',
  ),
  host: str('GATEWAY_HOST', '0.0.0.0', 'Address the gateway listens on.'),
  workers: int(
    'GATEWAY_WORKERS',
    0,
    'Gateway processes `npm start` runs on GATEWAY_PORT (shared with SO_REUSEPORT), worker n with the id <GATEWAY_ID or a per-run name>-<n> and /metrics on GATEWAY_METRICS_PORT + 100 × (n − 1); 0 runs one per core (os.availableParallelism()). A gateway started on its own is one process whatever this says.',
    0,
    64,
  ),
  port: int('GATEWAY_PORT', 8090, 'Port of /signaling, /healthz and the REST API.', 0, 65_535),
  maxFrameBytes: int(
    'GATEWAY_MAX_FRAME_BYTES',
    65_536,
    'Largest WebSocket frame accepted, in bytes; larger closes with 1009.',
    1024,
    16 * 1024 * 1024,
  ),
  maxSdpBytes: int(
    'GATEWAY_MAX_SDP_BYTES',
    32_768,
    'Largest SDP in an offer or answer, in characters.',
    256,
    16 * 1024 * 1024,
  ),
  maxCandidateBytes: int(
    'GATEWAY_MAX_CANDIDATE_BYTES',
    1024,
    'Largest ICE candidate line, in characters.',
    64,
    65_536,
  ),
  maxBodyBytes: int(
    'GATEWAY_MAX_BODY_BYTES',
    16_384,
    'Largest REST request body, in bytes.',
    256,
    16 * 1024 * 1024,
  ),
  rateLimitPerS: int(
    'GATEWAY_RATE_PER_S',
    100,
    'Frames per second a connection may send on average (token bucket refill).',
    1,
    1_000_000,
  ),
  rateLimitBurst: int(
    'GATEWAY_RATE_BURST',
    200,
    'Frames a connection may send in a burst (token bucket size).',
    1,
    1_000_000,
  ),
  rateLimitStrikes: int(
    'GATEWAY_RATE_STRIKES',
    50,
    'Frames dropped for the rate limit (each answered RATE_LIMITED) before the connection is closed with 4429.',
    1,
    1_000_000,
  ),
  maxConnections: int(
    'GATEWAY_MAX_CONNECTIONS',
    10_000,
    'Connections one gateway accepts; more are refused with HTTP 503.',
    1,
    10_000_000,
  ),
  preAuthPerAddress: int(
    'GATEWAY_PREAUTH_PER_ADDRESS',
    16,
    'Connections without a token one remote address (the socket peer) may hold until their `auth` frame; more are refused with HTTP 429 (RATE_LIMITED) before the upgrade. 0: no limit (e.g. behind a proxy, whose address every client then has).',
    0,
    10_000_000,
  ),
  maxRoomsPerConnection: int(
    'GATEWAY_MAX_ROOMS_PER_CONNECTION',
    8,
    'Rooms one connection may be a member of at once.',
    1,
    1000,
  ),
  maxBackpressureBytes: int(
    'GATEWAY_MAX_BACKPRESSURE_BYTES',
    1_048_576,
    'Bytes queued for a client that does not read before it is cut off with 4413.',
    1024,
    1024 * 1024 * 1024,
  ),
  idleTimeoutMs: int(
    'GATEWAY_IDLE_TIMEOUT_MS',
    30_000,
    'A connection silent this long (no frame, no pong) is closed with 4408, in ms.',
    1000,
    3_600_000,
  ),
  heartbeatIntervalMs: int(
    'GATEWAY_HEARTBEAT_INTERVAL_MS',
    10_000,
    'Interval of WebSocket pings to each client, in ms.',
    100,
    3_600_000,
  ),
  signalAckMs: int(
    'GATEWAY_SIGNAL_ACK_MS',
    200,
    "How long a gateway waits for its first signal to a peer to be acknowledged before sending it again, in ms (later signals to that peer wait behind it; see 'Signaling in a NATS cluster').",
    10,
    60_000,
  ),
  signalAckTries: int(
    'GATEWAY_SIGNAL_ACK_TRIES',
    10,
    'Sends of an unacknowledged first signal before the peer is taken for gone and what waited for it is dropped.',
    1,
    1000,
  ),
  signalAckedPerRoom: int(
    'GATEWAY_SIGNAL_ACKED_PER_ROOM',
    4096,
    'Acknowledged addressees a gateway remembers per room; past this the oldest is forgotten and its next signal is acknowledged again.',
    1,
    1_000_000,
  ),
  resumeBufferFrames: int(
    'GATEWAY_RESUME_BUFFER_FRAMES',
    256,
    'Frames kept for a dropped client until it resumes; older ones are discarded.',
    0,
    100_000,
  ),
  resumeBufferBytes: int(
    'GATEWAY_RESUME_BUFFER_BYTES',
    262_144,
    'Bytes kept for a dropped client until it resumes (with GATEWAY_RESUME_BUFFER_FRAMES, whichever is reached first).',
    0,
    1024 * 1024 * 1024,
  ),
  relayHoldMs: int(
    'GATEWAY_RELAY_HOLD_MS',
    0,
    "How long a relayed offer, answer or candidate bound for NATS may wait to leave with others, in ms: at low rates about half the relay's CPU for up to this much more signaling latency (README, 'The PeerJS server as a yardstick'). 0: they leave at the end of the event-loop turn.",
    0,
    100,
  ),
  localFastPath: bool(
    'GATEWAY_LOCAL_FASTPATH',
    true,
    'Hand peer-to-peer frames straight to a peer on the same gateway instead of through NATS.',
  ),
  shutdownGraceMs: int(
    'GATEWAY_SHUTDOWN_GRACE_MS',
    2000,
    'Time given to clients to get their close frame on shutdown, in ms.',
    0,
    60_000,
  ),
  corsOrigins: list(
    'GATEWAY_CORS_ORIGINS',
    [],
    'Origins (`scheme://host[:port]`, exactly as browsers send them; no `*`) whose pages may call the REST API and /rtc/ from a browser; empty: no CORS headers, so only same-origin pages can.',
  ),
  corsMaxAgeS: int(
    'GATEWAY_CORS_MAX_AGE_S',
    600,
    'How long a browser may cache a granted CORS preflight, in seconds.',
    0,
    86_400,
  ),
  srsRtcUrl: str(
    'GATEWAY_SRS_RTC_URL',
    undefined,
    "Base URL of SRS's HTTP API (e.g. http://srs:1985): when set, the gateway forwards WHIP and WHEP (POST, DELETE of /rtc/v1/whip/ and /rtc/v1/whep/) and nothing else of that API to it, so that 1985 need not be public.",
  ),
  srsRtcTimeoutMs: int(
    'GATEWAY_SRS_RTC_TIMEOUT_MS',
    5000,
    'Timeout of one WHIP/WHEP request forwarded to SRS, in ms.',
    100,
    60_000,
  ),
  demo: bool(
    'GATEWAY_DEMO',
    false,
    'Serve the demo page at /demo/ (development only; `npm start` turns it on).',
  ),
  devTokens: bool(
    'GATEWAY_DEV_TOKENS',
    false,
    'Answer POST /dev/token with a token for any user name, to loopback clients only (development only; `npm start` turns it on; needs AUTH_JWT_SECRET; refused with NODE_ENV=production).',
  ),
  devTokenTtlS: int(
    'GATEWAY_DEV_TOKEN_TTL_S',
    3600,
    'Lifetime of a development token, in seconds.',
    60,
    86_400,
  ),
  demoRooms: list(
    'GATEWAY_DEMO_ROOMS',
    ['demo'],
    'Rooms a development token may publish to and view (`npm start` creates them).',
  ),
} satisfies SettingGroup;

export type GatewayConfig = Values<typeof gatewaySettings>;

const notRoomId = (room: string) => !SUBJECT_ID.test(room);

/** An origin as a browser sends it: http(s), a host, maybe a port; nothing else. */
const notOrigin = (origin: string) =>
  !URL.canParse(origin) ||
  new URL(origin).origin !== origin ||
  !/^https?:$/.test(new URL(origin).protocol);

export const gatewayChecks: readonly Check<{ gateway: GatewayConfig; auth: AuthConfig }>[] = [
  {
    rule: 'GATEWAY_ID is a subject-safe id',
    names: ['GATEWAY_ID'],
    broken: ({ gateway }) => gateway.id !== undefined && !SUBJECT_ID.test(gateway.id),
    message: 'GATEWAY_ID: letters, digits, _ and - only',
  },
  {
    // Anyone who can reach /dev/token gets a token: never in a production deployment.
    rule: 'GATEWAY_DEV_TOKENS is off in production',
    names: ['GATEWAY_DEV_TOKENS', 'NODE_ENV'],
    broken: ({ gateway }, env) => gateway.devTokens && env.NODE_ENV === 'production',
    message: 'GATEWAY_DEV_TOKENS cannot be on with NODE_ENV=production',
  },
  {
    rule: 'GATEWAY_DEV_TOKENS has a secret to sign with',
    names: ['GATEWAY_DEV_TOKENS', 'AUTH_JWT_SECRET'],
    broken: ({ gateway, auth }) => gateway.devTokens && auth.jwtSecret === undefined,
    message: 'GATEWAY_DEV_TOKENS needs AUTH_JWT_SECRET (tokens are signed HS256)',
  },
  {
    // `*` would let every site's pages call the API with a user's token in hand.
    rule: 'GATEWAY_CORS_ORIGINS are origins',
    names: ['GATEWAY_CORS_ORIGINS'],
    broken: ({ gateway }) => gateway.corsOrigins.some(notOrigin),
    message: ({ gateway }) =>
      `GATEWAY_CORS_ORIGINS: ${JSON.stringify(gateway.corsOrigins.find(notOrigin))} is not an origin (scheme://host[:port], lower case, no path, no *)`,
  },
  {
    rule: 'GATEWAY_SRS_RTC_URL is a URL',
    names: ['GATEWAY_SRS_RTC_URL'],
    broken: ({ gateway }) =>
      gateway.srsRtcUrl !== undefined &&
      !(URL.canParse(gateway.srsRtcUrl) && /^https?:$/.test(new URL(gateway.srsRtcUrl).protocol)),
    message: 'GATEWAY_SRS_RTC_URL: not an http(s) URL',
  },
  {
    // A first signal held past its acknowledgement's wait would be sent again before it left.
    rule: 'GATEWAY_RELAY_HOLD_MS is shorter than GATEWAY_SIGNAL_ACK_MS',
    names: ['GATEWAY_RELAY_HOLD_MS', 'GATEWAY_SIGNAL_ACK_MS'],
    broken: ({ gateway }) => gateway.relayHoldMs >= gateway.signalAckMs,
    message: ({ gateway }) =>
      `GATEWAY_RELAY_HOLD_MS (${gateway.relayHoldMs}) must be shorter than GATEWAY_SIGNAL_ACK_MS (${gateway.signalAckMs})`,
  },
  {
    rule: 'GATEWAY_DEMO_ROOMS are room ids',
    names: ['GATEWAY_DEMO_ROOMS'],
    broken: ({ gateway }) => gateway.demoRooms.some(notRoomId),
    message: ({ gateway }) =>
      `GATEWAY_DEMO_ROOMS: ${JSON.stringify(gateway.demoRooms.find(notRoomId))} is not a room id`,
  },
];
