/**
 * The gateway's HTTP side: health, and the helpers every HTTP route uses (JSON
 * answers, bounded body reading, bearer-token auth). Route groups (REST API,
 * demo page) register themselves in `registerHttp`.
 *
 * uWebSockets.js rules that hold here: everything needed from `req` is copied
 * before the first `await`; every async route registers `onAborted`; writes made
 * after an `await` are corked.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/bus.js';
import { ErrorCode, RoomcastError, errorBody, errorTable, type ErrorBody } from '#shared/errors.js';
import type { Logger } from '#shared/log.js';
import { SpanKind, setSpanAttributes, withSpan } from '#shared/telemetry.js';
import { registerAlertRoutes } from './gateway.alerts.routes.js';
import type { Identity, Verify } from '#shared/auth.js';
import { registerDemo } from './gateway.demo.js';
import { registerRest } from './gateway.rest.js';
import { registerStreamRoutes } from './gateway.stream.routes.js';

/** What HTTP routes may use. */
export interface HttpContext {
  config: Config;
  bus: Bus;
  log: Logger;
  verify: Verify;
  gatewayId: string;
  /** Live figures for /healthz. */
  stats(): { connections: number; rooms: number };
}

const reasons: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * A response that knows whether the client went away. Writes after an abort are
 * dropped (uWS throws on an aborted response).
 */
export class Reply {
  aborted = false;
  /** The status answered (0 until then), for the request's span. */
  status = 0;
  constructor(readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.status = status;
    if (this.aborted) return;
    this.res.cork(() => {
      this.res.writeStatus(`${status} ${reasons[status] ?? 'Status'}`);
      this.res.writeHeader('content-type', 'application/json');
      this.res.writeHeader('cache-control', 'no-store');
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      this.res.end(JSON.stringify(body));
    });
  }

  /** `{error: {code, message}}` with the code's HTTP status. */
  error(error: ErrorBody, status: number = errorTable[error.code].httpStatus): void {
    this.json(status, { error });
  }

  fail(err: unknown, log: Logger): void {
    if (err instanceof RoomcastError) {
      this.error(err.toBody());
      return;
    }
    log.error('http handler failed', { err });
    this.error(errorBody(ErrorCode.INTERNAL));
  }
}

/** Answers JSON from a synchronous route (no abort handler needed). */
export function sendJson(res: HttpResponse, status: number, body: unknown): void {
  res.cork(() => {
    res
      .writeStatus(`${status} ${reasons[status] ?? 'Status'}`)
      .writeHeader('content-type', 'application/json')
      .writeHeader('cache-control', 'no-store')
      .end(JSON.stringify(body));
  });
}

/**
 * Reads the whole body, refusing more than `maxBytes` (TOO_LARGE) as soon as it is
 * exceeded, without buffering the rest. Must be called before any `await`.
 */
export function readBody(reply: Reply, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    reply.res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > maxBytes) {
        done = true;
        reject(new RoomcastError(ErrorCode.TOO_LARGE, `body over ${maxBytes} bytes`));
        return;
      }
      // The chunk's memory is reused after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

/** The bearer token of a request, copied out of `req` (call before any `await`). */
export function bearerToken(req: HttpRequest): string | undefined {
  const header = req.getHeader('authorization');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** Verifies a request's bearer token; throws AUTH_REQUIRED / TOKEN_* errors. */
export async function authenticate(ctx: HttpContext, token: string | undefined): Promise<Identity> {
  if (token === undefined)
    throw new RoomcastError(ErrorCode.AUTH_REQUIRED, 'send Authorization: Bearer <token>');
  return ctx.verify(token);
}

/** What a request's span is named after, copied out of `req` before any `await`. */
export interface RouteOf {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The route's template, not the path: `/api/rooms/:roomId`. */
  route: string;
  /** The caller's W3C `traceparent` header ('' when absent): its trace continues here. */
  traceparent: string;
}

/** The `traceparent` header of a request (call before any `await`). */
export function traceparentOf(req: HttpRequest): string {
  return req.getHeader('traceparent');
}

/**
 * Runs an authenticated route: verifies the bearer token, then `work`, inside a
 * SERVER span named `GET /api/rooms/:roomId` (so a REST call shows in Jaeger as
 * the root of what it caused, over NATS and in the room service, as a frame does).
 * Errors are answered as `{error}`. `req` must be read before this is called.
 */
export function serveAuthenticated(
  reply: Reply,
  ctx: HttpContext,
  token: string | undefined,
  of: RouteOf,
  work: (identity: Identity) => Promise<void>,
): void {
  void withSpan(
    `${of.method} ${of.route}`,
    { 'http.request.method': of.method, 'http.route': of.route },
    async () => {
      try {
        await work(await authenticate(ctx, token));
      } catch (err) {
        reply.fail(err, ctx.log);
      }
      setSpanAttributes({ 'http.response.status_code': reply.status });
    },
    { kind: SpanKind.SERVER, ...(of.traceparent === '' ? {} : { parent: of.traceparent }) },
  );
}

/** Registers every HTTP route of the gateway. `/signaling` is registered by the server. */
export function registerHttp(app: TemplatedApp, ctx: HttpContext): void {
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

  app.any('/*', (res) => {
    sendJson(res, 404, { error: errorBody(ErrorCode.NOT_FOUND) });
  });
}
