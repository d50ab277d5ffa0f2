/** Tokens: how login tokens and media (stream URL) tokens are verified, how long they may live, and revocation. */
import { bool, int, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';

export const authSettings = {
  jwtSecret: str(
    'AUTH_JWT_SECRET',
    undefined,
    'HS256 secret for client tokens (at least 32 bytes). Set this or AUTH_JWKS_URL.',
    { secret: true },
  ),
  jwksUrl: str(
    'AUTH_JWKS_URL',
    undefined,
    'JWKS URL for EdDSA / ES256 tokens (production). Set this or AUTH_JWT_SECRET.',
  ),
  issuer: str('AUTH_ISSUER', 'roomcast', 'Required `iss` of client tokens.'),
  audience: str('AUTH_AUDIENCE', 'roomcast', 'Required `aud` of login (client) tokens.'),
  mediaAudience: str(
    'AUTH_MEDIA_AUDIENCE',
    'roomcast:media',
    'Required `aud` of media tokens (the play/publish tokens in stream URLs); must differ from AUTH_AUDIENCE. The gateway refuses them, SRS hooks take only them.',
  ),
  maxTokenTtlS: int(
    'AUTH_MAX_TOKEN_TTL_S',
    86_400,
    'Longest lifetime a token may have (exp - iat, or exp - now without iat), in seconds; longer ones are refused everywhere. Revocations are kept this long (plus AUTH_CLOCK_TOLERANCE_S).',
    60,
    31_536_000,
  ),
  streamAcceptLoginTokens: bool(
    'AUTH_STREAM_ACCEPT_LOGIN_TOKENS',
    false,
    'Also take a login token (with iat, living at most STREAM_TOKEN_MAX_TTL_S) as ?token= in a stream URL, as before media tokens existed. Off: only media tokens.',
  ),
  clockToleranceS: int(
    'AUTH_CLOCK_TOLERANCE_S',
    5,
    'Tolerance on `exp` / `nbf`, in seconds.',
    0,
    300,
  ),
  maxTokenBytes: int(
    'AUTH_MAX_TOKEN_BYTES',
    4096,
    'Longest token accepted; longer ones are refused before parsing.',
    64,
    65_536,
  ),
  timeoutMs: int(
    'AUTH_TIMEOUT_MS',
    5000,
    'Time a new connection has to send its `auth` frame, in ms.',
    100,
    120_000,
  ),
} satisfies SettingGroup;

export type AuthConfig = Values<typeof authSettings>;

export const authChecks: readonly Check<{ auth: AuthConfig }>[] = [
  {
    rule: 'AUTH_JWT_SECRET has at least 32 bytes',
    names: ['AUTH_JWT_SECRET'],
    broken: ({ auth }) => auth.jwtSecret !== undefined && Buffer.byteLength(auth.jwtSecret) < 32,
    message: 'AUTH_JWT_SECRET: at least 32 bytes',
  },
  {
    // One audience for both would let a URL token pass as a login token.
    rule: 'AUTH_MEDIA_AUDIENCE differs from AUTH_AUDIENCE',
    names: ['AUTH_MEDIA_AUDIENCE', 'AUTH_AUDIENCE'],
    broken: ({ auth }) => auth.mediaAudience === auth.audience,
    message: 'AUTH_MEDIA_AUDIENCE: must differ from AUTH_AUDIENCE',
  },
];
