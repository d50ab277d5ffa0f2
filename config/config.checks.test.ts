/** Every cross-check between settings: one environment that breaks it, and the defaults that pass them all. */
import t from 'tap';
import { checks, ConfigError, loadConfig } from './config.js';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes-0123456789';

/** One case per check, keyed by its `rule`: an environment that breaks only that rule. */
const violations: Record<string, { env: NodeJS.ProcessEnv; error: RegExp }> = {
  'AUTH_JWT_SECRET has at least 32 bytes': {
    env: { AUTH_JWT_SECRET: 'short' },
    error: /^AUTH_JWT_SECRET: at least 32 bytes$/,
  },
  'AUTH_MEDIA_AUDIENCE differs from AUTH_AUDIENCE': {
    env: { AUTH_MEDIA_AUDIENCE: 'roomcast' },
    error: /^AUTH_MEDIA_AUDIENCE: must differ from AUTH_AUDIENCE$/,
  },
  'GATEWAY_ID is a subject-safe id': {
    env: { GATEWAY_ID: 'gw.1' },
    error: /^GATEWAY_ID: letters, digits, _ and - only$/,
  },
  'GATEWAY_DEV_TOKENS is off in production': {
    env: { GATEWAY_DEV_TOKENS: 'true', AUTH_JWT_SECRET: SECRET, NODE_ENV: 'production' },
    error: /^GATEWAY_DEV_TOKENS cannot be on with NODE_ENV=production$/,
  },
  'GATEWAY_DEV_TOKENS has a secret to sign with': {
    env: { GATEWAY_DEV_TOKENS: 'true' },
    error: /^GATEWAY_DEV_TOKENS needs AUTH_JWT_SECRET \(tokens are signed HS256\)$/,
  },
  'GATEWAY_RELAY_HOLD_MS is shorter than GATEWAY_SIGNAL_ACK_MS': {
    env: { GATEWAY_RELAY_HOLD_MS: '50', GATEWAY_SIGNAL_ACK_MS: '50' },
    error: /^GATEWAY_RELAY_HOLD_MS \(50\) must be shorter than GATEWAY_SIGNAL_ACK_MS \(50\)$/,
  },
  'GATEWAY_DEMO_ROOMS are room ids': {
    env: { GATEWAY_DEMO_ROOMS: 'demo,a.b' },
    error: /^GATEWAY_DEMO_ROOMS: "a\.b" is not a room id$/,
  },
  'GATEWAY_CORS_ORIGINS are origins': {
    env: { GATEWAY_CORS_ORIGINS: 'https://app.example,*' },
    error:
      /^GATEWAY_CORS_ORIGINS: "\*" is not an origin \(scheme:\/\/host\[:port\], lower case, no path, no \*\)$/,
  },
  'GATEWAY_SRS_RTC_URL is a URL': {
    env: { GATEWAY_SRS_RTC_URL: 'srs:1985' },
    error: /^GATEWAY_SRS_RTC_URL: not an http\(s\) URL$/,
  },
  'GATEWAY_ICE_SERVERS are stun: or turn: URLs': {
    env: { GATEWAY_ICE_SERVERS: 'stun:turn.example:3478,https://turn.example' },
    error:
      /^GATEWAY_ICE_SERVERS: "https:\/\/turn\.example" is not a stun:, stuns:, turn: or turns: URL$/,
  },
  'TURN_SECRET is set when GATEWAY_ICE_SERVERS has a turn: URL': {
    env: { GATEWAY_ICE_SERVERS: 'stun:turn.example:3478,turn:turn.example:3478?transport=udp' },
    error: /^TURN_SECRET: required when GATEWAY_ICE_SERVERS has a turn: or turns: URL$/,
  },
  'TURN_SECRET has at least 16 bytes': {
    env: { TURN_SECRET: 'short-secret' },
    error: /^TURN_SECRET: at least 16 bytes$/,
  },
  'ROOM_REPLICA_ID is a subject-safe id': {
    env: { ROOM_REPLICA_ID: 'room 1' },
    error: /^ROOM_REPLICA_ID: letters, digits, _ and - only$/,
  },
  'STREAM_HOOK_SECRET is URL-safe and long enough': {
    env: { STREAM_HOOK_SECRET: 'too-short' },
    error: /^STREAM_HOOK_SECRET: 16 to 128 letters, digits, _ or - \(it sits in a URL\)$/,
  },
  'STREAM_HOOK_SECRET is not the placeholder': {
    env: { STREAM_HOOK_SECRET: 'CHANGE_ME_HOOK_SECRET' },
    error: /^STREAM_HOOK_SECRET: still the placeholder of srs\/srs\.conf$/,
  },
  'STREAM_SRS_API_URL is a URL': {
    env: { STREAM_SRS_API_URL: 'not a url' },
    error: /^STREAM_SRS_API_URL: not a URL$/,
  },
  'STREAM_PUBLIC_RTMP_URL is a URL': {
    env: { STREAM_PUBLIC_RTMP_URL: 'rtmp//localhost:1935' },
    error: /^STREAM_PUBLIC_RTMP_URL: not a URL$/,
  },
  'STREAM_PUBLIC_HTTP_URL is a URL': {
    env: { STREAM_PUBLIC_HTTP_URL: '//localhost:8080' },
    error: /^STREAM_PUBLIC_HTTP_URL: not a URL$/,
  },
  'STREAM_PUBLIC_RTC_URL is a URL': {
    env: { STREAM_PUBLIC_RTC_URL: 'http://' },
    error: /^STREAM_PUBLIC_RTC_URL: not a URL$/,
  },
  'CATALOG_DURABLE is a short consumer name': {
    env: { CATALOG_DURABLE: 'x'.repeat(49) },
    error: /^CATALOG_DURABLE: letters, digits, _ and - only, at most 48$/,
  },
  'CATALOG_PAGE_SIZE is at most CATALOG_PAGE_SIZE_MAX': {
    env: { CATALOG_PAGE_SIZE: '50', CATALOG_PAGE_SIZE_MAX: '40' },
    error: /^CATALOG_PAGE_SIZE: must not exceed CATALOG_PAGE_SIZE_MAX$/,
  },
  'ALERT_WEBHOOK_URL is an http(s) URL': {
    env: { ALERT_WEBHOOK_URL: 'ftp://hooks.example' },
    error: /^ALERT_WEBHOOK_URL="ftp:\/\/hooks\.example": expected an http\(s\) URL$/,
  },
  'ALERT_ACK_WAIT_MS is at least twice ALERT_SNAPSHOT_INTERVAL_MS': {
    env: { ALERT_SNAPSHOT_INTERVAL_MS: '20000', ALERT_ACK_WAIT_MS: '39999' },
    error: /^ALERT_ACK_WAIT_MS: at least twice ALERT_SNAPSHOT_INTERVAL_MS$/,
  },
  'ALERT_WEBHOOK_BACKOFF_MAX_MS is at least ALERT_WEBHOOK_BACKOFF_MS': {
    env: { ALERT_WEBHOOK_BACKOFF_MS: '1000', ALERT_WEBHOOK_BACKOFF_MAX_MS: '999' },
    error: /^ALERT_WEBHOOK_BACKOFF_MAX_MS: at least ALERT_WEBHOOK_BACKOFF_MS$/,
  },
  'OTEL_EXPORTER_OTLP_ENDPOINT is an http(s) URL': {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' },
    error: /^OTEL_EXPORTER_OTLP_ENDPOINT="jaeger:4318": expected an http\(s\) URL$/,
  },
};

t.test('the defaults pass every check', async (t) => {
  t.doesNotThrow(() => loadConfig({}));
  t.doesNotThrow(() => loadConfig({ GATEWAY_DEV_TOKENS: 'true', AUTH_JWT_SECRET: SECRET }));
});

t.test('every check has a case, and every case a check', async (t) => {
  const rules = checks.map((c) => c.rule);
  t.equal(new Set(rules).size, rules.length, 'rules are unique');
  t.same(Object.keys(violations).sort(), [...rules].sort());
});

for (const check of checks) {
  t.test(check.rule, async (t) => {
    const v = violations[check.rule];
    if (v === undefined) {
      t.fail('no case for this check');
      return;
    }
    const err = t.throws(() => loadConfig(v.env)) as Error;
    t.type(err, ConfigError);
    t.match(err.message, v.error);
    for (const name of check.names) t.ok(err.message.includes(name), `names ${name}`);
    // Without the settings it names, the same environment passes: the case breaks this rule only.
    const rest = Object.fromEntries(
      Object.entries(v.env).filter(([k]) => !check.names.includes(k)),
    );
    t.doesNotThrow(() => loadConfig(rest), 'passes without the settings it names');
  });
}
