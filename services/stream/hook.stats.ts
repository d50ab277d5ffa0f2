/**
 * How SRS's hook calls went: each decision logged once at info (rate-limited: SRS
 * calls a hook per player, and anyone can make it call) and counted in
 * `srs_hook_calls` at once, and a `hooks` metric event per reconcile period
 * (allowed, denied, timed out, rejected, the slowest answer).
 */
import { LimitedLog } from '#shared/runtime/log.limit.js';
import { ErrorCode, isErrorCode } from '#shared/wire/errors.js';
import type { SrsHook } from './srs.hooks.js';
import type { StreamContext } from './stream.context.js';

/** How a hook call went, for `srs_hook_calls`: `error` when it could not be decided. */
export type HookResult = 'allowed' | 'denied' | 'error';

/** The `reason` label of an allowed call. */
const NO_REASON = 'none';

export class HookStats {
  private stats = { allowed: 0, denied: 0, timedOut: 0, rejected: 0, maxLatencyMs: 0, since: 0 };
  private readonly decisions: LimitedLog;

  constructor(private readonly svc: StreamContext) {
    this.stats.since = svc.now();
    this.decisions = new LimitedLog(svc.logger, {
      lines: svc.cfg.hookDecisionLogLines,
      intervalMs: svc.cfg.hookDecisionLogIntervalMs,
    });
  }

  /**
   * Counts one call in `srs_hook_calls`. `reason` is the error code it was refused
   * or failed with: labels stay within the actions × results × the error table.
   */
  count(action: string, result: HookResult, reason?: string): void {
    const label = reason === undefined ? NO_REASON : isErrorCode(reason) ? reason : 'other';
    this.svc.metrics.hookCalls.add(1, { action, result, reason: label });
  }

  /**
   * Logs and counts one decided hook: the room, action, SRS client id, result and
   * reason (its error code). Never the param: it carries the stream key or token.
   * Each action × result has its own line budget, so that a flood of denials does
   * not hide what was allowed.
   */
  decided(hook: SrsHook, result: HookResult, reason: ErrorCode | undefined): void {
    this.count(hook.action, result, reason);
    this.decisions.info(`hook-${hook.action}-${result}`, 'SRS hook decided', {
      room: hook.roomId,
      action: hook.action,
      // `<room>.m3u8` tells an HLS session from an RTMP/FLV/WebRTC client at a glance.
      ...(hook.hls ? { hls: true } : {}),
      clientId: hook.clientId,
      result,
      reason: reason ?? NO_REASON,
    });
  }

  /** Counts a callback refused for its source address or secret. */
  rejected(action: string): void {
    this.stats.rejected++;
    this.count(action, 'denied', ErrorCode.NOT_ALLOWED);
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

  /** Writes the pending summaries of dropped decision lines (on shutdown). */
  close(): void {
    this.decisions.close();
  }
}
