/**
 * CORS on the REST API (GATEWAY_CORS_ORIGINS): none by default (no CORS header, a
 * preflight refused), and for a listed origin the preflight granted and every answer
 * readable; another origin's preflight is refused. Over real HTTP.
 */
import t from 'tap';
import { request } from 'node:http';
import { loadConfig } from '#config/config.js';
import { startSystem, testEnv } from '../../../test/helpers/system.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const APP = 'https://app.example';
const DEV = 'http://localhost:5173';
const EVIL = 'https://evil.example';
const preflight = (origin: string, method = 'GET') => ({
  origin,
  'access-control-request-method': method,
  'access-control-request-headers': 'authorization, content-type',
});
const corsHeaders = (a: Answer) =>
  Object.keys(a.headers).filter((h) => h.startsWith('access-control-'));

t.test('by default: no CORS header at all, preflights refused', async (t) => {
  const sys = await startSystem(t);
  const token = await sys.token('alice');
  await sys.createRoom('r1', 'alice');
  const get = await send(sys.port, 'GET', '/api/rooms/r1', {
    origin: APP,
    authorization: `Bearer ${token}`,
  });
  t.equal(
    get.status,
    200,
    'the request itself is answered (a browser would not let the page read it)',
  );
  t.same(corsHeaders(get), [], 'no Access-Control-* header');
  t.equal(get.headers.vary, undefined, 'no Vary either');
  const pre = await send(sys.port, 'OPTIONS', '/api/rooms', preflight(APP));
  t.equal(pre.status, 403);
  t.same(corsHeaders(pre), []);
  t.same(JSON.parse(pre.body), {
    error: { code: 'NOT_ALLOWED', message: 'origin not allowed (GATEWAY_CORS_ORIGINS)' },
  });
});

t.test(
  'a listed origin: preflight granted, answers readable; another origin refused',
  async (t) => {
    const sys = await startSystem(t, {
      GATEWAY_CORS_ORIGINS: `${APP},${DEV}`,
      GATEWAY_CORS_MAX_AGE_S: '120',
    });
    const token = await sys.token('alice', { create: true });
    await sys.createRoom('r1', 'alice');
    const paths: [string, string][] = [
      ['/api/rooms', 'POST'],
      ['/api/rooms', 'GET'],
      ['/api/rooms/r1', 'PUT'],
      ['/api/rooms/r1', 'DELETE'],
      ['/api/alerts', 'GET'],
    ];
    for (const [path, method] of paths) {
      for (const origin of [APP, DEV]) {
        const pre = await send(sys.port, 'OPTIONS', path, preflight(origin, method));
        t.equal(pre.status, 204, `OPTIONS ${path} for ${method} from ${origin}: 204`);
        t.equal(pre.headers['access-control-allow-origin'], origin, 'that origin, never *');
        t.match(pre.headers['access-control-allow-methods'], method);
        t.match(pre.headers['access-control-allow-headers'], /Authorization/);
        t.match(pre.headers['access-control-allow-headers'], /Content-Type/);
        t.equal(pre.headers['access-control-max-age'], '120');
        t.equal(pre.headers.vary, 'Origin');
        t.equal(pre.headers['access-control-allow-credentials'], undefined, 'no credentials');
      }
      const refused = await send(sys.port, 'OPTIONS', path, preflight(EVIL, method));
      t.equal(refused.status, 403, `OPTIONS ${path} from another origin: 403`);
      t.same(corsHeaders(refused), [], 'and no Access-Control-* header');
    }

    const get = await send(sys.port, 'GET', '/api/rooms/r1', {
      origin: APP,
      authorization: `Bearer ${token}`,
    });
    t.equal(get.status, 200);
    t.equal(get.headers['access-control-allow-origin'], APP);
    t.equal(get.headers.vary, 'Origin');
    const unauthorized = await send(sys.port, 'GET', '/api/rooms', { origin: DEV });
    t.equal(unauthorized.status, 401, 'an error answer');
    t.equal(
      unauthorized.headers['access-control-allow-origin'],
      DEV,
      'is readable by the page too',
    );
    const other = await send(sys.port, 'GET', '/api/rooms/r1', {
      origin: EVIL,
      authorization: `Bearer ${token}`,
    });
    t.equal(other.headers['access-control-allow-origin'], undefined, 'another origin: no grant');
    t.equal(other.headers.vary, 'Origin', 'but caches learn the answer depends on Origin');
    const plain = await send(sys.port, 'OPTIONS', '/api/rooms', {});
    t.equal(plain.status, 204, 'OPTIONS without Origin (not a preflight): 204');
    t.match(plain.headers.allow, /GET/);
  },
);

t.test('GATEWAY_CORS_ORIGINS holds origins only', async (t) => {
  const env = (origins: string) => testEnv('nats://127.0.0.1:1', { GATEWAY_CORS_ORIGINS: origins });
  for (const bad of [
    '*',
    'app.example',
    'https://app.example/',
    'https://app.example/path',
    'HTTPS://APP.EXAMPLE',
    'https://app.example:443',
    'ftp://app.example',
    'null',
  ])
    t.throws(() => loadConfig(env(bad)), /GATEWAY_CORS_ORIGINS/, JSON.stringify(bad));
  t.same(loadConfig(env(`${APP},${DEV}`)).gateway.corsOrigins, [APP, DEV]);
  t.same(loadConfig({}).gateway.corsOrigins, [], 'none by default');
});
