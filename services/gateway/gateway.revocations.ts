/**
 * The gateway's side of revocations (shared/auth/revocations.ts): it creates the
 * `revocations` bucket (max age AUTH_MAX_TOKEN_TTL_S + AUTH_CLOCK_TOLERANCE_S),
 * writes what an administrator revokes, and watches the bucket so that every gateway
 * refuses revoked tokens (connect, `auth` refresh, REST) and closes the sockets they
 * opened (TOKEN_REVOKED, then 4401) as soon as a revocation lands.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import type { Identity, Verify } from '#shared/auth/auth.js';
import {
  RevocationList,
  RevocationWatch,
  RevocationWriter,
  createRevocationBucket,
  revocationMaxAgeS,
  type TokenRevocation,
  type UserRevocation,
} from '#shared/auth/revocations.js';
import type { Logger } from '#shared/runtime/log.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';

export interface GatewayRevocationsOptions {
  nc: NatsConnection;
  auth: Config['auth'];
  /** Replicas of the revocations bucket (NATS_REPLICAS). */
  replicas: number;
  log: Logger;
  /** Something was revoked: close what it names. */
  onChange: () => void;
}

export class GatewayRevocations {
  private readonly list = new RevocationList();
  private readonly maxAgeS: number;
  private writer: RevocationWriter | undefined;
  private watch: RevocationWatch | undefined;

  constructor(private readonly o: GatewayRevocationsOptions) {
    this.maxAgeS = revocationMaxAgeS(o.auth);
  }

  /** Creates the bucket and loads what it holds: from then on revoked tokens are refused. */
  async start(): Promise<void> {
    const kv = await createRevocationBucket(this.o.nc, this.maxAgeS, this.o.replicas);
    this.writer = new RevocationWriter(kv);
    this.watch = new RevocationWatch({
      open: () => Promise.resolve(kv),
      list: this.list,
      log: this.o.log,
      maxAgeS: this.maxAgeS,
      onChange: this.o.onChange,
    });
    await this.watch.start();
  }

  stop(): void {
    this.watch?.stop();
  }

  /** True when the token behind `identity` is revoked. */
  isRevoked(identity: Identity): boolean {
    return this.list.isRevoked(identity);
  }

  /** `verify`, refusing revoked tokens (TOKEN_REVOKED). */
  guard(verify: Verify): Verify {
    return async (token) => {
      const identity = await verify(token);
      if (this.list.isRevoked(identity)) throw new RoomcastError(ErrorCode.TOKEN_REVOKED);
      return identity;
    };
  }

  /** Revokes every session of `userId` up to now. */
  revokeUser(userId: string, nowS: number): Promise<UserRevocation> {
    return this.writable().revokeUser(userId, nowS);
  }

  /** Revokes one token; `exp` (unix s) is when it would expire anyway. */
  revokeToken(tokenId: string, exp: number): Promise<TokenRevocation> {
    return this.writable().revokeToken(tokenId, exp);
  }

  private writable(): RevocationWriter {
    if (this.writer === undefined) throw new RoomcastError(ErrorCode.UNAVAILABLE);
    return this.writer;
  }
}
