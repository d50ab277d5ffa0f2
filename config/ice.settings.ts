/** ICE servers: the STUN and TURN servers the gateway hands each client, and TURN credentials. */
import { int, list, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';

export const iceSettings = {
  servers: list(
    'GATEWAY_ICE_SERVERS',
    [],
    'STUN and TURN URLs the gateway hands each client (in `authenticated` and GET /api/ice-servers), e.g. `stun:turn.example:3478,turn:turn.example:3478?transport=udp`; `turn:`/`turns:` URLs get time-limited credentials (TURN_SECRET). Empty: none (peers on one network only).',
  ),
  turnSecret: str(
    'TURN_SECRET',
    undefined,
    "coturn's `static-auth-secret` (use-auth-secret, the TURN REST API scheme): TURN credentials are HMAC-SHA1 of it (at least 16 bytes). Required when GATEWAY_ICE_SERVERS has a turn: URL.",
    { secret: true },
  ),
  turnTtlS: int(
    'TURN_TTL_S',
    3600,
    "Lifetime of TURN credentials, in seconds; never past the login token's expiry (a refreshed token brings new ones).",
    60,
    86_400,
  ),
} satisfies SettingGroup;

export type IceConfig = Values<typeof iceSettings>;

/** The URL schemes of RFC 7064 / 7065, as RTCIceServer takes them. */
export const ICE_URL = /^(stun|stuns|turn|turns):[^\s,]+$/;
export const isTurnUrl = (url: string) => /^turns?:/.test(url);
const notIceUrl = (url: string) => !ICE_URL.test(url);

export const iceChecks: readonly Check<{ ice: IceConfig }>[] = [
  {
    rule: 'GATEWAY_ICE_SERVERS are stun: or turn: URLs',
    names: ['GATEWAY_ICE_SERVERS'],
    broken: ({ ice }) => ice.servers.some(notIceUrl),
    message: ({ ice }) =>
      `GATEWAY_ICE_SERVERS: ${JSON.stringify(ice.servers.find(notIceUrl))} is not a stun:, stuns:, turn: or turns: URL`,
  },
  {
    // Without it coturn refuses every allocation: better to stop at start than fail on every call.
    rule: 'TURN_SECRET is set when GATEWAY_ICE_SERVERS has a turn: URL',
    names: ['TURN_SECRET', 'GATEWAY_ICE_SERVERS'],
    broken: ({ ice }) => ice.turnSecret === undefined && ice.servers.some(isTurnUrl),
    message: 'TURN_SECRET: required when GATEWAY_ICE_SERVERS has a turn: or turns: URL',
  },
  {
    rule: 'TURN_SECRET has at least 16 bytes',
    names: ['TURN_SECRET'],
    broken: ({ ice }) => ice.turnSecret !== undefined && Buffer.byteLength(ice.turnSecret) < 16,
    message: 'TURN_SECRET: at least 16 bytes',
  },
];
