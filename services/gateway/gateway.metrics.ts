/**
 * The gateway's frame counters and latencies, recorded into the service's metrics
 * registry (shared/runtime/metrics.ts) on every frame.
 *
 * What must hold: recording allocates nothing and looks up one map. Label values
 * come from closed sets (frame types, `invalid`, `rate_limited`); each type's
 * series is bound the first time the type is seen and reused for every frame after.
 */
import {
  createMetrics,
  type BoundCounter,
  type BoundHistogram,
  type Metrics,
} from '#shared/runtime/metrics.js';

/** `type` label values of frames the gateway refused before reading their type. */
export const RefusedFrame = { invalid: 'invalid', rateLimited: 'rate_limited' } as const;

/** Frames in and out, and how long handling a frame took, by frame type. */
export class FrameMetrics {
  private readonly ins = new Map<string, BoundCounter>();
  private readonly outs = new Map<string, BoundCounter>();
  private readonly durations = new Map<string, BoundHistogram>();

  constructor(readonly registry: Metrics = createMetrics()) {}

  /** A frame received from a client (its type, or a `RefusedFrame`). */
  in(type: string): void {
    let c = this.ins.get(type);
    if (c === undefined) {
      c = this.registry.framesIn.bind({ type });
      this.ins.set(type, c);
    }
    c.add(1);
  }

  /** `n` frames of `type` handed to client connections. */
  out(type: string, n = 1): void {
    let c = this.outs.get(type);
    if (c === undefined) {
      c = this.registry.framesOut.bind({ type });
      this.outs.set(type, c);
    }
    c.add(n);
  }

  /** A frame's handling is done; `startedAt` is `performance.now()` when it arrived. */
  handled(type: string, startedAt: number): void {
    let h = this.durations.get(type);
    if (h === undefined) {
      h = this.registry.messageDuration.bind({ type });
      this.durations.set(type, h);
    }
    h.record((performance.now() - startedAt) / 1000);
  }

  /** A connection opened; `open` connections now. */
  opened(open: number): void {
    this.registry.wsOpened.add(1);
    this.registry.wsConnections.set(open);
  }

  /** A connection closed, for `reason` (see `closeReason`); `open` connections now. */
  closed(open: number, reason: string): void {
    this.registry.wsClosed.add(1, { reason });
    this.registry.wsConnections.set(open);
  }
}
