/**
 * TURN credentials by the TURN REST API scheme that coturn implements with
 * `use-auth-secret` (draft-uberti-behave-turn-rest): the username is
 * `<unix expiry in s>:<userId>`, the password base64(HMAC-SHA1(secret, username)).
 * coturn recomputes the password from the username and refuses it after the expiry,
 * so nothing is stored and nothing crosses the bus: the gateway and coturn share only
 * TURN_SECRET.
 *
 * Credentials never outlive the login token they were made for: a client whose token
 * expires (or is revoked and not renewed) loses its relay within TURN_TTL_S at most.
 */
import { createHmac } from 'node:crypto';
import type { IceConfig } from '#config/ice.settings.js';
import { isTurnUrl } from '#config/ice.settings.js';
import type { IceServer } from '../wire/protocol.js';

/** A TURN username and password, valid until `expiresAt` (unix seconds). */
export interface TurnCredential {
  username: string;
  credential: string;
  expiresAt: number;
}

/** The credential coturn accepts for `userId` until `expiresAt` (unix seconds) with `secret`. */
export function turnCredential(secret: string, userId: string, expiresAt: number): TurnCredential {
  const username = `${Math.floor(expiresAt)}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: Math.floor(expiresAt) };
}

/**
 * The ICE servers for `userId`, whose token expires at `tokenExpiresAt` (ms): the
 * STUN URLs as one entry, the TURN URLs as another with credentials that expire after
 * TURN_TTL_S or with the token, whichever comes first. Empty when none are configured.
 */
export function iceServersFor(
  ice: IceConfig,
  userId: string,
  tokenExpiresAt: number,
  now: number = Date.now(),
): IceServer[] {
  const stun = ice.servers.filter((url) => !isTurnUrl(url));
  const turn = ice.servers.filter(isTurnUrl);
  const servers: IceServer[] = [];
  if (stun.length > 0) servers.push({ urls: stun });
  // The config checks make TURN_SECRET present whenever a turn: URL is.
  if (turn.length > 0 && ice.turnSecret !== undefined) {
    const expiresAt = Math.min(now + ice.turnTtlS * 1000, tokenExpiresAt) / 1000;
    const { username, credential } = turnCredential(ice.turnSecret, userId, expiresAt);
    servers.push({ urls: turn, username, credential });
  }
  return servers;
}
