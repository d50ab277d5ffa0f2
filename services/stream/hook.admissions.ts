/**
 * What the hooks decided about each SRS client, for the reconcile rounds: a client
 * SRS lists is a viewer only if a hook admitted it.
 *
 * Why: SRS lists a client before it asks on_play, and keeps a refused one listed for
 * a while (an HLS session ~20–25 s, then an on_stop; a refused WHIP publish ~34 s,
 * then an on_unpublish). Adopting those would give a refused request a seat. HLS
 * sessions outlive their requests, so they are counted only as admitted by on_play
 * here and still listed by SRS.
 */
import type { StreamContext } from './stream.context.js';

export class HookAdmissions {
  /** on_publish/on_play being decided now. */
  private readonly pending = new Set<string>();
  /** Clients a hook refused, with when: kept until their on_stop/on_unpublish or `forgetAfterMs`. */
  private readonly refused = new Map<string, number>();
  /** HLS sessions on_play admitted, with when, until their on_stop (or SRS no longer lists them). */
  private readonly hls = new Map<string, number>();

  constructor(private readonly svc: StreamContext) {}

  /** A refused client SRS never followed up with its on_stop is forgotten after this, in ms. */
  private get forgetAfterMs(): number {
    return this.svc.cfg.refusedMemoryMs;
  }

  begin(clientId: string): void {
    this.pending.add(clientId);
  }

  /** The hook's verdict on `clientId`. */
  decided(clientId: string, allowed: boolean, hls: boolean): void {
    this.pending.delete(clientId);
    if (!allowed) {
      this.refused.set(clientId, this.svc.now());
      return;
    }
    this.refused.delete(clientId);
    if (hls) this.hls.set(clientId, this.svc.now());
  }

  /** on_stop / on_unpublish: SRS let the client go (a returning HLS session is asked anew). */
  ended(clientId: string): void {
    this.refused.delete(clientId);
    this.hls.delete(clientId);
  }

  /**
   * Whether a listed player counts as a viewer: not while its on_play is decided,
   * not once refused, and an HLS session only as admitted by this service.
   */
  counts(clientId: string, type: string): boolean {
    if (this.pending.has(clientId) || this.isRefused(clientId)) return false;
    return type !== 'hls-play' || this.hls.has(clientId);
  }

  /** Whether a hook refused `clientId` lately: SRS lets it go by itself, no kick needed. */
  isRefused(clientId: string): boolean {
    const at = this.refused.get(clientId);
    if (at === undefined) return false;
    if (this.svc.now() - at <= this.forgetAfterMs) return true;
    this.refused.delete(clientId);
    return false;
  }

  /**
   * Once a complete round: drops refusals older than the memory, and HLS sessions
   * admitted before the lists were read that SRS no longer lists (after an SRS
   * restart no on_stop ever comes).
   */
  prune(listed: ReadonlySet<string>, readAt: number): void {
    for (const id of this.refused.keys()) this.isRefused(id);
    for (const [id, at] of this.hls) if (at < readAt && !listed.has(id)) this.hls.delete(id);
  }
}
