/**
 * What every token we take must pass, whatever it is for: the key and algorithm
 * allow-list, the issuer, one audience (not also the other kind's), `sub` an id, an
 * `exp`, and a lifetime within `AUTH_MAX_TOKEN_TTL_S`. The login and the media
 * verifiers (auth.ts, media.token.ts) each add their own checks on top.
 *
 * The algorithm allow-list is fixed by what is configured: HS256 with
 * AUTH_JWT_SECRET, EdDSA / ES256 with AUTH_JWKS_URL; `none` and everything else is
 * refused by jose before any signature work.
 */
import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '#config/config.js';
import { ErrorCode, RoomcastError } from '../wire/errors.js';
import { isSubjectToken } from '../wire/subjects.js';

/** What every verified token tells, whatever its kind. */
export interface TokenFacts {
  /** The token's `sub`: the only user id the system trusts. */
  userId: string;
  /** When the token expires, ms since the epoch. */
  expiresAt: number;
  /** When it was issued (`iat`), ms since the epoch; undefined without `iat`. */
  issuedAt?: number;
  /** The token's `jti`, when it has one that can be named in a revocation. */
  tokenId?: string;
}

/** A verified token: its facts and its whole payload for the kind's own checks. */
export interface Verified extends TokenFacts {
  payload: JWTPayload;
}

/** Which kind of token is expected: its audience is required, the other kind's refused. */
export type TokenKind = 'login' | 'media';

/** Verifies the common part of a token of `kind`. */
export type VerifyCore = (token: string, kind: TokenKind) => Promise<Verified>;

/** Builds the common verifier for the configured keys; throws when none is configured. */
export function createCoreVerifier(cfg: Config['auth'], now: () => number = Date.now): VerifyCore {
  const secret = cfg.jwtSecret === undefined ? undefined : new TextEncoder().encode(cfg.jwtSecret);
  const jwks = cfg.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(cfg.jwksUrl));
  if (secret === undefined && jwks === undefined) {
    throw new Error('no token key configured: set AUTH_JWT_SECRET or AUTH_JWKS_URL');
  }
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ['EdDSA', 'ES256'] : [])];
  // Imported into WebCrypto once: jose imports raw secret bytes again on every
  // verification, about a third of an HS256 check's CPU (a gateway verifies a token
  // per connection, and a reconnect storm is thousands at once).
  let hmacKey: Promise<webcrypto.CryptoKey> | undefined;
  const key: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret !== undefined)
      return (hmacKey ??= webcrypto.subtle.importKey(
        'raw',
        secret,
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      ));
    if (jwks !== undefined) return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed('algorithm not allowed');
  };

  const audiences = { login: cfg.audience, media: cfg.mediaAudience };
  return async (token, kind) => {
    const audience = audiences[kind];
    const otherAudience = audiences[kind === 'login' ? 'media' : 'login'];
    // Checked before any parsing: an attacker's huge token costs us nothing.
    if (token.length > cfg.maxTokenBytes || Buffer.byteLength(token) > cfg.maxTokenBytes) {
      throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'token is too long');
    }
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms,
        issuer: cfg.issuer,
        audience,
        clockTolerance: cfg.clockToleranceS,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(now()),
      });
      // A token for both audiences would be a login token and a URL token at once.
      if (Array.isArray(payload.aud) && payload.aud.includes(otherAudience)) {
        throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'claim aud: one kind of token only');
      }
      // jose does not check the type of `sub`, and a RegExp test would pass the number 42.
      const userId: unknown = payload.sub;
      if (typeof userId !== 'string' || !isSubjectToken(userId)) {
        throw new RoomcastError(
          ErrorCode.TOKEN_INVALID,
          'sub: letters, digits, _ and -, at most 64',
        );
      }
      checkLifetime(payload, cfg, now() / 1000);
      const jti: unknown = payload.jti;
      return {
        payload,
        userId,
        expiresAt: (payload.exp ?? 0) * 1000,
        ...(payload.iat === undefined ? {} : { issuedAt: payload.iat * 1000 }),
        ...(typeof jti === 'string' && isSubjectToken(jti) ? { tokenId: jti } : {}),
      };
    } catch (err) {
      throw toAuthError(err);
    }
  };
}

/**
 * `exp - iat` (and `exp - now`, which an `iat` in the future cannot shorten) at most
 * AUTH_MAX_TOKEN_TTL_S: a token living "forever" (`exp: 1e308`) is refused.
 */
function checkLifetime(payload: JWTPayload, cfg: Config['auth'], nowS: number): void {
  const exp = payload.exp ?? Infinity;
  const max = cfg.maxTokenTtlS;
  // Built only when thrown: an Error's stack capture cost every connection's check a
  // few tens of µs (a gateway profile of 10,000 connects).
  const tooLong = () =>
    new RoomcastError(
      ErrorCode.TOKEN_INVALID,
      `claim exp: a token lives at most ${max} s (AUTH_MAX_TOKEN_TTL_S)`,
    );
  if (!Number.isFinite(exp) || exp - nowS > max + cfg.clockToleranceS) throw tooLong();
  if (payload.iat === undefined) return;
  if (payload.iat > nowS + cfg.clockToleranceS) {
    throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'claim iat: issued in the future');
  }
  if (exp - payload.iat > max) throw tooLong();
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
