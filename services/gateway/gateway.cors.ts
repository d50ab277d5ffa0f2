/**
 * CORS for the REST API and the WHIP/WHEP forward: a browser page on another origin
 * may call them only if its origin is listed in GATEWAY_CORS_ORIGINS (none by
 * default: no CORS header is ever sent, and only same-origin pages can call).
 *
 * - A response to a request from a listed origin carries
 *   `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`; never `*`, and
 *   never `Allow-Credentials` (the API takes bearer tokens, not cookies).
 * - A preflight (`OPTIONS` with an `Origin`) from a listed origin is answered 204 with
 *   the methods, the request headers and the max-age; from any other origin 403
 *   NOT_ALLOWED with no CORS header, so the browser does not send the request.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import { ErrorCode, errorBody } from '#shared/wire/errors.js';

/** Methods a cross-origin page may use (what the routes serve). */
export const CORS_METHODS = 'GET, POST, PUT, DELETE';
/** Request headers it may send: the token, the body's type, the trace context. */
export const CORS_HEADERS = 'Authorization, Content-Type, traceparent';
/** Response headers it may read: WHIP/WHEP answer the session's URL in Location. */
const EXPOSE_HEADERS = 'Location';

export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;
  private readonly maxAgeS: number;
  /** Routes whose preflight is registered (a route may have several methods). */
  private readonly preflighted = new Set<string>();

  constructor(cfg: Config['gateway']) {
    this.origins = new Set(cfg.corsOrigins);
    this.maxAgeS = cfg.corsMaxAgeS;
  }

  /** The CORS headers of a response to a request from `origin` ('' when it sent none). */
  headers(origin: string): Record<string, string> {
    // With no origin listed, nothing at all: the API is same-origin only.
    if (this.origins.size === 0) return {};
    if (!this.origins.has(origin)) return { vary: 'Origin' };
    return {
      'access-control-allow-origin': origin,
      'access-control-expose-headers': EXPOSE_HEADERS,
      vary: 'Origin',
    };
  }

  /**
   * Answers `OPTIONS route`. Registered per route: uWebSockets.js matches a route's own
   * path before a wildcard, whatever the method, so `OPTIONS /api/*` would never be reached.
   */
  preflight(app: TemplatedApp, route: string): void {
    if (this.preflighted.has(route)) return;
    this.preflighted.add(route);
    app.options(route, (res, req) => this.answer(res, req));
  }

  private answer(res: HttpResponse, req: HttpRequest): void {
    const origin = req.getHeader('origin');
    const allowed = this.origins.has(origin);
    res.cork(() => {
      if (origin !== '' && !allowed) {
        const why = errorBody(ErrorCode.NOT_ALLOWED, 'origin not allowed (GATEWAY_CORS_ORIGINS)');
        res.writeStatus('403 Forbidden').writeHeader('content-type', 'application/json');
        if (this.origins.size > 0) res.writeHeader('vary', 'Origin');
        res.end(JSON.stringify({ error: why }));
        return;
      }
      res.writeStatus('204 No Content').writeHeader('allow', `${CORS_METHODS}, OPTIONS`);
      if (allowed) {
        res
          .writeHeader('access-control-allow-origin', origin)
          .writeHeader('access-control-allow-methods', CORS_METHODS)
          .writeHeader('access-control-allow-headers', CORS_HEADERS)
          .writeHeader('access-control-max-age', String(this.maxAgeS))
          .writeHeader('vary', 'Origin');
      }
      res.end();
    });
  }
}
