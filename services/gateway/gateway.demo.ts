/**
 * Development-only routes, each behind its own switch (both off by default; only
 * `npm start` turns them on):
 * - GATEWAY_DEMO: the demo page at `/demo/` (services/gateway/demo/: plain HTML,
 *   JavaScript and CSS, no build step), and the client SDK it loads at `/sdk/`
 *   (gateway.sdk.ts).
 * - GATEWAY_DEV_TOKENS: `POST /dev/token {"user": "<name>"}` answers a short-lived
 *   token for that user that may create rooms and publish to and view the demo
 *   rooms. Anyone who reaches it can be anyone, so it answers loopback clients
 *   only, and config refuses it with NODE_ENV=production. A loopback peer is not
 *   enough: a page from another site can reach loopback through the browser, by DNS
 *   rebinding (its own name resolving to 127.0.0.1: the `Host` is then that name) or
 *   directly (the `Origin` is then that site). So the `Host` must be a loopback name
 *   and an `Origin`, when sent, a loopback origin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, RoomcastError, errorBody } from '#shared/wire/errors.js';
import type { GrantsClaim } from '#shared/auth/grants.js';
import { SUBJECT_TOKEN_PATTERN } from '#shared/wire/subjects.js';
import { mintToken } from '#shared/auth/tokens.js';
import { Reply, readBody, sendJson, type HttpContext } from './gateway.http.js';
import { registerSdk } from './gateway.sdk.js';

/** The demo page's files: nothing else under /demo/ is served. */
const JS = 'text/javascript; charset=utf-8';
const DEMO_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'demo.css': 'text/css; charset=utf-8',
  'demo.js': JS,
  'demo.broadcast.js': JS,
  'demo.media.js': JS,
  'demo.p2p.js': JS,
  'demo.session.js': JS,
  'demo.srs.js': JS,
  'demo.view.js': JS,
};

/**
 * The page talks to its own origin (WebSocket and fetch) and, to broadcast or
 * watch through SRS, to the WHIP/WHEP origin the `/urls` route hands out
 * (STREAM_PUBLIC_RTC_URL; the gateway's own when it forwards them). Media comes
 * from the camera, a canvas, or a peer connection.
 */
export function demoCsp(publicRtcUrl: string): string {
  const rtc = URL.canParse(publicRtcUrl) ? ` ${new URL(publicRtcUrl).origin}` : '';
  return [
    "default-src 'self'",
    `connect-src 'self' ws: wss:${rtc}`,
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Body of `POST /dev/token`. */
const DevTokenRequest = Type.Object(
  { user: Type.String({ pattern: SUBJECT_TOKEN_PATTERN }) },
  { additionalProperties: false },
);
const devTokenCheck = TypeCompiler.Compile(DevTokenRequest);

/**
 * Where the page's files are: beside this module when it runs from source, in
 * the source tree when it runs from dist/ (tsc copies no static files).
 */
export function findDemoDir(): string | undefined {
  return [
    new URL('./demo/', import.meta.url),
    new URL('../../../services/gateway/demo/', import.meta.url),
  ]
    .map((u) => fileURLToPath(u))
    .find((dir) => existsSync(`${dir}index.html`));
}

/** True for a loopback peer as uWebSockets.js spells it (IPv4, IPv6, IPv4-mapped IPv6). */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (/^127\./.test(a) || a === '::1') return true;
  if (/^(0{1,4}:){7}0{0,3}1$/.test(a)) return true;
  return /^(::ffff:|(0{1,4}:){5}ffff:)(127\.|7f[0-9a-f]{2}:)/.test(a);
}

/** A `Host` header naming loopback: localhost, 127.0.0.1 or [::1], with any port or none. */
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/**
 * True for a `Host` header naming loopback. The name is what DNS rebinding cannot
 * fake (the browser sends the attacker's name); the port is not checked, as it
 * differs from the gateway's behind a local tunnel or proxy.
 */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host.toLowerCase());
}

/** True for an `Origin` header that is an http(s) origin on loopback, exactly as browsers write it. */
export function isLoopbackOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const u = new URL(origin);
  if (u.origin !== origin || (u.protocol !== 'http:' && u.protocol !== 'https:')) return false;
  return (
    u.hostname === 'localhost' || u.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(u.hostname)
  );
}

function redirect(res: HttpResponse, location: string): void {
  res.cork(() => {
    res.writeStatus('302 Found').writeHeader('location', location).end();
  });
}

/** Registers the development routes that config switches on. */
export function registerDemo(app: TemplatedApp, ctx: HttpContext): void {
  const cfg = ctx.config.gateway;
  if (cfg.demo) {
    registerPage(app, ctx);
    registerSdk(app, ctx);
  }
  if (cfg.devTokens) registerDevTokens(app, ctx);
}

function registerPage(app: TemplatedApp, ctx: HttpContext): void {
  const dir = findDemoDir();
  if (dir === undefined) {
    ctx.log.warn('GATEWAY_DEMO is on but the demo files are not here; /demo/ is not served');
    return;
  }
  const csp = demoCsp(ctx.config.stream.publicRtcUrl);
  const serve = (res: HttpResponse, name: string): void => {
    const type = DEMO_FILES[name];
    if (type === undefined) {
      sendJson(res, 404, { error: errorBody(ErrorCode.NOT_FOUND) });
      return;
    }
    // Read on every request: the page can be edited without restarting the gateway.
    const body = readFileSync(`${dir}${name}`);
    res.cork(() => {
      res
        .writeStatus('200 OK')
        .writeHeader('content-type', type)
        .writeHeader('cache-control', 'no-store')
        .writeHeader('x-content-type-options', 'nosniff')
        .writeHeader('content-security-policy', csp)
        .end(body);
    });
  };
  app.get('/', (res) => redirect(res, '/demo/'));
  app.get('/demo', (res) => redirect(res, '/demo/'));
  app.get('/demo/', (res) => serve(res, 'index.html'));
  app.get('/demo/:file', (res, req) => serve(res, req.getParameter(0)));
  ctx.log.info('demo page on', { path: '/demo/' });
}

function registerDevTokens(app: TemplatedApp, ctx: HttpContext): void {
  const { auth, gateway: cfg } = ctx.config;
  const secret = auth.jwtSecret;
  // loadConfig refuses GATEWAY_DEV_TOKENS without a secret; this keeps the types honest.
  if (secret === undefined) throw new Error('GATEWAY_DEV_TOKENS needs AUTH_JWT_SECRET');
  const grants: GrantsClaim = {
    create: true,
    publish: [...cfg.demoRooms],
    view: [...cfg.demoRooms],
  };
  const decoder = new TextDecoder();

  app.post('/dev/token', (res, req) => {
    const contentType = req.getHeader('content-type');
    const host = req.getHeader('host');
    const origin = req.getHeader('origin');
    const remote = decoder.decode(res.getRemoteAddressAsText());
    const reply = new Reply(res);
    if (!isLoopback(remote)) {
      reply.error(errorBody(ErrorCode.NOT_ALLOWED, 'development tokens are for loopback clients'));
      return;
    }
    if (!isLoopbackHost(host)) {
      reply.error(
        errorBody(
          ErrorCode.NOT_ALLOWED,
          'development tokens: Host must be localhost, 127.0.0.1 or [::1]',
        ),
      );
      return;
    }
    if (origin !== '' && !isLoopbackOrigin(origin)) {
      reply.error(
        errorBody(ErrorCode.NOT_ALLOWED, 'development tokens: Origin must be a loopback origin'),
      );
      return;
    }
    // A JSON content type makes a cross-site page's request need a CORS preflight,
    // which this gateway never grants: other sites cannot mint tokens through the browser.
    if (!/^application\/json\b/i.test(contentType)) {
      reply.json(415, {
        error: errorBody(ErrorCode.BAD_FRAME, 'send Content-Type: application/json'),
      });
      return;
    }
    readBody(reply, cfg.maxBodyBytes)
      .then(async (body) => {
        let value: unknown;
        try {
          value = JSON.parse(body.toString('utf8'));
        } catch {
          throw new RoomcastError(ErrorCode.BAD_JSON, 'body is not valid JSON');
        }
        if (!devTokenCheck.Check(value)) {
          throw new RoomcastError(
            ErrorCode.BAD_FRAME,
            'expected {"user": "<1-64 letters, digits, _ or ->"}',
          );
        }
        const token = await mintToken({
          secret,
          issuer: auth.issuer,
          audience: auth.audience,
          sub: value.user,
          ttlS: cfg.devTokenTtlS,
          grants,
        });
        reply.json(200, {
          token,
          userId: value.user,
          expiresInS: cfg.devTokenTtlS,
          rooms: cfg.demoRooms,
        });
      })
      .catch((err: unknown) => reply.fail(err, ctx.log));
  });
  ctx.log.warn('development tokens on: POST /dev/token mints tokens for anyone on loopback');
}
