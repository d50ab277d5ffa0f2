/**
 * The development-only routes: off unless switched on, and when on, the token
 * endpoint hands out exactly the demo grants to loopback clients sending JSON.
 */
import t from 'tap';
import { request } from 'node:http';
import { loadConfig } from '#config/config.js';
import { createVerifier } from '#shared/auth/auth.js';
import { isLoopback, isLoopbackHost, isLoopbackOrigin } from '../gateway.demo.js';
import { Client } from '../../../test/helpers/client.js';
import { TEST_SECRET, startSystem, testEnv } from '../../../test/helpers/system.js';

const DEV = { GATEWAY_DEMO: 'true', GATEWAY_DEV_TOKENS: 'true' };
const post = (url: string, body: string, type = 'application/json') =>
  fetch(url, { method: 'POST', headers: { 'content-type': type }, body });

t.test('off by default: no demo page, no development tokens (404)', async (t) => {
  const sys = await startSystem(t);
  const http = `http://127.0.0.1:${sys.gateway.port}`;
  t.equal(sys.config.gateway.demo, false);
  t.equal(sys.config.gateway.devTokens, false);
  const token = await post(`${http}/dev/token`, JSON.stringify({ user: 'mallory' }));
  t.equal(token.status, 404, 'POST /dev/token');
  t.same(await token.json(), { error: { code: 'NOT_FOUND', message: 'not found' } });
  for (const path of ['/demo/', '/demo/demo.js', '/'])
    t.equal((await fetch(`${http}${path}`)).status, 404, `GET ${path}`);
});

t.test('development tokens: the demo grants, for any user name', async (t) => {
  const sys = await startSystem(t, { ...DEV, GATEWAY_DEMO_ROOMS: 'demo,lobby' });
  const http = `http://127.0.0.1:${sys.gateway.port}`;
  const res = await post(`${http}/dev/token`, JSON.stringify({ user: 'bob' }));
  t.equal(res.status, 200);
  const body = (await res.json()) as { token: string; userId: string; rooms: string[] };
  t.same(body.rooms, ['demo', 'lobby']);
  const identity = await createVerifier(sys.config.auth)(body.token);
  t.equal(identity.userId, 'bob');
  t.same(identity.grants, {
    publish: ['demo', 'lobby'],
    view: ['demo', 'lobby'],
    admin: [],
    create: true,
  });
  const ttlS = (identity.expiresAt - Date.now()) / 1000;
  t.ok(ttlS > 3500 && ttlS <= 3600, 'short-lived (GATEWAY_DEV_TOKEN_TTL_S)');

  // The token works on the socket: bob may publish in the demo room.
  await sys.createRoom('demo', 'owner');
  const c = await Client.connect(`${sys.url}?access_token=${body.token}`);
  t.teardown(() => c.drop());
  await c.nextOf('authenticated');
  t.equal((await c.call({ type: 'join', room: 'demo', role: 'publisher' })).type, 'joined');

  const cases: [string, string, string, number, string][] = [
    ['not JSON', 'user=bob', 'application/json', 400, 'BAD_JSON'],
    ['no user', '{}', 'application/json', 400, 'BAD_FRAME'],
    ['extra field', '{"user":"bob","admin":true}', 'application/json', 400, 'BAD_FRAME'],
    ['a user id that is not a token', '{"user":"a.b"}', 'application/json', 400, 'BAD_FRAME'],
    ['too long', JSON.stringify({ user: 'x'.repeat(65) }), 'application/json', 400, 'BAD_FRAME'],
    [
      'a form post (cross-site without preflight)',
      '{"user":"bob"}',
      'text/plain',
      415,
      'BAD_FRAME',
    ],
    ['huge', JSON.stringify({ user: 'x'.repeat(20_000) }), 'application/json', 413, 'TOO_LARGE'],
  ];
  for (const [what, payload, type, status, code] of cases) {
    const r = await post(`${http}/dev/token`, payload, type);
    t.equal(r.status, status, what);
    t.equal(((await r.json()) as { error: { code: string } }).error.code, code, what);
  }
});

t.test('the demo page is served from its folder, nothing else', async (t) => {
  const sys = await startSystem(t, DEV);
  const http = `http://127.0.0.1:${sys.gateway.port}`;
  const page = await fetch(`${http}/demo/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  t.match(await page.text(), /<script type="module" src="\/demo\/demo.js">/);
  t.match((await fetch(`${http}/demo/demo.js`)).headers.get('content-type'), /javascript/);
  t.match((await fetch(`${http}/demo/demo.css`)).headers.get('content-type'), /^text\/css/);
  for (const path of ['/demo/package.json', '/demo/..%2F..%2Fpackage.json', '/demo/x/demo.js'])
    t.equal((await fetch(`${http}${path}`)).status, 404, `GET ${path}`);
  const root = await fetch(`${http}/`, { redirect: 'manual' });
  t.equal(root.status, 302);
  t.equal(root.headers.get('location'), '/demo/');
});

t.test(
  'config: development tokens never with NODE_ENV=production, only with a secret',
  async (t) => {
    const base = testEnv('nats://127.0.0.1:1', DEV);
    t.throws(() => loadConfig({ ...base, NODE_ENV: 'production' }), /NODE_ENV=production/);
    t.throws(() => loadConfig({ ...base, AUTH_JWT_SECRET: '' }), /needs AUTH_JWT_SECRET/);
    t.throws(() => loadConfig({ ...base, GATEWAY_DEMO_ROOMS: 'a.b' }), /GATEWAY_DEMO_ROOMS/);
    t.equal(loadConfig({ ...base, AUTH_JWT_SECRET: TEST_SECRET }).gateway.devTokens, true);
    t.equal(loadConfig({ NODE_ENV: 'production' }).gateway.devTokens, false, 'off by default');
  },
);

t.test('loopback addresses as uWebSockets.js spells them', async (t) => {
  const table: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['0000:0000:0000:0000:0000:0000:0000:0001', true],
    ['0000:0000:0000:0000:0000:ffff:7f00:0001', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['192.168.1.127', false],
    ['0000:0000:0000:0000:0000:ffff:0a00:0001', false],
    ['fe80:0000:0000:0000:0000:0000:0000:0001', false],
    ['', false],
  ];
  for (const [address, loopback] of table) t.equal(isLoopback(address), loopback, address);
});

/** POSTs a token request with exactly these `Host` and `Origin` headers (fetch would set its own Host). */
function postRaw(
  port: number,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/dev/token',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ user: 'bob' }));
  });
}

t.test(
  'development tokens: Host and Origin must be loopback (DNS rebinding, other sites)',
  async (t) => {
    const sys = await startSystem(t, DEV);
    const port = sys.gateway.port;
    const cases: [string, Record<string, string>, number, string | null][] = [
      ['localhost', { host: `localhost:${port}` }, 200, null],
      ['127.0.0.1', { host: `127.0.0.1:${port}` }, 200, null],
      ['[::1]', { host: `[::1]:${port}` }, 200, null],
      [
        'the page itself',
        { host: `localhost:${port}`, origin: `http://localhost:${port}` },
        200,
        null,
      ],
      [
        'a loopback origin',
        { host: `127.0.0.1:${port}`, origin: 'http://127.0.0.1:5173' },
        200,
        null,
      ],
      ['DNS rebinding', { host: `evil.example:${port}` }, 403, 'Host'],
      [
        'rebinding with its page',
        { host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
        403,
        'Host',
      ],
      ['through a local tunnel (another port)', { host: `localhost:${port + 1}` }, 200, null],
      ['no port', { host: 'localhost' }, 200, null],
      ['a look-alike name', { host: `localhost.evil.example:${port}` }, 403, 'Host'],
      ['a name ending in loopback', { host: `evil127.0.0.1:${port}` }, 403, 'Host'],
      [
        'a foreign origin',
        { host: `localhost:${port}`, origin: 'https://evil.example' },
        403,
        'Origin',
      ],
      [
        'a look-alike origin',
        { host: `localhost:${port}`, origin: 'http://localhost.evil.example' },
        403,
        'Origin',
      ],
      ['an opaque origin', { host: `localhost:${port}`, origin: 'null' }, 403, 'Origin'],
    ];
    for (const [what, headers, status, names] of cases) {
      const r = await postRaw(port, headers);
      t.equal(r.status, status, `${what}: ${status}`);
      if (names === null) continue;
      const body = JSON.parse(r.body) as { error: { code: string; message: string } };
      t.equal(body.error.code, 'NOT_ALLOWED', `${what}: NOT_ALLOWED`);
      t.match(body.error.message, names, `${what}: names the ${names}`);
    }
    t.ok(isLoopbackHost('LOCALHOST:80') && isLoopbackHost('[::1]'), 'any case, port or none');
    t.notOk(isLoopbackHost('127.0.0.2:80'), 'the names a browser uses for loopback only');
    t.notOk(isLoopbackOrigin('ftp://127.0.0.1'), 'not http(s)');
    t.notOk(isLoopbackOrigin('http://127.0.0.1:8090/path'), 'not an origin');
  },
);
