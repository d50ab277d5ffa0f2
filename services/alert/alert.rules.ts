/**
 * The alert rules: which rules there are, their limits from the configuration
 * (ALERT_* settings), and what an alert of each says. How a value becomes an
 * alert is `step` (alert.hysteresis.ts); where the values come from is
 * alert.signals.ts; the engine that runs them is alert.engine.ts.
 */
import { ConfigError, type Config } from '#config/config.js';
import { RuleId, Severity } from '#shared/wire/alert.events.js';

const ruleIds = new Set<string>(Object.values(RuleId));

/** One rule with its limits. */
export interface Rule {
  id: RuleId;
  severity: Severity;
  /** Raised when the value is above this. */
  threshold: number;
  /** Resolved when the value is at or below this; `clearAt ≤ threshold`, the gap is the hysteresis band. */
  clearAt: number;
  /** How long the value must stay above `threshold` before the alert is raised, in ms. */
  forMs: number;
  /** How long it must stay at or below `clearAt` before the alert is resolved, in ms. */
  clearForMs: number;
  /** Unit of the value, for people. */
  unit: string;
}

/** Why a live room's stream counts as failed. */
export const StreamFailure = {
  publisherGone: 'publisher_gone',
  notOnSrs: 'not_on_srs',
  noMedia: 'no_media',
} as const;
export type StreamFailure = (typeof StreamFailure)[keyof typeof StreamFailure];

/** The value of a rule for one key, and what it is (for the summary). */
export interface Signal {
  value: number;
  reason?: string;
}

/** A value as alerts carry it: two decimals. */
export const round = (v: number): number => Math.round(v * 100) / 100;

/** What an alert of `rule` for `key` says, for people. */
export function summary(rule: Rule, key: string, s: Signal): string {
  const v = round(s.value);
  const limit = `(limit ${rule.threshold}${rule.unit === '' ? '' : ` ${rule.unit}`})`;
  switch (rule.id) {
    case 'gateway_connections':
      return `gateway ${key}: ${v} WebSocket connections ${limit}`;
    case 'connections_total':
      return `${v} WebSocket connections over all gateways ${limit}`;
    case 'rooms_total':
      return `${v} open rooms ${limit}`;
    case 'members_total':
      return `${v} room members ${limit}`;
    case 'stream_failed':
      return `live room ${key}: ${
        s.reason === StreamFailure.publisherGone
          ? 'its publisher is gone'
          : s.reason === StreamFailure.notOnSrs
            ? 'SRS does not carry its stream'
            : 'no media arrives on its stream'
      }`;
    case 'srs_unreachable':
      return `stream service ${key} cannot reach the SRS API`;
    case 'hook_errors':
      return `${v}% of SRS hook calls failed ${limit}`;
    case 'memory':
      return `${key}: resident memory ${v} MiB ${limit}`;
    case 'cpu':
      return `${key}: CPU ${v}% of one core ${limit}`;
    case 'event_loop_lag':
      return `${key}: event-loop lag p99 ${v} ms ${limit}`;
  }
}

/** The rules as configured (ALERT_* settings), without the disabled ones. */
export function rulesFromConfig(c: Config['alert']): Rule[] {
  for (const id of c.disabledRules) {
    if (!ruleIds.has(id))
      throw new ConfigError(
        `ALERT_RULES_DISABLED: unknown rule ${JSON.stringify(id)}; rules: ${[...ruleIds].join(', ')}`,
      );
  }
  const band = (threshold: number) => threshold * (1 - c.hysteresisPercent / 100);
  const level = (
    id: RuleId,
    severity: Severity,
    threshold: number,
    unit: string,
    forMs = c.forMs,
  ): Rule => ({
    id,
    severity,
    threshold,
    clearAt: band(threshold),
    forMs,
    clearForMs: c.clearForMs,
    unit,
  });
  // A condition that holds or not (1 or 0): raised above 0, resolved at 0.
  const condition = (id: RuleId, forMs: number): Rule => ({
    id,
    severity: Severity.critical,
    threshold: 0,
    clearAt: 0,
    forMs,
    clearForMs: c.clearForMs,
    unit: '',
  });
  const all: Rule[] = [
    level(RuleId.gatewayConnections, Severity.warning, c.gatewayConnectionsMax, ''),
    level(RuleId.connectionsTotal, Severity.warning, c.connectionsTotalMax, ''),
    level(RuleId.roomsTotal, Severity.warning, c.roomsMax, ''),
    level(RuleId.membersTotal, Severity.warning, c.membersMax, ''),
    condition(RuleId.streamFailed, c.streamFailedForMs),
    condition(RuleId.srsUnreachable, c.srsUnreachableForMs),
    level(RuleId.hookErrors, Severity.warning, c.hookErrorPercent, '%'),
    level(RuleId.memory, Severity.warning, c.memoryMb, 'MiB'),
    level(RuleId.cpu, Severity.warning, c.cpuPercent, '%'),
    level(RuleId.eventLoopLag, Severity.warning, c.eventLoopLagMs, 'ms'),
  ];
  return all.filter((r) => !c.disabledRules.includes(r.id));
}
