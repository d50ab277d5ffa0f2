/**
 * Every HTTP route of the gateway, registered in order: health, the route groups,
 * then the catch-all 404. `/signaling` is the server's (gateway.server.ts).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';
import { registerAlertRoutes } from './gateway.alerts.routes.js';
import { CorsPolicy } from './gateway.cors.js';
import { registerDemo } from './gateway.demo.js';
import { sendJson, type HttpContext } from './gateway.http.js';
import { registerIceRoutes } from './gateway.ice.js';
import { registerRest } from './gateway.rest.js';
import { registerRtcForward } from './gateway.rtc.js';
import { registerStreamRoutes } from './gateway.stream.routes.js';

/** Registers every HTTP route of the gateway. `/signaling` is registered by the server. */
/** A group of routes the gateway adds with state of its own (e.g. revocations). */
export type RouteGroup = (app: TemplatedApp, ctx: HttpContext) => void;

export function registerHttp(
  app: TemplatedApp,
  base: Omit<HttpContext, 'cors'>,
  groups: readonly RouteGroup[] = [],
): void {
  const ctx: HttpContext = { ...base, cors: new CorsPolicy(base.config.gateway) };
  app.get('/healthz', (res) => {
    const natsUp = !ctx.bus.nc.isClosed();
    sendJson(res, natsUp ? 200 : 503, {
      status: natsUp ? 'ok' : 'nats-down',
      gateway: ctx.gatewayId,
      ...ctx.stats(),
    });
  });

  // Route groups register here, before the catch-all.
  registerDemo(app, ctx);
  registerAlertRoutes(app, ctx);
  registerRest(app, ctx);
  registerStreamRoutes(app, ctx);
  registerRtcForward(app, ctx);
  registerIceRoutes(app, ctx);
  for (const group of groups) group(app, ctx);

  app.any('/*', (res) => {
    sendJson(res, 404, { error: errorBody(ErrorCode.NOT_FOUND) });
  });
}
