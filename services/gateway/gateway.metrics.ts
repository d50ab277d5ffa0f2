/**
 * The gateway's frame counters and latencies, recorded into the service's metrics
 * registry (shared/metrics.ts) on every frame.
 *
 * What must hold: recording allocates nothing. Label values come from closed sets
 * (frame types, `invalid`, `rate_limited`), and each gets one attributes object,
 * made the first time it is seen and reused for every frame after.
 */
import { createMetrics, type Metrics } from '#shared/metrics.js';

type TypeLabel = { readonly type: string };
const labels = new Map<string, TypeLabel>();

/** The `{type}` attributes of a frame type, made once per type. */
function label(type: string): TypeLabel {
  let l = labels.get(type);
  if (l === undefined) {
    l = { type };
    labels.set(type, l);
  }
  return l;
}

/** `type` label values of frames the gateway refused before reading their type. */
export const RefusedFrame = { invalid: 'invalid', rateLimited: 'rate_limited' } as const;

// Byte 9 of a relayed frame: the first letter of its type (see `signalFrameType`).
const LETTER_O = 0x6f;
const LETTER_A = 0x61;
const LETTER_C = 0x63;

/**
 * The type of a peer-to-peer frame as it arrives from NATS, read off its bytes.
 * Gateways serialize these frames with `type` first (Gateway.relay), so they
 * start with `{"type":"` and the next byte tells offer, answer and candidate
 * apart; decoding the frame only to count it would cost more than relaying it.
 */
export function signalFrameType(data: Uint8Array): 'offer' | 'answer' | 'candidate' | 'other' {
  const letter = data[9];
  if (letter === LETTER_C) return 'candidate';
  if (letter === LETTER_O) return 'offer';
  if (letter === LETTER_A) return 'answer';
  return 'other';
}

/** Frames in and out, and how long handling a frame took, by frame type. */
export class FrameMetrics {
  constructor(readonly registry: Metrics = createMetrics()) {}

  /** A frame received from a client (its type, or a `RefusedFrame`). */
  in(type: string): void {
    this.registry.framesIn.add(1, label(type));
  }

  /** `n` frames of `type` handed to client connections. */
  out(type: string, n = 1): void {
    this.registry.framesOut.add(n, label(type));
  }

  /** A frame's handling is done; `startedAt` is `performance.now()` when it arrived. */
  handled(type: string, startedAt: number): void {
    this.registry.messageDuration.record((performance.now() - startedAt) / 1000, label(type));
  }

  /** Connections open now, opened and closed (by the close code's reason). */
  opened(open: number): void {
    this.registry.wsOpened.add(1);
    this.registry.wsConnections.set(open);
  }

  closed(open: number, reason: string): void {
    this.registry.wsClosed.add(1, { reason });
    this.registry.wsConnections.set(open);
  }
}
