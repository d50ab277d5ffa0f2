/**
 * Revocations on SRS's side: the stream service watches the `revocations` bucket
 * (shared/auth/revocations.ts; it only reads it, the gateway creates it), refuses
 * revoked tokens at on_publish / on_play, and kicks (`DELETE /api/v1/clients/{id}`)
 * every SRS client it admitted for a revoked user or token, publisher first.
 *
 * A publisher admitted with the stream key counts as a token of its room's owner
 * issued when it was admitted: revoking the owner's sessions kicks it, a publish
 * after the revocation is the owner's new session.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { RevocationList, RevocationWatch, openRevocationBucket } from '#shared/auth/revocations.js';
import type { TokenFacts } from '#shared/auth/token.verify.js';
import { SpanKind, withSpan } from '#shared/runtime/telemetry.js';
import type { StreamContext } from './stream.context.js';

/** An SRS client admitted for a user: what a revocation is checked against. */
interface Admitted {
  roomId: string;
  publish: boolean;
  facts: TokenFacts;
}

export class StreamRevocations {
  private readonly list = new RevocationList();
  private readonly watch: RevocationWatch;
  private readonly admitted = new Map<string, Admitted>();
  /** Clients being kicked: one kick each, however many changes arrive meanwhile. */
  private readonly kicking = new Set<string>();

  constructor(
    private readonly svc: StreamContext,
    nc: NatsConnection,
    maxAgeS: number,
  ) {
    this.watch = new RevocationWatch({
      open: () => openRevocationBucket(nc),
      list: this.list,
      log: svc.logger,
      maxAgeS,
      onChange: () => this.kickRevoked(),
    });
  }

  /** Starts watching; resolves once the bucket's revocations are loaded. */
  start(): Promise<void> {
    return this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  isRevoked(facts: TokenFacts): boolean {
    return this.list.isRevoked(facts);
  }

  /** SRS now carries `clientId` for the user of `facts` (a granted publish or play). */
  admit(clientId: string, roomId: string, publish: boolean, facts: TokenFacts): void {
    this.admitted.set(clientId, { roomId, publish, facts });
    // A revocation that landed while the hook was being decided.
    if (this.list.isRevoked(facts)) this.kickRevoked();
  }

  /** SRS let `clientId` go (on_unpublish / on_stop). */
  forget(clientId: string): void {
    this.admitted.delete(clientId);
  }

  private kickRevoked(): void {
    const revoked = [...this.admitted].filter(
      ([id, a]) => !this.kicking.has(id) && this.list.isRevoked(a.facts),
    );
    // Publishers first: kicking one ends its players' sessions too.
    revoked.sort(([, a], [, b]) => Number(b.publish) - Number(a.publish));
    for (const [clientId, a] of revoked) void this.kick(clientId, a);
  }

  private async kick(clientId: string, a: Admitted): Promise<void> {
    this.kicking.add(clientId);
    let ok = true;
    try {
      await withSpan(
        'srs kick',
        { 'roomcast.room': a.roomId, 'srs.client': clientId, 'srs.kick.reason': 'revoked' },
        () => this.svc.srs.kick(clientId),
        { kind: SpanKind.CLIENT },
      );
      this.admitted.delete(clientId);
    } catch (err) {
      ok = false;
      this.svc.logger.warn('kick failed', { roomId: a.roomId, clientId, err });
    } finally {
      this.kicking.delete(clientId);
    }
    this.svc.logger.info('kicked an SRS client', {
      roomId: a.roomId,
      clientId,
      reason: 'revoked',
      userId: a.facts.userId,
    });
    this.svc.metric({
      type: 'srs_kick',
      v: 1,
      at: this.svc.now(),
      roomId: a.roomId,
      clientId,
      reason: 'revoked',
      ok,
    });
  }
}
