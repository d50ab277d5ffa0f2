/**
 * The connections each remote address holds before they authenticate. Without a
 * bound, one host that keeps reconnecting (and never sends a token) can hold every
 * connection slot of the gateway (GATEWAY_FULL for everyone else); with it, it holds
 * at most GATEWAY_PREAUTH_PER_ADDRESS of them until they authenticate or close.
 *
 * The address is the socket's peer as uWebSockets.js gives it: behind a proxy, that
 * is the proxy's (no forwarded header is trusted), so the limit is then per proxy.
 */
export class PreAuthLimit {
  private readonly held = new Map<string, number>();

  /** `perAddress` 0 means no limit. */
  constructor(private readonly perAddress: number) {}

  /**
   * Takes a slot for `address`; returns the function that gives it back (idempotent),
   * or undefined when the address holds its limit already.
   */
  take(address: string): (() => void) | undefined {
    if (this.perAddress === 0) return () => undefined;
    const n = this.held.get(address) ?? 0;
    if (n >= this.perAddress) return undefined;
    this.held.set(address, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(address) ?? 1) - 1;
      if (left <= 0) this.held.delete(address);
      else this.held.set(address, left);
    };
  }

  /** Slots held by `address` now. */
  heldBy(address: string): number {
    return this.held.get(address) ?? 0;
  }
}
