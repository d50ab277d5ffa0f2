/**
 * Alerts on the wire: what the alert service appends to the ALERTS stream
 * (`alert.<severity>.<rule>`), POSTs to the webhook, and answers on
 * `alerts.query` (the gateway's `GET /api/alerts`).
 */
import type { ErrorBody } from './errors.js';

export const Severity = { warning: 'warning', critical: 'critical' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

/** Rule names: the last token of `alert.<severity>.<rule>`. */
export const RuleId = {
  gatewayConnections: 'gateway_connections',
  connectionsTotal: 'connections_total',
  roomsTotal: 'rooms_total',
  membersTotal: 'members_total',
  streamFailed: 'stream_failed',
  srsUnreachable: 'srs_unreachable',
  hookErrors: 'hook_errors',
  memory: 'memory',
  cpu: 'cpu',
  eventLoopLag: 'event_loop_lag',
} as const;
export type RuleId = (typeof RuleId)[keyof typeof RuleId];

/** An alert, the same object from raise to resolve. */
export interface Alert {
  /** `<rule>:<key>:<raisedAt>`: stable across the alert's raise and resolve. */
  id: string;
  rule: RuleId;
  severity: Severity;
  /** What it is about: a gateway or process instance, a room id, or `all`. */
  key: string;
  state: 'raised' | 'resolved';
  /** ms since the epoch. */
  raisedAt: number;
  resolvedAt: number | null;
  /** The value when it was raised, in `unit`. */
  value: number;
  threshold: number;
  unit: string;
  summary: string;
  /** stream_failed: which failure (a `StreamFailure`). */
  reason?: string;
}

/** What the ALERTS stream holds, one per change. */
export interface AlertEvent {
  v: 1;
  type: 'alert_raised' | 'alert_resolved';
  /** When it changed, ms since the epoch. */
  at: number;
  alert: Alert;
}

/** The `Nats-Msg-Id` of an alert event: a retried append is dropped by JetStream. */
export const alertMsgId = (e: AlertEvent): string => `${e.alert.id}:${e.type}`;

/** Request on `alerts.query`. */
export interface AlertsQuery {
  /** Most recent changes wanted in `recent`; the service caps it at ALERT_HISTORY_SIZE. */
  limit?: number;
}

/** Reply on `alerts.query`. */
export type AlertsReply =
  | {
      ok: true;
      /** Alerts raised now, oldest first. */
      active: Alert[];
      /** The latest raised and resolved events, newest first. */
      recent: AlertEvent[];
    }
  | { ok: false; error: ErrorBody };
