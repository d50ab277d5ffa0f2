/**
 * `GET /api/alerts`: the alerts raised now and the recent history (newest first),
 * asked of the alert service on `alerts.query`. Operators only: a bearer token
 * whose `roomcast` claim has `"admin": ["*"]` (see shared/grants.ts).
 *
 * Query: `limit`, the most recent changes wanted in `recent` (a positive integer;
 * the alert service caps it at its ALERT_HISTORY_SIZE).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { AlertsQuery, AlertsReply } from '#shared/alert.events.js';
import { ErrorCode, RoomcastError } from '#shared/errors.js';
import { isOperator } from '#shared/grants.js';
import { subjects } from '#shared/subjects.js';
import {
  Reply,
  bearerToken,
  serveAuthenticated,
  traceparentOf,
  type HttpContext,
} from './gateway.http.js';

const LIMIT = /^[1-9]\d{0,8}$/;

/** Reads `?limit=`; throws BAD_FRAME when it is not a positive integer. */
function parseQuery(query: string): AlertsQuery {
  const limit = new URLSearchParams(query).get('limit');
  if (limit === null) return {};
  if (!LIMIT.test(limit)) throw new RoomcastError(ErrorCode.BAD_FRAME, 'limit: a positive integer');
  return { limit: Number(limit) };
}

/** Registers the alert routes (called from `registerHttp`). */
export function registerAlertRoutes(app: TemplatedApp, ctx: HttpContext): void {
  app.get('/api/alerts', (res, req) => {
    const reply = new Reply(res);
    // Copied before any await: `req` is gone after this callback returns.
    const token = bearerToken(req);
    const query = (req.getQuery() as string | undefined) ?? '';
    const route = { method: 'GET', route: '/api/alerts', traceparent: traceparentOf(req) } as const;
    serveAuthenticated(reply, ctx, token, route, async (identity) => {
      if (!isOperator(identity.grants))
        throw new RoomcastError(
          ErrorCode.NOT_ALLOWED,
          'alerts need an operator token (admin: ["*"])',
        );
      const answer = await ctx.bus.request<AlertsReply>(subjects.alertsQuery, parseQuery(query));
      if (!answer.ok) {
        reply.error(answer.error);
        return;
      }
      reply.json(200, { active: answer.active, recent: answer.recent });
    });
  });
}
