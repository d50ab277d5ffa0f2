/**
 * Per-connection rate limit: a token bucket refilled continuously at `ratePerS`
 * up to `burst`. WebRTC sends candidates in bursts at call set-up, so the bucket
 * allows a burst and then holds the average.
 */

/** A bucket's state: its tokens and when they were last counted (ms). */
export interface BucketState {
  tokens: number;
  tokensAt: number;
}

/**
 * Refills `b` for the time since it was last counted and takes one token; false
 * when it is empty (the frame must be dropped). A function over plain fields so a
 * connection can hold its bucket without an object of its own (10,000 idle
 * connections each pay for every object they keep).
 */
export function takeToken(b: BucketState, ratePerS: number, burst: number, now: number): boolean {
  const elapsed = now - b.tokensAt;
  if (elapsed > 0) {
    b.tokens = Math.min(burst, b.tokens + (elapsed * ratePerS) / 1000);
    b.tokensAt = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

/** A bucket as an object of its own. */
export class TokenBucket implements BucketState {
  tokens: number;
  tokensAt: number;

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.tokensAt = now;
  }

  take(now: number): boolean {
    return takeToken(this, this.ratePerS, this.burst, now);
  }
}
