/** The stream service: SRS's http_hooks, reconcile with the SRS API, publish/play URLs. */
import { int, list, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';

export const streamSettings = {
  host: str('STREAM_HOST', '0.0.0.0', 'Address the SRS hook endpoint listens on.'),
  port: int('STREAM_PORT', 8085, 'Port of the SRS hook endpoint (/api/srs/hooks/...).', 0, 65_535),
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
  hookLogLines: int(
    'STREAM_HOOK_LOG_LINES',
    10,
    'Warnings written per STREAM_HOOK_LOG_INTERVAL_MS for refused SRS callbacks; the rest are counted in one summary line.',
    0,
    100_000,
  ),
  hookLogIntervalMs: int(
    'STREAM_HOOK_LOG_INTERVAL_MS',
    60_000,
    'Interval of the refused-callback warning limit (STREAM_HOOK_LOG_LINES), in ms.',
    10,
    86_400_000,
  ),
  hookDecisionLogLines: int(
    'STREAM_HOOK_DECISION_LOG_LINES',
    100,
    'Info lines written per STREAM_HOOK_DECISION_LOG_INTERVAL_MS for each hook action and result (allowed on_play, denied on_publish, ...); the rest are counted in one summary line. Every decision is counted in srs_hook_calls.',
    0,
    100_000,
  ),
  hookDecisionLogIntervalMs: int(
    'STREAM_HOOK_DECISION_LOG_INTERVAL_MS',
    10_000,
    'Interval of the hook decision log limit (STREAM_HOOK_DECISION_LOG_LINES), in ms.',
    10,
    86_400_000,
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
  refusedMemoryMs: int(
    'STREAM_REFUSED_MEMORY_MS',
    120_000,
    'A client a hook refused is never counted as a viewer; SRS may list it for a while (HLS ~25 s, WHIP ~34 s) and is remembered this long at most, in ms.',
    1000,
    3_600_000,
  ),
  srsDownAfterMs: int(
    'STREAM_SRS_DOWN_AFTER_MS',
    15_000,
    'SRS counts as down when its API has not answered a complete poll for this long, in ms: every stream is then reported unknown, and the grace and end deadlines of the streams it lost run from the last complete poll. The srs_unreachable alert is raised then too (ALERT_SRS_UNREACHABLE_FOR_MS later).',
    100,
    86_400_000,
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
    'Longest lifetime (exp - iat) a media token (play or publish, in a stream URL) may have, in seconds.',
    1,
    604_800,
  ),
  urlTokenTtlS: int(
    'STREAM_URL_TOKEN_TTL_S',
    600,
    'Lifetime of the media tokens (one room, one action: play or publish) the gateway mints into URLs (HS256 only), in seconds.',
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
} satisfies SettingGroup;

export type StreamConfig = Values<typeof streamSettings>;

/** Settings that must parse as URLs: the SRS API and the bases of the URLs handed to clients. */
const urlKeys = ['srsApiUrl', 'publicRtmpUrl', 'publicHttpUrl', 'publicRtcUrl'] as const;

export const streamChecks: readonly Check<{ stream: StreamConfig }>[] = [
  {
    // The secret sits in the hook URL SRS calls.
    rule: 'STREAM_HOOK_SECRET is URL-safe and long enough',
    names: ['STREAM_HOOK_SECRET'],
    broken: ({ stream: { hookSecret } }) =>
      hookSecret !== undefined && !/^[A-Za-z0-9_-]{16,128}$/.test(hookSecret),
    message: 'STREAM_HOOK_SECRET: 16 to 128 letters, digits, _ or - (it sits in a URL)',
  },
  {
    rule: 'STREAM_HOOK_SECRET is not the placeholder',
    names: ['STREAM_HOOK_SECRET'],
    broken: ({ stream }) => stream.hookSecret === 'CHANGE_ME_HOOK_SECRET',
    message: 'STREAM_HOOK_SECRET: still the placeholder of srs/srs.conf',
  },
  ...urlKeys.map((key): Check<{ stream: StreamConfig }> => {
    const { env } = streamSettings[key];
    return {
      rule: `${env} is a URL`,
      names: [env],
      broken: ({ stream }) => !URL.canParse(stream[key]),
      message: `${env}: not a URL`,
    };
  }),
];
