/**
 * How SRS's hook calls went: each call counted in `srs_hook_calls` at once, and a
 * `hooks` metric event per reconcile period (allowed, denied, timed out, rejected,
 * the slowest answer).
 */
import type { StreamContext } from './stream.context.js';

/** How a hook call went, for `srs_hook_calls`: `error` when it could not be decided. */
export type HookResult = 'allowed' | 'denied' | 'error';

export class HookStats {
  private stats = { allowed: 0, denied: 0, timedOut: 0, rejected: 0, maxLatencyMs: 0, since: 0 };

  constructor(private readonly svc: StreamContext) {
    this.stats.since = svc.now();
  }

  /** Counts one call in `srs_hook_calls`. */
  count(action: string, result: HookResult): void {
    this.svc.metrics.hookCalls.add(1, { action, result });
  }

  /** Counts a callback refused for its source address or secret. */
  rejected(action: string): void {
    this.stats.rejected++;
    this.count(action, 'denied');
  }

  /** Counts a hook that was not decided within its deadline. */
  timedOut(): void {
    this.stats.timedOut++;
  }

  /** Counts an answered hook: what SRS was told, and how long it took. */
  answered(allowed: boolean, latencyMs: number): void {
    if (allowed) this.stats.allowed++;
    else this.stats.denied++;
    this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, latencyMs);
  }

  /** Ends the period at `at`: publishes its `hooks` event (if any hook came) and starts anew. */
  publish(at: number): void {
    const s = this.stats;
    if (s.allowed + s.denied + s.rejected > 0) {
      this.svc.metric({
        type: 'hooks',
        v: 1,
        at,
        periodMs: at - s.since,
        allowed: s.allowed,
        denied: s.denied,
        timedOut: s.timedOut,
        rejected: s.rejected,
        maxLatencyMs: s.maxLatencyMs,
      });
    }
    this.stats = { allowed: 0, denied: 0, timedOut: 0, rejected: 0, maxLatencyMs: 0, since: at };
  }
}
