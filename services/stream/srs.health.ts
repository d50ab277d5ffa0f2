/**
 * Whether SRS counts as down: its API has not answered a complete poll for
 * STREAM_SRS_DOWN_AFTER_MS. While it is, nothing SRS carries is known (status
 * answers say `unknown`, the `srs_down` gauge feeds the srs_unreachable alert), and
 * the streams it lost are timed from the last complete poll, the last moment they
 * were known to be there. Rooms whose stream is watched are told (`stream_unknown`,
 * their members see it); the next complete poll's sync tells them it is known again.
 */
import type { StreamContext } from './stream.context.js';

export class SrsHealth {
  /** When the last complete poll was asked for; the service's start before the first. */
  private lastGood: number;
  private polledOnce = false;
  private down = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly svc: StreamContext,
    /** Told once per outage, with its start (the last complete poll): rooms hear of it. */
    private readonly onDown: (since: number) => void = () => {},
  ) {
    this.lastGood = svc.now();
  }

  /** Starts the down timer (from now: nothing was polled yet). */
  start(): void {
    // Reported from the start: the alert falls back to srs_up for an instance without it.
    this.svc.metrics.srsDown.set(this.down ? 1 : 0);
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** When the last complete poll was asked for, or null before the first. */
  get lastGoodPollAt(): number | null {
    return this.polledOnce ? this.lastGood : null;
  }

  /**
   * A complete poll asked for at `at`. Returns how long before it the previous one
   * was (0 before the first): how late a loss this poll reveals may be noticed.
   */
  good(at: number): number {
    const gap = this.polledOnce ? Math.max(0, at - this.lastGood) : 0;
    this.lastGood = at;
    this.polledOnce = true;
    if (this.down) {
      this.down = false;
      this.svc.logger.info('SRS is back: streams are known again', { downForMs: gap });
    }
    this.svc.metrics.srsDown.set(0);
    this.arm();
    return gap;
  }

  /** Since when SRS counts as down (its last complete poll, or the start), or null while up. */
  downSince(now: number = this.svc.now()): number | null {
    return this.down || now - this.lastGood >= this.svc.cfg.srsDownAfterMs ? this.lastGood : null;
  }

  /** Marks SRS down once no complete poll came for STREAM_SRS_DOWN_AFTER_MS. */
  private arm(): void {
    clearTimeout(this.timer);
    if (this.svc.stopped) return;
    const dueIn = this.lastGood + this.svc.cfg.srsDownAfterMs - this.svc.now();
    this.timer = setTimeout(() => this.markDown(), Math.max(0, dueIn));
    this.timer.unref();
  }

  private markDown(): void {
    if (this.down || this.svc.stopped) return;
    this.down = true;
    this.svc.metrics.srsDown.set(1);
    // Once per outage: the failed polls themselves are counted in srs_poll_errors.
    this.svc.logger.warn('SRS down: every stream is reported unknown until its API answers', {
      since: this.lastGood,
      afterMs: this.svc.cfg.srsDownAfterMs,
    });
    this.onDown(this.lastGood);
  }
}
