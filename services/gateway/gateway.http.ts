/**
 * The helpers every HTTP route of the gateway uses: JSON answers, bounded body
 * reading, authenticated and traced routes. Route files import this module and
 * nothing imports them but gateway.routes.ts, which registers them all: the
 * dependencies point one way.
 *
 * uWebSockets.js rules that hold here: everything needed from `req` is copied
 * before the first `await`; every async route registers `onAborted`; writes made
 * after an `await` are corked.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import type { Bus } from '#shared/runtime/bus.js';
import {
  ErrorCode,
  RoomcastError,
  errorBody,
  errorTable,
  type ErrorBody,
} from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import type { RoomClient } from '#shared/room/room.client.js';
import { SpanKind, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import type { Identity, Verify } from '#shared/auth/auth.js';
import type { CorsPolicy } from './gateway.cors.js';

/** What HTTP routes may use. */
export interface HttpContext {
  config: Config;
  bus: Bus;
  log: Logger;
  verify: Verify;
  /** Room commands go through this client only. */
  rooms: RoomClient;
  gatewayId: string;
  /** Live figures for /healthz. */
  stats(): { connections: number; rooms: number };
  /** The CORS headers and preflights of the API (GATEWAY_CORS_ORIGINS). */
  cors: CorsPolicy;
}

const reasons: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
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
  /** Headers every answer carries (CORS, for the request's origin). */
  common: Record<string, string> = {};
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
      for (const [k, v] of Object.entries({ ...this.common, ...headers }))
        this.res.writeHeader(k, v);
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

/** The HTTP methods of authenticated routes, and the uWS app method that registers each. */
const verbs = { GET: 'get', POST: 'post', PUT: 'put', DELETE: 'del' } as const;

/**
 * Registers an authenticated route: `copy` reads what the route needs from `req`
 * (synchronously: `req` is gone after the callback returns), then the bearer token
 * is verified and `work` runs, inside a SERVER span named `GET /api/rooms/:roomId`
 * (so a REST call shows in Jaeger as the root of what it caused, over NATS and in
 * the room service, as a frame does; a caller's `traceparent` header is its parent).
 * Errors are answered as `{error}`.
 */
export function authenticatedRoute<T>(
  app: TemplatedApp,
  ctx: HttpContext,
  method: keyof typeof verbs,
  route: string,
  copy: (req: HttpRequest, reply: Reply) => T,
  work: (identity: Identity, copied: T, reply: Reply) => Promise<void>,
): void {
  ctx.cors.preflight(app, route);
  app[verbs[method]](route, (res, req) => {
    const reply = new Reply(res);
    reply.common = ctx.cors.headers(req.getHeader('origin'));
    const token = bearerToken(req);
    const traceparent = req.getHeader('traceparent');
    const copied = copy(req, reply);
    void withSpan(
      `${method} ${route}`,
      { 'http.request.method': method, 'http.route': route },
      async () => {
        try {
          await work(await authenticate(ctx, token), copied, reply);
        } catch (err) {
          reply.fail(err, ctx.log);
        }
        setSpanAttributes({ 'http.response.status_code': reply.status });
      },
      { kind: SpanKind.SERVER, ...(traceparent === '' ? {} : { parent: traceparent }) },
    );
  });
}

/** The query string of a request ('' without one: getQuery() is then undefined, whatever the typings say). */
export function queryOf(req: HttpRequest): string {
  const query = (req.getQuery() as string | undefined) ?? '';
  return query;
}
