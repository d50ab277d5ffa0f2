/**
 * The hook endpoint itself: who may call it (SRS does not sign callbacks), what it
 * accepts (tolerant of unknown fields, strict on the ones it needs), and what it
 * answers, including to the exact bytes a real SRS 6.0.157 posted.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadConfig } from '#config/config.js';
import { createLogger } from '#shared/runtime/log.js';
import { loadNativeUws } from '#shared/runtime/uws.js';
import { SrsError } from '../../../test/srs/srs.standin.js';
import { HookServer, canonicalIp } from '../stream.http.js';
import type { StreamService } from '../stream.service.js';
import { HOOK_SECRET, startStreamSystem } from './stream.harness.js';

/** POSTs `body` to `url` from `localAddress`; resolves with status and body. */
function post(
  url: string,
  body: string,
  localAddress = '127.0.0.1',
): Promise<{ status: number; body: string; type: string | undefined }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        localAddress,
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text, type: res.headers['content-type'] }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const hook = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    server_id: 'vid-7x7780x',
    service_id: 'svc',
    action: 'on_play',
    client_id: 'c1',
    ip: '127.0.0.1',
    vhost: '__defaultVhost__',
    app: 'live',
    stream: 'r1',
    tcUrl: 'rtmp://127.0.0.1:1935/live',
    param: '',
    pageUrl: '',
    stream_url: '/live/r1',
    stream_id: 'vid-1',
    ...over,
  });

t.test('callbacks from a foreign address need the secret', async (t) => {
  const sys = await startStreamSystem(t, { plainHooks: true, hookLocalAddress: '127.0.0.2' });
  await sys.createRoom('r1');
  const r = await sys.srs.play('r1', '');
  t.same([r.ok, r.error], [false, SrsError.hookStatus], 'answered 403: SRS denies');
  t.equal(sys.srs.hooks[0]?.status, 403);
  t.equal(sys.state('r1')?.viewers, 0, 'the room never heard of it');

  sys.srs.hookBase = sys.hookBase.secret;
  t.ok((await sys.srs.play('r1', '')).ok, 'the same address with the secret in the URL');

  sys.srs.hookBase = sys.hookBase.secret.replace(HOOK_SECRET, 'x'.repeat(HOOK_SECRET.length));
  t.notOk((await sys.srs.play('r1', '')).ok, 'a wrong secret');

  await sys.stream.reconcile();
  await sys.until('hooks metric', () => sys.metrics.some((m) => m.type === 'hooks'));
  t.match(
    sys.metrics.find((m) => m.type === 'hooks'),
    { allowed: 1, rejected: 2 },
    'refused callbacks are counted',
  );
});

t.test('an allowed address needs no secret; a wrong secret is refused all the same', async (t) => {
  const sys = await startStreamSystem(t, { plainHooks: true });
  await sys.createRoom('r1');
  t.ok((await sys.srs.play('r1', '')).ok, '127.0.0.1 is allowed by default');
  const wrong = await post(`${sys.hookBase.plain}/nope-secret-1234567/on_play`, hook());
  t.equal(wrong.status, 403);
  t.equal(canonicalIp('::ffff:127.0.0.1'), '127.0.0.1', 'IPv4-mapped addresses count as IPv4');
  t.equal(canonicalIp('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
});

t.test('no allowed address: only the secret opens the door', async (t) => {
  const sys = await startStreamSystem(t, {
    plainHooks: true,
    env: { STREAM_HOOK_ALLOWED_IPS: ',' },
  });
  await sys.createRoom('r1');
  t.notOk((await sys.srs.play('r1', '')).ok, 'loopback without the secret');
  sys.srs.hookBase = sys.hookBase.secret;
  t.ok((await sys.srs.play('r1', '')).ok, 'with the secret');
  t.throws(
    () =>
      new HookServer({
        uws: loadNativeUws(),
        config: loadConfig({ STREAM_HOOK_ALLOWED_IPS: ',' }).stream,
        service: null as unknown as StreamService,
        logger: createLogger('test', 'error'),
      }),
    /open to anyone/,
    'an endpoint open to anyone does not start',
  );
});

t.test('tolerant validation: unknown fields ignored, required ones checked', async (t) => {
  const sys = await startStreamSystem(t, {
    env: { STREAM_HOOK_MAX_BODY_BYTES: '2048' },
  });
  await sys.createRoom('r1', { maxViewers: 50 });
  const url = `${sys.hookBase.secret}/on_play`;
  const cases: [string, string, number, string | null][] = [
    ['a complete hook', hook({ client_id: 'a1' }), 200, null],
    ['unknown fields', hook({ client_id: 'a2', future: { x: 1 }, codec: 'av1' }), 200, null],
    [
      'optional fields missing',
      JSON.stringify({ action: 'on_play', client_id: 'a3', app: 'live', stream: 'r1' }),
      200,
      null,
    ],
    ['no client_id', hook({ client_id: undefined }), 200, 'BAD_FRAME'],
    ['an empty client_id', hook({ client_id: '' }), 200, 'BAD_FRAME'],
    ['a numeric client_id', hook({ client_id: 7 }), 200, 'BAD_FRAME'],
    ['no stream', hook({ stream: undefined }), 200, 'BAD_FRAME'],
    ['an unknown action', hook({ action: 'on_dvr' }), 200, 'BAD_FRAME'],
    ['another action than the path', hook({ action: 'on_publish' }), 200, 'BAD_FRAME'],
    ['not JSON', '{"action":', 200, 'BAD_FRAME'],
    ['an array', '[]', 200, 'BAD_FRAME'],
    ['too large', hook({ pad: 'x'.repeat(4096) }), 413, 'TOO_LARGE'],
  ];
  for (const [name, body, status, code] of cases) {
    const r = await post(url, body);
    t.equal(r.status, status, `${name}: HTTP ${status}`);
    t.equal(r.type, 'application/json', `${name}: JSON`);
    if (code === null) t.equal(r.body, '{"code":0}', `${name}: allowed`);
    else t.match(JSON.parse(r.body), { error: code }, `${name}: ${code}`);
  }
  t.equal(sys.state('r1')?.viewers, 3, 'the three valid hooks took seats');
  const notFound = await post(`${sys.hookBase.secret}/on_dvr`, hook());
  t.equal(notFound.status, 404, 'no such hook path');
});

t.test('the exact bytes a real SRS posted', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('room2');
  const lines = readFileSync(
    new URL('../../../test/srs/fixtures/srs-6.0.157/hooks.jsonl', import.meta.url),
    'utf8',
  )
    .split('\n')
    .filter((l) => l.includes('"raw_body": "'));
  t.ok(lines.length >= 3, 'recorded raw bodies');
  for (const line of lines) {
    const rec = JSON.parse(line) as { raw_body: string; body: { action?: string } };
    if (rec.body.action === undefined) continue;
    const r = await post(`${sys.hookBase.secret}/${rec.body.action}`, rec.raw_body);
    t.equal(r.status, 200, 'read as a hook');
    t.match(JSON.parse(r.body), { code: 401, error: 'TOKEN_INVALID' }, '?token=deny is no token');
    const plain = rec.raw_body.replace('"param":"?token=deny"', '"param":""');
    const ok = await post(`${sys.hookBase.secret}/${rec.body.action}`, plain);
    t.same([ok.status, ok.body], [200, '{"code":0}'], 'the same bytes without it: allowed');
  }
  t.equal(sys.state('room2')?.viewers, 3);
});
