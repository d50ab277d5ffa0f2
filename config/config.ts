/**
 * The one place for configuration. Every setting is an environment variable with
 * a documented unit and default; `loadConfig` reads and checks them all at once so
 * that a bad value stops a service at start, not in the middle of traffic.
 *
 * `scripts/config-doc.ts` renders this table into the README (a test keeps the two
 * in step).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

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
  },
  room: {
    resumeGraceMs: int(
      'ROOM_RESUME_GRACE_MS',
      20_000,
      'How long a dropped member keeps its place and peer id, in ms.',
      0,
      3_600_000,
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
  // Section of the room catalogue and its MongoDB projection.
  catalog: {},
  // Section of the alert service.
  alert: {},
  // Section of traces and metrics.
  telemetry: {},
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

/** Reads every setting from `env` (process.env by default) and checks it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [group, entries] of Object.entries(settings)) {
    const section: Record<string, unknown> = {};
    for (const [key, setting] of Object.entries(entries as Record<string, Setting<Kind>>)) {
      section[key] = read(setting, env[setting.env]);
    }
    out[group] = section;
  }
  const config = out as Config;
  const gatewayId =
    config.gateway.id ??
    `${hostname()
      .replace(/[^A-Za-z0-9_-]/g, '_')
      .slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  config.gateway.id = gatewayId;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(gatewayId))
    throw new ConfigError('GATEWAY_ID: letters, digits, _ and - only');
  if (!['debug', 'info', 'warn', 'error'].includes(config.log.level)) {
    throw new ConfigError(
      `LOG_LEVEL=${JSON.stringify(config.log.level)}: expected debug, info, warn or error`,
    );
  }
  if (config.auth.jwtSecret !== undefined && Buffer.byteLength(config.auth.jwtSecret) < 32) {
    throw new ConfigError('AUTH_JWT_SECRET: at least 32 bytes');
  }
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
