/**
 * Minting HS256 client tokens: for tests, benchmarks and the development token
 * endpoint. Production tokens are issued by the application's own backend (or
 * signed with EdDSA / ES256 and published as a JWKS).
 */
import { SignJWT } from 'jose';
import type { GrantsClaim } from './grants.js';

export interface MintOptions {
  secret: string;
  issuer: string;
  audience: string;
  sub: string;
  grants?: GrantsClaim;
  /** Lifetime in seconds. Defaults to 3600. */
  ttlS?: number;
  /** Extra claims, e.g. `nbf` for tests. */
  extra?: Record<string, unknown>;
}

/** Signs a token the gateway accepts. */
export async function mintToken(o: MintOptions): Promise<string> {
  const jwt = new SignJWT({ ...(o.grants ? { roomcast: o.grants } : {}), ...o.extra })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(o.sub)
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (o.ttlS ?? 3600));
  return jwt.sign(new TextEncoder().encode(o.secret));
}
