/**
 * A warning that an outsider can trigger at will (a refused callback, a bad request)
 * must not let them fill the logs: each key writes at most `lines` records per
 * `intervalMs`; what comes beyond is counted, and one summary line with that count
 * is written when the interval ends. Nothing is lost silently: the count says how
 * many were dropped.
 */
import type { Logger } from './log.js';

export interface LogLimit {
  /** Records written per key and interval; 0 writes only the summaries. */
  lines: number;
  /** Length of an interval, in ms. */
  intervalMs: number;
}

interface Window {
  written: number;
  dropped: number;
  timer: NodeJS.Timeout;
}

export class LimitedLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly limit: LogLimit,
  ) {}

  /**
   * Writes `msg` as a warning unless `key` has written its share of this interval.
   * Keys come from code, never from the input (the map of keys stays bounded).
   */
  warn(key: string, msg: string, fields?: Record<string, unknown>): void {
    if (this.take(key)) this.log.warn(msg, fields);
  }

  /**
   * Writes `msg` at info unless `key` has written its share of this interval (a
   * record per request that a flood must not turn into a flood of lines). The
   * summary of what was dropped is still a warning: lines were lost.
   */
  info(key: string, msg: string, fields?: Record<string, unknown>): void {
    if (this.take(key)) this.log.info(msg, fields);
  }

  /** True when `key` may write one more record this interval; counts it as dropped otherwise. */
  private take(key: string): boolean {
    let w = this.windows.get(key);
    if (w === undefined) {
      // The interval starts with its first record and ends on a timer, so that the
      // summary is written even if the flood stops.
      const timer = setTimeout(() => this.end(key), this.limit.intervalMs);
      timer.unref();
      w = { written: 0, dropped: 0, timer };
      this.windows.set(key, w);
    }
    if (w.written < this.limit.lines) {
      w.written++;
      return true;
    }
    w.dropped++;
    return false;
  }

  /** Writes the pending summaries and stops the timers (on shutdown). */
  close(): void {
    for (const key of [...this.windows.keys()]) this.end(key);
  }

  private end(key: string): void {
    const w = this.windows.get(key);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.windows.delete(key);
    if (w.dropped > 0) {
      this.log.warn('log lines dropped by the rate limit', {
        key,
        dropped: w.dropped,
        written: w.written,
        intervalMs: this.limit.intervalMs,
      });
    }
  }
}
