/**
 * Tokens as the SDK needs them: where one comes from (a string, or a provider the
 * app implements, e.g. a fetch to its own backend or to `/dev/token`) and when to
 * ask for the next one. The SDK never verifies a token (the gateway does); it only
 * reads `exp` to refresh before it.
 */

/** Returns a fresh token; called on connect, before expiry, and on every reconnect that needs one. */
export type TokenProvider = () => string | Promise<string>;

/** `exp` of a JWT in ms since the epoch, or undefined when it cannot be read. */
export function tokenExpiryMs(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const claims = JSON.parse(atob(padded)) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long to wait before refreshing a token that expires at `expMs`: `leadMs`
 * before it, but never later than two thirds into what is left (a short-lived token
 * still gets its refresh in time), and never less than `minMs`.
 */
export function refreshDelayMs(expMs: number, now: number, leadMs: number, minMs = 250): number {
  const left = expMs - now;
  const lead = Math.max(Math.min(leadMs, left / 3), 0);
  return Math.max(left - lead, minMs);
}

/** Full-jitter backoff: a random delay up to the capped exponential, but at least half of it. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}
