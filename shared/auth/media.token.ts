/**
 * Media tokens: the play and publish tokens in stream URLs (`?token=`). Each names
 * one room and one action, lives briefly (STREAM_URL_TOKEN_TTL_S when minted, at
 * most STREAM_TOKEN_MAX_TTL_S when taken), and has its own audience
 * (AUTH_MEDIA_AUDIENCE): the gateway refuses it as a login token, and SRS hooks take
 * nothing else (unless AUTH_STREAM_ACCEPT_LOGIN_TOKENS, see stream.token.ts).
 *
 * ```json
 * { "sub": "bob", "aud": "roomcast:media", "jti": "…", "media": { "room": "r1", "action": "play" } }
 * ```
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Config } from '#config/config.js';
import { ErrorCode, RoomcastError } from '../wire/errors.js';
import { SUBJECT_TOKEN_PATTERN } from '../wire/subjects.js';
import { createCoreVerifier, type TokenFacts } from './token.verify.js';

/** The claim that makes a token a media token. */
export const MEDIA_CLAIM = 'media';

/** What a media token allows: watching, or publishing (which includes watching). */
export const MediaAction = { play: 'play', publish: 'publish' } as const;
export type MediaAction = (typeof MediaAction)[keyof typeof MediaAction];

const MediaClaim = Type.Object(
  {
    room: Type.String({ pattern: SUBJECT_TOKEN_PATTERN }),
    action: Type.Union([Type.Literal(MediaAction.play), Type.Literal(MediaAction.publish)]),
  },
  { additionalProperties: false },
);
const mediaCheck = TypeCompiler.Compile(MediaClaim);

/** A verified media token: whose it is, and the one room and action it allows. */
export interface MediaGrant extends TokenFacts {
  roomId: string;
  action: MediaAction;
}

export type VerifyMedia = (token: string) => Promise<MediaGrant>;

/**
 * Builds the media-token verifier: the common checks (token.verify.ts) for
 * AUTH_MEDIA_AUDIENCE, then `iat` required, `exp - iat` at most `maxTtlS`, and a
 * well-formed `media` claim.
 */
export function createMediaVerifier(
  cfg: Config['auth'],
  maxTtlS: number,
  now: () => number = Date.now,
): VerifyMedia {
  const core = createCoreVerifier(cfg, now);
  return async (token) => {
    const { payload, ...facts } = await core(token, 'media');
    if (facts.issuedAt === undefined || facts.expiresAt - facts.issuedAt > maxTtlS * 1000) {
      throw new RoomcastError(
        ErrorCode.TOKEN_INVALID,
        `a media token needs iat and lives at most ${maxTtlS} s`,
      );
    }
    const claim: unknown = payload[MEDIA_CLAIM];
    if (!mediaCheck.Check(claim)) {
      throw new RoomcastError(ErrorCode.TOKEN_INVALID, 'malformed media claim');
    }
    return { ...facts, roomId: claim.room, action: claim.action };
  };
}

export interface MintMediaOptions {
  secret: string;
  issuer: string;
  /** AUTH_MEDIA_AUDIENCE. */
  audience: string;
  sub: string;
  roomId: string;
  action: MediaAction;
  /** Lifetime in seconds. */
  ttlS: number;
  /** Extra claims, for tests. */
  extra?: Record<string, unknown>;
}

/** Signs an HS256 media token (with a fresh `jti`, so that one token can be revoked). */
export function mintMediaToken(o: MintMediaOptions): Promise<string> {
  const nowS = Math.floor(Date.now() / 1000);
  return new SignJWT({ [MEDIA_CLAIM]: { room: o.roomId, action: o.action }, ...o.extra })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(o.sub)
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setJti(randomBytes(12).toString('base64url'))
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + o.ttlS)
    .sign(new TextEncoder().encode(o.secret));
}
