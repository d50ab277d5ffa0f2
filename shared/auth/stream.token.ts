/**
 * What SRS hooks take as `?token=` for one room and one action: a media token for
 * that room (`publish` for on_publish; `play` or `publish` for on_play). A login
 * token only when the deployment turns AUTH_STREAM_ACCEPT_LOGIN_TOKENS on (then
 * with `iat`, at most STREAM_TOKEN_MAX_TTL_S of life, and its grants for the room).
 */
import { decodeJwt } from 'jose';
import type { Config } from '#config/config.js';
import { ErrorCode, RoomcastError } from '../wire/errors.js';
import { createVerifier } from './auth.js';
import { permsFor, type RoomPerms } from './grants.js';
import { MediaAction, createMediaVerifier } from './media.token.js';
import type { TokenFacts } from './token.verify.js';

/** A stream token, verified for one room and action: whose it is and what it allows there. */
export interface StreamCredential extends TokenFacts {
  perms: RoomPerms;
}

export type VerifyStream = (
  token: string,
  roomId: string,
  action: MediaAction,
) => Promise<StreamCredential>;

/** Builds the hooks' token check; `maxTtlS` is STREAM_TOKEN_MAX_TTL_S. */
export function createStreamVerifier(
  cfg: Config['auth'],
  maxTtlS: number,
  now: () => number = Date.now,
): VerifyStream {
  const media = createMediaVerifier(cfg, maxTtlS, now);
  const login = cfg.streamAcceptLoginTokens ? createVerifier(cfg, now) : undefined;

  const asLogin = async (token: string, roomId: string): Promise<StreamCredential> => {
    if (login === undefined) {
      throw new RoomcastError(
        ErrorCode.TOKEN_INVALID,
        'a login token is not a stream token; use the URLs of GET /api/rooms/:roomId/urls',
      );
    }
    const { grants, ...facts } = await login(token);
    if (facts.issuedAt === undefined || facts.expiresAt - facts.issuedAt > maxTtlS * 1000) {
      throw new RoomcastError(
        ErrorCode.TOKEN_INVALID,
        `a stream token needs iat and lives at most ${maxTtlS} s`,
      );
    }
    return { ...facts, perms: permsFor(grants, roomId) };
  };

  return async (token, roomId, action) => {
    if (hasAudience(token, cfg.audience)) return asLogin(token, roomId);
    const grant = await media(token);
    if (grant.roomId !== roomId) {
      throw new RoomcastError(ErrorCode.NOT_ALLOWED, 'this media token is for another room');
    }
    if (action === MediaAction.publish && grant.action !== MediaAction.publish) {
      throw new RoomcastError(ErrorCode.NOT_ALLOWED, 'a play token does not publish');
    }
    const publish = grant.action === MediaAction.publish;
    const { roomId: _room, action: _action, ...facts } = grant;
    return { ...facts, perms: { publish, view: true, admin: false } };
  };
}

/** True when the (unverified) token names `audience`: which verifier to try. */
function hasAudience(token: string, audience: string): boolean {
  let aud: unknown;
  try {
    aud = decodeJwt(token).aud;
  } catch {
    return false;
  }
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}
