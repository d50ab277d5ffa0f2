/**
 * WHIP/WHEP through the gateway (GATEWAY_SRS_RTC_URL): exactly `POST`/`DELETE` of
 * `/rtc/v1/whip/` and `/rtc/v1/whep/` reach SRS's API (here a stand-in HTTP server
 * that records what it gets), with their query and body, and SRS's answer comes back;
 * nothing else of that API is reachable through the gateway.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSystem } from '../../../test/helpers/system.js';

interface Seen {
  method: string;
  url: string;
  type: string | undefined;
  body: string;
}

async function startFakeSrsApi(t: Test): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => resolve(body));
    });
  const server = createServer((req, res) => {
    void read(req).then((body) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        type: req.headers['content-type'],
        body,
      });
      if (req.method === 'POST' && req.url?.startsWith('/rtc/v1/whip/')) {
        res.writeHead(201, {
          'content-type': 'application/sdp',
          location: '/rtc/v1/whip/?action=delete&token=t1&app=live&stream=r1&session=s1',
          'x-srs-internal': 'not passed on',
        });
        res.end('v=0\r\nanswer\r\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"code":0}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

t.test('off by default: /rtc/ is not served', async (t) => {
  const sys = await startSystem(t);
  const r = await fetch(`http://127.0.0.1:${sys.port}/rtc/v1/whip/?app=live&stream=r1`, {
    method: 'POST',
    body: 'v=0',
  });
  t.equal(r.status, 404);
});

t.test('WHIP and WHEP are forwarded, nothing else of the API', async (t) => {
  const srs = await startFakeSrsApi(t);
  const sys = await startSystem(t, {
    GATEWAY_SRS_RTC_URL: `${srs.url}/`,
    GATEWAY_CORS_ORIGINS: 'https://app.example',
  });
  const http = `http://127.0.0.1:${sys.port}`;

  const offer = await fetch(`${http}/rtc/v1/whip/?app=live&stream=r1&token=abc`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', origin: 'https://app.example' },
    body: 'v=0\r\noffer\r\n',
  });
  t.equal(offer.status, 201, "SRS's status");
  t.equal(offer.headers.get('content-type'), 'application/sdp');
  t.equal(await offer.text(), 'v=0\r\nanswer\r\n', "SRS's answer");
  const location = offer.headers.get('location');
  t.equal(location, '/rtc/v1/whip/?action=delete&token=t1&app=live&stream=r1&session=s1');
  t.equal(offer.headers.get('x-srs-internal'), null, 'only content-type and location pass');
  t.equal(offer.headers.get('access-control-allow-origin'), 'https://app.example', 'CORS');
  t.match(
    offer.headers.get('access-control-expose-headers'),
    /Location/,
    'the page reads Location',
  );
  t.same(srs.seen.at(-1), {
    method: 'POST',
    url: '/rtc/v1/whip/?app=live&stream=r1&token=abc',
    type: 'application/sdp',
    body: 'v=0\r\noffer\r\n',
  });

  const stop = await fetch(`${http}${location}`, { method: 'DELETE' });
  t.equal(stop.status, 200);
  t.match(srs.seen.at(-1), { method: 'DELETE', url: location });

  const play = await fetch(`${http}/rtc/v1/whep/?app=live&stream=r1`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp' },
    body: 'v=0',
  });
  t.equal(play.status, 200);
  t.match(srs.seen.at(-1), { method: 'POST', url: '/rtc/v1/whep/?app=live&stream=r1' });

  const pre = await fetch(`${http}/rtc/v1/whip/`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  });
  t.equal(pre.status, 204, 'preflight from a listed origin');

  const before = srs.seen.length;
  const notForwarded: [string, string][] = [
    ['GET', '/api/v1/clients'],
    ['DELETE', '/api/v1/clients/c1'],
    ['GET', '/api/v1/raw?rpc=reload'],
    ['GET', '/rtc/v1/whip/'],
    ['POST', '/rtc/v1/play/'],
    ['POST', '/rtc/v1/whip/../../api/v1/clients'],
  ];
  for (const [method, path] of notForwarded) {
    const r = await fetch(`${http}${path}`, {
      method,
      ...(method === 'POST' ? { body: 'x' } : {}),
    });
    t.equal(r.status, 404, `${method} ${path}: 404`);
  }
  t.equal(srs.seen.length, before, 'SRS saw none of them');

  const huge = await fetch(`${http}/rtc/v1/whip/?app=live&stream=r1`, {
    method: 'POST',
    body: 'x'.repeat(sys.config.gateway.maxSdpBytes + 1),
  });
  t.equal(huge.status, 413, 'an offer over GATEWAY_MAX_SDP_BYTES');
  t.equal(srs.seen.length, before, 'is not forwarded');
});

t.test('SRS not answering: 503 UNAVAILABLE', async (t) => {
  const sys = await startSystem(t, { GATEWAY_SRS_RTC_URL: 'http://127.0.0.1:1' });
  const r = await fetch(`http://127.0.0.1:${sys.port}/rtc/v1/whep/?app=live&stream=r1`, {
    method: 'POST',
    body: 'v=0',
  });
  t.equal(r.status, 503);
  t.match(await r.json(), { error: { code: 'UNAVAILABLE' } });
});
