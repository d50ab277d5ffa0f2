/**
 * Login tokens: what a client shows the gateway (WebSocket `access_token` or `auth`
 * frame, REST `Authorization: Bearer`). Audience AUTH_AUDIENCE, a `roomcast` grants
 * claim, and never a media token: a play or publish URL token is refused here by
 * its audience and by its `media` claim (media.token.ts verifies those).
 */
import type { Config } from '#config/config.js';
import { ErrorCode, RoomcastError } from '../wire/errors.js';
import { readGrants, type Grants } from './grants.js';
import { MEDIA_CLAIM } from './media.token.js';
import { createCoreVerifier, type TokenFacts } from './token.verify.js';

export { toAuthError } from './token.verify.js';

/** Who a verified login token says the client is. */
export interface Identity extends TokenFacts {
  grants: Grants;
}

export type Verify = (token: string) => Promise<Identity>;

/** Builds the login-token verifier for the configured keys; throws when none is configured. */
export function createVerifier(cfg: Config['auth'], now: () => number = Date.now): Verify {
  const core = createCoreVerifier(cfg, now);
  return async (token: string): Promise<Identity> => {
    const { payload, ...facts } = await core(token, 'login');
    if (payload[MEDIA_CLAIM] !== undefined) {
      throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'a media token is not a login token');
    }
    const grants = readGrants(payload.roomcast);
    if (grants === undefined)
      throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'malformed roomcast claim');
    return { ...facts, grants };
  };
}
