/**
 * `GET /api/alerts`: the alerts raised now and the recent history (newest first),
 * asked of the alert service on `alerts.query`. Operators only: a bearer token
 * whose `roomcast` claim has `"admin": ["*"]` (see shared/auth/grants.ts).
 *
 * Query: `limit`, the most recent changes wanted in `recent` (a positive integer;
 * the alert service caps it at its ALERT_HISTORY_SIZE).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { AlertsQuery, AlertsReply } from '#shared/wire/alert.events.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import { isOperator } from '#shared/auth/grants.js';
import { subjects } from '#shared/wire/subjects.js';
import { authenticatedRoute, queryOf, type HttpContext } from './gateway.http.js';

const LIMIT = /^[1-9]\d{0,8}$/;

/** Reads `?limit=`; throws BAD_FRAME when it is not a positive integer. */
function parseQuery(query: string): AlertsQuery {
  const limit = new URLSearchParams(query).get('limit');
  if (limit === null) return {};
  if (!LIMIT.test(limit)) throw new RoomcastError(ErrorCode.BAD_FRAME, 'limit: a positive integer');
  return { limit: Number(limit) };
}

/** Registers the alert routes (called from gateway.routes.ts). */
export function registerAlertRoutes(app: TemplatedApp, ctx: HttpContext): void {
  authenticatedRoute(app, ctx, 'GET', '/api/alerts', queryOf, async (identity, query, reply) => {
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
}
