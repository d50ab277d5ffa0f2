/**
 * Token verification at the edges: the gateway's client tokens, and the play and
 * publish tokens SRS hands the stream service in a stream URL. The algorithm allow-list is fixed by what is
 * configured: HS256 with AUTH_JWT_SECRET, EdDSA / ES256 with AUTH_JWKS_URL; `none`
 * and everything else is refused by jose before any signature work.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '#config/config.js';
import { ErrorCode, RoomcastError } from '../wire/errors.js';
import { readGrants, type Grants } from './grants.js';
import { isSubjectToken } from '../wire/subjects.js';

/** Who a verified token says the client is. */
export interface Identity {
  /** The token's `sub`: the only user id the system trusts. */
  userId: string;
  grants: Grants;
  /** When the token expires, ms since the epoch. */
  expiresAt: number;
  /** When it was issued (`iat`), ms since the epoch; undefined without `iat`. */
  issuedAt?: number;
}

export type Verify = (token: string) => Promise<Identity>;

/** Builds the verifier for the configured keys; throws when none is configured. */
export function createVerifier(cfg: Config['auth']): Verify {
  const secret = cfg.jwtSecret === undefined ? undefined : new TextEncoder().encode(cfg.jwtSecret);
  const jwks = cfg.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(cfg.jwksUrl));
  if (secret === undefined && jwks === undefined) {
    throw new Error('no token key configured: set AUTH_JWT_SECRET or AUTH_JWKS_URL');
  }
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ['EdDSA', 'ES256'] : [])];
  const key: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret !== undefined) return secret;
    if (jwks !== undefined) return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed('algorithm not allowed');
  };

  return async (token: string): Promise<Identity> => {
    // Checked before any parsing: an attacker's huge token costs us nothing.
    if (token.length > cfg.maxTokenBytes || Buffer.byteLength(token) > cfg.maxTokenBytes) {
      throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'token is too long');
    }
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms,
        issuer: cfg.issuer,
        audience: cfg.audience,
        clockTolerance: cfg.clockToleranceS,
        requiredClaims: ['sub', 'exp'],
      });
      // jose does not check the type of `sub`, and a RegExp test would pass the number 42.
      const userId: unknown = payload.sub;
      if (typeof userId !== 'string' || !isSubjectToken(userId)) {
        throw new RoomcastError(
          ErrorCode.TOKEN_INVALID,
          'sub: letters, digits, _ and -, at most 64',
        );
      }
      const grants = readGrants(payload.roomcast);
      if (grants === undefined)
        throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'malformed roomcast claim');
      return {
        userId,
        grants,
        expiresAt: (payload.exp ?? 0) * 1000,
        ...(payload.iat === undefined ? {} : { issuedAt: payload.iat * 1000 }),
      };
    } catch (err) {
      throw toAuthError(err);
    }
  };
}

/** Maps jose's error codes onto ours; the message never contains the token. */
export function toAuthError(err: unknown): RoomcastError {
  if (err instanceof RoomcastError) return err;
  if (err instanceof errors.JWTExpired)
    return new RoomcastError(ErrorCode.TOKEN_EXPIRED, undefined, { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf')
      return new RoomcastError(ErrorCode.TOKEN_NOT_YET_VALID, undefined, { cause: err });
    return new RoomcastError(ErrorCode.TOKEN_INVALID, `claim ${err.claim}: ${err.reason}`, {
      cause: err,
    });
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new RoomcastError(ErrorCode.TOKEN_INVALID, 'algorithm not allowed', { cause: err });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new RoomcastError(ErrorCode.TOKEN_INVALID, 'signature does not verify', { cause: err });
  }
  return new RoomcastError(ErrorCode.TOKEN_INVALID, undefined, { cause: err });
}
