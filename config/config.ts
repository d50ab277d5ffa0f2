/**
 * The one place for configuration. Every setting is an environment variable with
 * a documented unit and default; `loadConfig` reads and checks them all at once so
 * that a bad value stops a service at start, not in the middle of traffic.
 *
 * Any setting `X` may instead be given as `X_FILE`, the path of a file that holds
 * the value (Docker and Kubernetes secrets), so secrets need not sit in the
 * environment.
 *
 * `scripts/config-doc.ts` renders this table into the README (a test keeps the two
 * in step).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

type Kind = 'string' | 'int' | 'bool' | 'list';
interface Setting<K extends Kind> {
  env: string;
  kind: K;
  /** `undefined` means "no default": optional unless `required`. */
  default: K extends 'int'
    ? number
    : K extends 'bool'
      ? boolean
      : K extends 'list'
        ? string[]
        : string | undefined;
  doc: string;
  min?: number;
  max?: number;
  /** Never printed back (not in errors, not in `describeConfig` values). */
  secret?: boolean;
}

const str = <D extends string | undefined>(
  env: string,
  def: D,
  doc: string,
  extra: { secret?: boolean } = {},
): Setting<'string'> & { default: D } => ({ env, kind: 'string', default: def, doc, ...extra });
const int = (
  env: string,
  def: number,
  doc: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): Setting<'int'> => ({
  env,
  kind: 'int',
  default: def,
  doc,
  min,
  max,
});
const bool = (env: string, def: boolean, doc: string): Setting<'bool'> => ({
  env,
  kind: 'bool',
  default: def,
  doc,
});
const list = (env: string, def: string[], doc: string): Setting<'list'> => ({
  env,
  kind: 'list',
  default: def,
  doc,
});

/** Every setting, grouped by the part of the system that reads it. */
export const settings = {
  nats: {
    servers: list('NATS_URL', ['nats://127.0.0.1:4222'], 'NATS server URL(s), comma-separated.'),
    requestTimeoutMs: int(
      'NATS_REQUEST_TIMEOUT_MS',
      2000,
      'Timeout of a request to another service, in ms.',
      50,
      60_000,
    ),
    replicas: int(
      'NATS_JS_REPLICAS',
      1,
      'Replicas of every JetStream stream and bucket (3 on a production cluster).',
      1,
      5,
    ),
  },
  auth: {
    jwtSecret: str(
      'AUTH_JWT_SECRET',
      undefined,
      'HS256 secret for client tokens (at least 32 bytes). Set this or AUTH_JWKS_URL.',
      { secret: true },
    ),
    jwksUrl: str(
      'AUTH_JWKS_URL',
      undefined,
      'JWKS URL for EdDSA / ES256 tokens (production). Set this or AUTH_JWT_SECRET.',
    ),
    issuer: str('AUTH_ISSUER', 'roomcast', 'Required `iss` of client tokens.'),
    audience: str('AUTH_AUDIENCE', 'roomcast', 'Required `aud` of client tokens.'),
    clockToleranceS: int(
      'AUTH_CLOCK_TOLERANCE_S',
      5,
      'Tolerance on `exp` / `nbf`, in seconds.',
      0,
      300,
    ),
    maxTokenBytes: int(
      'AUTH_MAX_TOKEN_BYTES',
      4096,
      'Longest token accepted; longer ones are refused before parsing.',
      64,
      65_536,
    ),
    timeoutMs: int(
      'AUTH_TIMEOUT_MS',
      5000,
      'Time a new connection has to send its `auth` frame, in ms.',
      100,
      120_000,
    ),
  },
  gateway: {
    id: str(
      'GATEWAY_ID',
      undefined,
      'Name of this gateway process in logs and subjects. Defaults to host-pid-random.',
    ),
    host: str('GATEWAY_HOST', '0.0.0.0', 'Address the gateway listens on.'),
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
  },
  room: {
    resumeGraceMs: int(
      'ROOM_RESUME_GRACE_MS',
      20_000,
      'How long a dropped member keeps its place and peer id, in ms.',
      0,
      3_600_000,
    ),
    maxTitleChars: int(
      'ROOM_MAX_TITLE_CHARS',
      200,
      'Longest room title, in characters (checked by the REST API before the room service).',
      1,
      10_000,
    ),
    defaultMaxViewers: int(
      'ROOM_DEFAULT_MAX_VIEWERS',
      100,
      'Capacity of a room created without maxViewers.',
      1,
      1_000_000,
    ),
    maxViewersLimit: int(
      'ROOM_MAX_VIEWERS_LIMIT',
      10_000,
      'Largest maxViewers a room may ask for.',
      1,
      10_000_000,
    ),
    storage: str(
      'ROOM_STORAGE',
      'jetstream',
      'Where room events and snapshots live: `jetstream` (durable) or `memory` (nothing survives a restart).',
    ),
    replicaId: str(
      'ROOM_REPLICA_ID',
      undefined,
      'Name of this room-service replica (leases, message ids); unique among live replicas. A stable name takes its own leases back at once after a crash. Defaults to host-pid-random.',
    ),
    partitions: int(
      'ROOM_PARTITIONS',
      16,
      'Partitions rooms are spread over; each is owned by one replica. The same on every replica; change only on an empty system.',
      1,
      4096,
    ),
    leaseMs: int(
      'ROOM_LEASE_MS',
      6000,
      "Lifetime of a partition lease; a dead replica's rooms move within about this long, in ms.",
      300,
      600_000,
    ),
    snapshotEvery: int(
      'ROOM_SNAPSHOT_EVERY',
      32,
      'A room is snapshotted after this many new events.',
      1,
      1_000_000,
    ),
    snapshotIntervalMs: int(
      'ROOM_SNAPSHOT_INTERVAL_MS',
      5000,
      'Rooms with events not yet in a snapshot are snapshotted this often, in ms (bounds the replay after a crash).',
      100,
      3_600_000,
    ),
    gatewayTimeoutMs: int(
      'ROOM_GATEWAY_TIMEOUT_MS',
      15_000,
      'A gateway silent this long is taken for dead: its members are treated as dropped, in ms.',
      1000,
      3_600_000,
    ),
  },
  // The stream service: SRS's http_hooks, reconcile with the SRS API, publish/play URLs.
  stream: {
    host: str('STREAM_HOST', '0.0.0.0', 'Address the SRS hook endpoint listens on.'),
    port: int(
      'STREAM_PORT',
      8085,
      'Port of the SRS hook endpoint (/api/srs/hooks/...).',
      0,
      65_535,
    ),
    hookSecret: str(
      'STREAM_HOOK_SECRET',
      undefined,
      'Shared secret in the hook URL path (/api/srs/hooks/<secret>/on_publish). SRS does not sign its callbacks.',
      { secret: true },
    ),
    hookAllowedIps: list(
      'STREAM_HOOK_ALLOWED_IPS',
      ['127.0.0.1', '::1'],
      'Source addresses whose callbacks are accepted without the secret; empty: the secret is required.',
    ),
    hookDeadlineMs: int(
      'STREAM_HOOK_DEADLINE_MS',
      800,
      'Every SRS callback is answered within this time, in ms; publish/play are denied when the room service is slower.',
      10,
      30_000,
    ),
    hookMaxBodyBytes: int(
      'STREAM_HOOK_MAX_BODY_BYTES',
      8192,
      'Largest hook body accepted, in bytes.',
      256,
      1_048_576,
    ),
    app: str('STREAM_APP', 'live', 'The SRS app rooms publish into (rtmp://host/<app>/<roomId>).'),
    srsApiUrl: str(
      'STREAM_SRS_API_URL',
      'http://127.0.0.1:1985',
      'Base URL of the SRS HTTP API (streams, clients, kicks).',
    ),
    srsApiTimeoutMs: int(
      'STREAM_SRS_API_TIMEOUT_MS',
      2000,
      'Timeout of one SRS HTTP API request, in ms.',
      10,
      60_000,
    ),
    srsPageSize: int(
      'STREAM_SRS_PAGE_SIZE',
      100,
      'Entries asked per page of /api/v1/streams and /api/v1/clients (SRS answers 10 without `count`).',
      1,
      10_000,
    ),
    srsMaxPages: int(
      'STREAM_SRS_MAX_PAGES',
      1000,
      'Pages read per list at most; a longer list makes the round incomplete (nothing is judged).',
      1,
      100_000,
    ),
    reconcileIntervalMs: int(
      'STREAM_RECONCILE_INTERVAL_MS',
      5000,
      'Interval between two reconcile rounds against the SRS API, in ms.',
      10,
      3_600_000,
    ),
    reconcileConcurrency: int(
      'STREAM_RECONCILE_CONCURRENCY',
      32,
      'Rooms synced at once in a reconcile round (commands in flight to the room service).',
      1,
      10_000,
    ),
    reconcileMinAgeMs: int(
      'STREAM_RECONCILE_MIN_AGE_MS',
      2000,
      'Margin, in ms: a publisher or viewer recorded less than this before a list was read is not judged by that list.',
      0,
      3_600_000,
    ),
    confirmIntervalMs: int(
      'STREAM_CONFIRM_INTERVAL_MS',
      250,
      'After a granted on_publish, how often the SRS API is asked whether the stream is active, in ms.',
      10,
      60_000,
    ),
    confirmTimeoutMs: int(
      'STREAM_CONFIRM_TIMEOUT_MS',
      10_000,
      'A granted publisher the SRS API has not shown active within this time is released, in ms.',
      10,
      600_000,
    ),
    publisherGraceMs: int(
      'STREAM_PUBLISHER_GRACE_MS',
      30_000,
      'After a live stream stops, the publisher is declared gone when none returns within this time, in ms.',
      0,
      86_400_000,
    ),
    endAfterMs: int(
      'STREAM_END_AFTER_MS',
      600_000,
      'After a live stream stops, the room ends when no publisher returns within this time, in ms.',
      0,
      604_800_000,
    ),
    tokenMaxTtlS: int(
      'STREAM_TOKEN_MAX_TTL_S',
      3600,
      'Longest lifetime (exp - iat) a publish or play token in a stream URL may have, in seconds.',
      1,
      604_800,
    ),
    urlTokenTtlS: int(
      'STREAM_URL_TOKEN_TTL_S',
      600,
      'Lifetime of the play/publish tokens the gateway mints into URLs (HS256 only), in seconds.',
      10,
      604_800,
    ),
    publicRtmpUrl: str(
      'STREAM_PUBLIC_RTMP_URL',
      'rtmp://localhost:1935',
      'RTMP base URL encoders and players reach SRS at (publish and play URLs).',
    ),
    publicHttpUrl: str(
      'STREAM_PUBLIC_HTTP_URL',
      'http://localhost:8080',
      "Base URL of SRS's HTTP server as players reach it (HTTP-FLV and HLS).",
    ),
    publicRtcUrl: str(
      'STREAM_PUBLIC_RTC_URL',
      'http://localhost:1985',
      "Base URL of SRS's WebRTC HTTP API as browsers reach it (WHIP and WHEP).",
    ),
  },
  // The room catalogue (list queries) and event archive, projected from ROOM_EVENTS.
  catalog: {
    mongodbUri: str(
      'MONGODB_URI',
      undefined,
      'MongoDB connection string. When set, the catalogue and the event archive live in MongoDB; otherwise in JetStream KV.',
      { secret: true },
    ),
    mongodbDb: str('MONGODB_DB', 'roomcast', 'MongoDB database of the catalogue.'),
    mongodbTimeoutMs: int(
      'MONGODB_TIMEOUT_MS',
      5000,
      'How long the MongoDB driver looks for a server before an operation fails, in ms.',
      100,
      120_000,
    ),
    durable: str(
      'CATALOG_DURABLE',
      'catalog',
      'Name of the projector durable consumer on ROOM_EVENTS; the store kind is appended (catalog-jetstream, catalog-mongodb).',
    ),
    maxInFlight: int(
      'CATALOG_MAX_IN_FLIGHT',
      256,
      'Event batches the projector applies at once (different rooms in parallel, one room in order).',
      1,
      100_000,
    ),
    ackWaitMs: int(
      'CATALOG_ACK_WAIT_MS',
      30_000,
      'Time a delivered batch may stay unacknowledged before JetStream redelivers it, in ms.',
      1000,
      3_600_000,
    ),
    retryDelayMs: int(
      'CATALOG_RETRY_DELAY_MS',
      1000,
      'Delay before a batch that failed (store down, or an earlier batch of its room not yet applied) is redelivered, in ms.',
      0,
      3_600_000,
    ),
    pageSize: int(
      'CATALOG_PAGE_SIZE',
      20,
      'Rooms per page of GET /api/rooms when no limit is given.',
      1,
      10_000,
    ),
    pageSizeMax: int(
      'CATALOG_PAGE_SIZE_MAX',
      100,
      'Largest limit GET /api/rooms accepts; a larger one is refused with BAD_FRAME.',
      1,
      10_000,
    ),
  },
  alert: {
    evaluateIntervalMs: int(
      'ALERT_EVALUATE_INTERVAL_MS',
      1000,
      'How often the alert service evaluates its rules, in ms.',
      50,
      3_600_000,
    ),
    metricStaleMs: int(
      'ALERT_METRIC_STALE_MS',
      20_000,
      'Metric samples of an instance older than this are ignored (the instance is taken as gone), in ms.',
      100,
      86_400_000,
    ),
    forMs: int(
      'ALERT_FOR_MS',
      30_000,
      'How long a threshold rule must stay over its threshold before it is raised, in ms.',
      0,
      86_400_000,
    ),
    clearForMs: int(
      'ALERT_CLEAR_FOR_MS',
      60_000,
      'How long a raised rule must stay at or under its clear level before it is resolved, in ms.',
      0,
      86_400_000,
    ),
    hysteresisPercent: int(
      'ALERT_HYSTERESIS_PERCENT',
      10,
      'Clear level of a threshold rule, in percent below its threshold (90 with threshold 100 and 10).',
      0,
      100,
    ),
    gatewayConnectionsMax: int(
      'ALERT_GATEWAY_CONNECTIONS_MAX',
      9000,
      'Rule gateway_connections: WebSocket connections on one gateway.',
      0,
      100_000_000,
    ),
    connectionsTotalMax: int(
      'ALERT_CONNECTIONS_TOTAL_MAX',
      50_000,
      'Rule connections_total: WebSocket connections over all gateways.',
      0,
      1_000_000_000,
    ),
    roomsMax: int(
      'ALERT_ROOMS_MAX',
      10_000,
      'Rule rooms_total: rooms not ended, over all room-service replicas.',
      0,
      1_000_000_000,
    ),
    membersMax: int(
      'ALERT_MEMBERS_MAX',
      100_000,
      'Rule members_total: room members over all rooms.',
      0,
      1_000_000_000,
    ),
    streamFailedForMs: int(
      'ALERT_STREAM_FAILED_FOR_MS',
      10_000,
      'Rule stream_failed: how long a live room may lack its publisher, its SRS stream or frames before it is raised, in ms.',
      0,
      86_400_000,
    ),
    srsUnreachableForMs: int(
      'ALERT_SRS_UNREACHABLE_FOR_MS',
      15_000,
      'Rule srs_unreachable: how long the stream service may fail to reach the SRS API before it is raised, in ms.',
      0,
      86_400_000,
    ),
    hookErrorPercent: int(
      'ALERT_HOOK_ERROR_PERCENT',
      5,
      'Rule hook_errors: SRS hook calls answered with an error, in percent of all hook calls in the window.',
      0,
      100,
    ),
    hookErrorWindowMs: int(
      'ALERT_HOOK_ERROR_WINDOW_MS',
      60_000,
      'Rule hook_errors: the window the error rate is computed over, in ms.',
      1000,
      86_400_000,
    ),
    hookMinCalls: int(
      'ALERT_HOOK_MIN_CALLS',
      20,
      'Rule hook_errors: fewer hook calls than this in the window count as no error rate.',
      1,
      1_000_000_000,
    ),
    memoryMb: int(
      'ALERT_MEMORY_MB',
      1536,
      'Rule memory: resident memory of one service process, in MiB.',
      1,
      1_048_576,
    ),
    cpuPercent: int(
      'ALERT_CPU_PERCENT',
      90,
      'Rule cpu: CPU time of one service process, in percent of one core.',
      1,
      10_000,
    ),
    eventLoopLagMs: int(
      'ALERT_EVENT_LOOP_LAG_MS',
      200,
      'Rule event_loop_lag: p99 event-loop delay of one service process, in ms.',
      1,
      3_600_000,
    ),
    disabledRules: list(
      'ALERT_RULES_DISABLED',
      [],
      'Rules that are not evaluated, comma-separated rule names (e.g. cpu,memory).',
    ),
    ackWaitMs: int(
      'ALERT_ACK_WAIT_MS',
      30_000,
      'Time the alert service has to acknowledge a room event (it does once its state is saved) before JetStream redelivers it, in ms.',
      1000,
      3_600_000,
    ),
    maxAckPending: int(
      'ALERT_MAX_ACK_PENDING',
      10_000,
      'Room events delivered to the alert service and not yet acknowledged (they wait for the next save).',
      1,
      1_000_000,
    ),
    historySize: int(
      'ALERT_HISTORY_SIZE',
      200,
      'Raised and resolved alerts kept for GET /api/alerts (the ALERTS stream keeps them all).',
      1,
      100_000,
    ),
    snapshotIntervalMs: int(
      'ALERT_SNAPSHOT_INTERVAL_MS',
      1000,
      'How often the alert state is saved (room events are acknowledged once saved), in ms.',
      10,
      600_000,
    ),
    streamReplicas: int(
      'ALERT_STREAM_REPLICAS',
      1,
      'Replicas of the ALERTS stream and the alert-state and alert-leader buckets.',
      1,
      5,
    ),
    leaseMs: int(
      'ALERT_LEASE_MS',
      10_000,
      'Lifetime of the lease of the active alert service; a standby instance takes over within about this long after the active one dies, in ms.',
      300,
      600_000,
    ),
    webhookUrl: str(
      'ALERT_WEBHOOK_URL',
      undefined,
      'URL every raised and resolved alert is POSTed to (JSON). No webhook when unset.',
    ),
    webhookSecret: str(
      'ALERT_WEBHOOK_SECRET',
      undefined,
      'Key of the HMAC-SHA256 signature of the body, sent as `x-roomcast-signature: sha256=<hex>`.',
      { secret: true },
    ),
    webhookAttempts: int(
      'ALERT_WEBHOOK_ATTEMPTS',
      6,
      'Attempts to deliver one alert to the webhook before it is given up (and logged).',
      1,
      100,
    ),
    webhookBackoffMs: int(
      'ALERT_WEBHOOK_BACKOFF_MS',
      500,
      'Delay before the first retry, doubled for each further one, in ms.',
      1,
      600_000,
    ),
    webhookBackoffMaxMs: int(
      'ALERT_WEBHOOK_BACKOFF_MAX_MS',
      30_000,
      'Longest delay between two webhook attempts, in ms.',
      1,
      3_600_000,
    ),
    webhookTimeoutMs: int(
      'ALERT_WEBHOOK_TIMEOUT_MS',
      5000,
      'Time one webhook attempt may take, in ms.',
      100,
      600_000,
    ),
  },
  telemetry: {
    otlpEndpoint: str(
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      undefined,
      'Base URL of an OTLP/HTTP receiver (e.g. http://jaeger:4318); spans go to <url>/v1/traces. Tracing is off when unset.',
    ),
    traceSamplePercent: int(
      'TRACE_SAMPLE_PERCENT',
      100,
      'Share of new traces recorded, in percent; a trace begun upstream follows its parent.',
      0,
      100,
    ),
    flushTimeoutMs: int(
      'TELEMETRY_FLUSH_TIMEOUT_MS',
      3000,
      'Time given to export the last spans on shutdown, in ms.',
      0,
      60_000,
    ),
    metricsEnabled: bool(
      'METRICS_ENABLED',
      true,
      'Serve /metrics (Prometheus text format) on the service metrics port.',
    ),
    metricsHost: str('METRICS_HOST', '0.0.0.0', 'Address the /metrics endpoints listen on.'),
    gatewayMetricsPort: int(
      'GATEWAY_METRICS_PORT',
      9464,
      'Port of the gateway /metrics (several gateways on one host need one each).',
      0,
      65_535,
    ),
    roomMetricsPort: int(
      'ROOM_METRICS_PORT',
      9465,
      'Port of the room service /metrics.',
      0,
      65_535,
    ),
    streamMetricsPort: int(
      'STREAM_METRICS_PORT',
      9466,
      'Port of the stream service /metrics.',
      0,
      65_535,
    ),
    alertMetricsPort: int(
      'ALERT_METRICS_PORT',
      9467,
      'Port of the alert service /metrics.',
      0,
      65_535,
    ),
    catalogMetricsPort: int(
      'CATALOG_METRICS_PORT',
      9468,
      'Port of the catalogue /metrics.',
      0,
      65_535,
    ),
    metricsPublishIntervalMs: int(
      'METRICS_PUBLISH_INTERVAL_MS',
      5000,
      'How often each service samples its process figures (event-loop lag, memory, CPU) and publishes every figure as metric events on metric.<service>.<name>, in ms.',
      100,
      3_600_000,
    ),
    eventLoopResolutionMs: int(
      'METRICS_EVENT_LOOP_RESOLUTION_MS',
      20,
      'Sampling resolution of the event-loop delay monitor, in ms.',
      1,
      1000,
    ),
  },
  log: {
    level: str('LOG_LEVEL', 'info', 'One of debug, info, warn, error.'),
  },
} as const;

type Settings = typeof settings;
type ValueOf<S> =
  S extends Setting<'int'>
    ? number
    : S extends Setting<'bool'>
      ? boolean
      : S extends Setting<'list'>
        ? string[]
        : S extends { default: string }
          ? string
          : string | undefined;
/** The typed configuration every service receives. */
export type Config = {
  -readonly [G in keyof Settings]: { -readonly [K in keyof Settings[G]]: ValueOf<Settings[G][K]> };
};

/** A setting that cannot be read; names the variable, never echoes a secret. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** `name` from `env`, or the contents of the file that `name_FILE` names (one trailing newline dropped). */
function rawValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return direct;
  if (direct !== undefined && direct !== '')
    throw new ConfigError(`${name} and ${name}_FILE are both set: set one`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${name}_FILE=${JSON.stringify(file)}: cannot read it (${code})`);
  }
}

function read(setting: Setting<Kind>, raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return setting.default;
  const shown = setting.secret === true ? '(hidden)' : JSON.stringify(raw);
  switch (setting.kind) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${setting.env}=${shown}: expected true or false`);
    case 'int': {
      if (!/^-?\d+$/.test(raw.replaceAll('_', '')))
        throw new ConfigError(`${setting.env}=${shown}: expected an integer`);
      const n = Number(raw.replaceAll('_', ''));
      if (n < (setting.min ?? 0) || n > (setting.max ?? Number.MAX_SAFE_INTEGER)) {
        throw new ConfigError(
          `${setting.env}=${shown}: must be between ${setting.min ?? 0} and ${setting.max ?? 'any'}`,
        );
      }
      return n;
    }
  }
}

/** A default process name: host, pid and a random suffix (unique across restarts). */
function instanceId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 32);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Ids that end up in NATS subjects (gateway ids, room ids): see shared/wire/subjects.ts. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Reads every setting from `env` (process.env by default) and checks it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [group, entries] of Object.entries(settings)) {
    const section: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(entries as Record<string, Setting<Kind>>)) {
      section[key] = read(setting, rawValue(env, setting.env));
    }
    out[group] = section;
  }
  const config = out as Config;
  const gatewayId = config.gateway.id ?? instanceId();
  config.gateway.id = gatewayId;
  if (!ID.test(gatewayId)) throw new ConfigError('GATEWAY_ID: letters, digits, _ and - only');
  config.room.replicaId ??= instanceId();
  if (!ID.test(config.room.replicaId))
    throw new ConfigError('ROOM_REPLICA_ID: letters, digits, _ and - only');
  if (!['jetstream', 'memory'].includes(config.room.storage)) {
    throw new ConfigError(
      `ROOM_STORAGE=${JSON.stringify(config.room.storage)}: expected jetstream or memory`,
    );
  }
  if (!['debug', 'info', 'warn', 'error'].includes(config.log.level)) {
    throw new ConfigError(
      `LOG_LEVEL=${JSON.stringify(config.log.level)}: expected debug, info, warn or error`,
    );
  }
  if (!/^[A-Za-z0-9_-]{1,48}$/.test(config.catalog.durable)) {
    throw new ConfigError('CATALOG_DURABLE: letters, digits, _ and - only, at most 48');
  }
  if (config.catalog.pageSize > config.catalog.pageSizeMax) {
    throw new ConfigError('CATALOG_PAGE_SIZE: must not exceed CATALOG_PAGE_SIZE_MAX');
  }
  if (config.auth.jwtSecret !== undefined && Buffer.byteLength(config.auth.jwtSecret) < 32) {
    throw new ConfigError('AUTH_JWT_SECRET: at least 32 bytes');
  }
  if (config.gateway.devTokens) {
    // Anyone who can reach /dev/token gets a token: never in a production deployment.
    if (env.NODE_ENV === 'production')
      throw new ConfigError('GATEWAY_DEV_TOKENS cannot be on with NODE_ENV=production');
    if (config.auth.jwtSecret === undefined)
      throw new ConfigError('GATEWAY_DEV_TOKENS needs AUTH_JWT_SECRET (tokens are signed HS256)');
  }
  for (const room of config.gateway.demoRooms) {
    if (!ID.test(room))
      throw new ConfigError(`GATEWAY_DEMO_ROOMS: ${JSON.stringify(room)} is not a room id`);
  }
  for (const [env, value] of [
    ['OTEL_EXPORTER_OTLP_ENDPOINT', config.telemetry.otlpEndpoint],
    ['ALERT_WEBHOOK_URL', config.alert.webhookUrl],
  ] as const) {
    if (value !== undefined && !/^https?:\/\/[^\s/]+/i.test(value))
      throw new ConfigError(`${env}=${JSON.stringify(value)}: expected an http(s) URL`);
  }
  if (config.alert.snapshotIntervalMs * 2 > config.alert.ackWaitMs)
    throw new ConfigError('ALERT_ACK_WAIT_MS: at least twice ALERT_SNAPSHOT_INTERVAL_MS');
  if (config.alert.webhookBackoffMaxMs < config.alert.webhookBackoffMs)
    throw new ConfigError('ALERT_WEBHOOK_BACKOFF_MAX_MS: at least ALERT_WEBHOOK_BACKOFF_MS');
  const hookSecret = config.stream.hookSecret;
  if (hookSecret !== undefined && !/^[A-Za-z0-9_-]{16,128}$/.test(hookSecret)) {
    throw new ConfigError(
      'STREAM_HOOK_SECRET: 16 to 128 letters, digits, _ or - (it sits in a URL)',
    );
  }
  if (hookSecret === 'CHANGE_ME_HOOK_SECRET') {
    throw new ConfigError('STREAM_HOOK_SECRET: still the placeholder of srs/srs.conf');
  }
  for (const key of ['srsApiUrl', 'publicRtmpUrl', 'publicHttpUrl', 'publicRtcUrl'] as const) {
    if (!URL.canParse(config.stream[key]))
      throw new ConfigError(`${settings.stream[key].env}: not a URL`);
  }
  return config;
}

/** Rows for the README's configuration table: variable, default, meaning. */
export function describeConfig(): { env: string; default: string; doc: string }[] {
  const rows: { env: string; default: string; doc: string }[] = [];
  for (const entries of Object.values(settings)) {
    for (const setting of Object.values(entries as Record<string, Setting<Kind>>)) {
      const def = setting.default;
      rows.push({
        env: setting.env,
        default: def === undefined ? '(none)' : Array.isArray(def) ? def.join(',') : String(def),
        doc: setting.doc,
      });
    }
  }
  return rows;
}
