/**
 * The hysteresis every rule runs its value through, pure: no I/O and no clock
 * (time is an argument, so tests drive it). For one rule and one key:
 * - raised once the value has stayed above `threshold` for `forMs`;
 * - resolved once it has stayed at or below `clearAt` (≤ threshold) for `clearForMs`;
 * - a value between the two changes nothing, and a value that crosses back before
 *   its time is up resets the clock: a flapping value cannot make a storm.
 * So for one key, raised and resolved strictly alternate, starting with raised.
 * No data (an instance gone stale, a room no longer live) counts as clear.
 */
import type { Alert, AlertEvent } from '#shared/wire/alert.events.js';
import { round, summary, type Rule, type Signal } from './alert.rules.js';

/** Hysteresis state of one rule for one key. */
export interface Tracker {
  /** The alert while raised. */
  alert: Alert | undefined;
  /** Since when the value has been past the level that would change the state. */
  since: number | undefined;
}

export const idleTracker: Tracker = { alert: undefined, since: undefined };

/**
 * One step of the hysteresis for one key: the next tracker, and the alert event
 * when the state changed. `signal` undefined (no data) counts as clear.
 */
export function step(
  rule: Rule,
  key: string,
  tracker: Tracker,
  signal: Signal | undefined,
  now: number,
): { tracker: Tracker; event?: AlertEvent } {
  const value = signal?.value ?? Number.NEGATIVE_INFINITY;
  const raised = tracker.alert;
  if (raised === undefined) {
    if (!(value > rule.threshold)) return { tracker: idleTracker };
    const since = tracker.since ?? now;
    if (now - since < rule.forMs) return { tracker: { alert: undefined, since } };
    const alert: Alert = {
      id: `${rule.id}:${key}:${now}`,
      rule: rule.id,
      severity: rule.severity,
      key,
      state: 'raised',
      raisedAt: now,
      resolvedAt: null,
      value: round(value),
      threshold: rule.threshold,
      unit: rule.unit,
      // `signal` is defined: an undefined one is never above the threshold.
      summary: summary(rule, key, signal ?? { value }),
      ...(signal?.reason === undefined ? {} : { reason: signal.reason }),
    };
    return {
      tracker: { alert, since: undefined },
      event: { v: 1, type: 'alert_raised', at: now, alert },
    };
  }
  if (!(value <= rule.clearAt)) return { tracker: { alert: raised, since: undefined } };
  const since = tracker.since ?? now;
  if (now - since < rule.clearForMs) return { tracker: { alert: raised, since } };
  const alert: Alert = { ...raised, state: 'resolved', resolvedAt: now };
  return { tracker: idleTracker, event: { v: 1, type: 'alert_resolved', at: now, alert } };
}
