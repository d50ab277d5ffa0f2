/**
 * What the gateway hands a client for ICE: the `authenticated` frame (sent on
 * connect and again for every refreshed token, so TURN credentials follow the
 * token's expiry) and `GET /api/ice-servers` for a client that negotiates before or
 * without a socket. Both carry the same list (shared/auth/turn.credentials.ts).
 *
 * Reply of the route: `200 {"iceServers": [RTCIceServer, ...]}`.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import type { Identity } from '#shared/auth/auth.js';
import { iceServersFor } from '#shared/auth/turn.credentials.js';
import { PROTOCOL_VERSION, type FrameId, type ServerFrame } from '#shared/wire/protocol.js';
import { authenticatedRoute, type HttpContext } from './gateway.http.js';

/** The `authenticated` frame for `identity`, with its ICE servers. */
export function authenticatedFrame(
  config: Config,
  identity: Identity,
  id?: FrameId,
): Extract<ServerFrame, { type: 'authenticated' }> {
  return {
    type: 'authenticated',
    userId: identity.userId,
    protocol: PROTOCOL_VERSION,
    iceServers: iceServersFor(config.ice, identity.userId, identity.expiresAt),
    ...(id === undefined ? {} : { id }),
  };
}

/** Registers `GET /api/ice-servers` (called from gateway.routes.ts). */
export function registerIceRoutes(app: TemplatedApp, ctx: HttpContext): void {
  authenticatedRoute(
    app,
    ctx,
    'GET',
    '/api/ice-servers',
    () => undefined,
    (identity, _copied, reply) => {
      reply.json(200, {
        iceServers: iceServersFor(ctx.config.ice, identity.userId, identity.expiresAt),
      });
      return Promise.resolve();
    },
  );
}
