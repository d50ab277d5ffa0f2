/** The alert service: rule thresholds, its state and lease, the webhook. */
import { int, list, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';
import { httpUrlCheck } from './setting.checks.js';

export const alertSettings = {
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
    0,
    'Rule srs_unreachable: how long a stream service may report SRS down before it is raised, in ms. It reports SRS down after STREAM_SRS_DOWN_AFTER_MS without a complete poll of the SRS API (the same moment it reports streams unknown): that setting is the threshold, this one only adds to it.',
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
} satisfies SettingGroup;

export type AlertConfig = Values<typeof alertSettings>;

export const alertChecks: readonly Check<{ alert: AlertConfig }>[] = [
  httpUrlCheck('ALERT_WEBHOOK_URL', ({ alert }: { alert: AlertConfig }) => alert.webhookUrl),
  {
    // Room events are acknowledged once a save holds them: a save must come well within the wait.
    rule: 'ALERT_ACK_WAIT_MS is at least twice ALERT_SNAPSHOT_INTERVAL_MS',
    names: ['ALERT_ACK_WAIT_MS', 'ALERT_SNAPSHOT_INTERVAL_MS'],
    broken: ({ alert }) => alert.snapshotIntervalMs * 2 > alert.ackWaitMs,
    message: 'ALERT_ACK_WAIT_MS: at least twice ALERT_SNAPSHOT_INTERVAL_MS',
  },
  {
    rule: 'ALERT_WEBHOOK_BACKOFF_MAX_MS is at least ALERT_WEBHOOK_BACKOFF_MS',
    names: ['ALERT_WEBHOOK_BACKOFF_MAX_MS', 'ALERT_WEBHOOK_BACKOFF_MS'],
    broken: ({ alert }) => alert.webhookBackoffMaxMs < alert.webhookBackoffMs,
    message: 'ALERT_WEBHOOK_BACKOFF_MAX_MS: at least ALERT_WEBHOOK_BACKOFF_MS',
  },
];
