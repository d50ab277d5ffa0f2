/**
 * The stream routes of the REST API (authenticated like the rest):
 * - `GET /api/rooms/:roomId/urls`: where to publish (the owner: RTMP with the stream
 *   key, WHIP; a user with a publish grant: the same with a short-lived publish token)
 *   and where to watch (RTMP, HTTP-FLV, HLS, WebRTC/WHEP) for everyone the room lets
 *   in. Private rooms need a play token in the URL: minted here when tokens are HS256.
 *   URL tokens are media tokens (shared/auth/media.token.ts): one room, one action,
 *   their own audience; never a login token.
 * - `GET /api/rooms/:roomId/stream`: the stream's status, answered by the stream
 *   service from the room's record and the SRS API.
 */
import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import { permsFor } from '#shared/auth/grants.js';
import { MediaAction, mintMediaToken } from '#shared/auth/media.token.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import type { StreamStatusReply } from '#shared/stream/stream.protocol.js';
import { playUrls, publishUrls } from '#shared/stream/stream.urls.js';
import { isSubjectToken, subjects } from '#shared/wire/subjects.js';
import type { Identity } from '#shared/auth/auth.js';
import { authenticatedRoute, type HttpContext } from './gateway.http.js';

/** The room as its requester may see it; throws ROOM_NOT_FOUND for a private room it may not. */
async function roomFor(ctx: HttpContext, roomId: string, identity: Identity): Promise<LiveRoom> {
  if (!isSubjectToken(roomId)) throw new RoomcastError(ErrorCode.ROOM_NOT_FOUND);
  const { room } = await ctx.rooms.get(roomId, {
    userId: identity.userId,
    perms: permsFor(identity.grants, roomId),
  });
  return room;
}

export function registerStreamRoutes(app: TemplatedApp, ctx: HttpContext): void {
  const cfg = ctx.config.stream;
  const secret = ctx.config.auth.jwtSecret;
  /** A short-lived media token for `sub`, one room and one action, when this gateway can sign (HS256). */
  const mint =
    secret === undefined
      ? undefined
      : (sub: string, roomId: string, action: MediaAction) =>
          mintMediaToken({
            secret,
            issuer: ctx.config.auth.issuer,
            audience: ctx.config.auth.mediaAudience,
            sub,
            roomId,
            action,
            ttlS: cfg.urlTokenTtlS,
          });

  /** `:roomId`, copied out of the request. */
  const roomIdParam = (req: HttpRequest) => req.getParameter(0);

  authenticatedRoute(
    app,
    ctx,
    'GET',
    '/api/rooms/:roomId/urls',
    roomIdParam,
    async (identity, roomId, reply) => {
      const room = await roomFor(ctx, roomId, identity);
      if (room.status === 'ended') throw new RoomcastError(ErrorCode.ROOM_ENDED);
      const owner = room.userId === identity.userId;
      let publish;
      if (owner && room.streamKey !== undefined) {
        publish = publishUrls(cfg, roomId, { key: room.streamKey });
      } else if (permsFor(identity.grants, roomId).publish && mint !== undefined) {
        publish = publishUrls(cfg, roomId, {
          token: await mint(identity.userId, roomId, MediaAction.publish),
        });
      }
      // Whoever `get` let see a private room may watch it: with a play token of its own.
      // A public room needs none, but gets one all the same: SRS then names the user in
      // on_play, and a user who watches both over WebSocket and through SRS takes one
      // seat, not two (anonymous players cannot be matched to anyone).
      const playToken =
        mint !== undefined ? await mint(identity.userId, roomId, MediaAction.play) : undefined;
      reply.json(200, {
        roomId,
        ...(publish === undefined ? {} : { publish }),
        play: playUrls(cfg, roomId, playToken === undefined ? null : { token: playToken }),
        /** True when the play URLs still need `token=<play token>` appended. */
        playTokenRequired: room.isPrivate && playToken === undefined,
        ...(playToken === undefined ? {} : { tokenExpiresIn: cfg.urlTokenTtlS }),
      });
    },
  );

  authenticatedRoute(
    app,
    ctx,
    'GET',
    '/api/rooms/:roomId/stream',
    roomIdParam,
    async (identity, roomId, reply) => {
      await roomFor(ctx, roomId, identity);
      const status = await ctx.bus.request<StreamStatusReply>(subjects.streamStatus(roomId), {
        roomId,
      });
      if (!status.ok) throw new RoomcastError(status.error.code, status.error.message);
      reply.json(200, { stream: status.stream });
    },
  );
}
