/** Client tokens: how the gateway verifies them. */
import { int, str } from './setting.define.js';
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
  audience: str('AUTH_AUDIENCE', 'roomcast', 'Required `aud` of client tokens.'),
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
];
