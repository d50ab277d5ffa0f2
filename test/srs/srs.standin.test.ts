/**
 * The SRS stand-in against the recordings of a real SRS 6.0.157 (fixtures/): the
 * hooks it posts, the rule it applies to their answers, and the shapes of its API.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { SrsError, SrsStandIn, verdict, type Action } from './srs.standin.js';

const dir = new URL('fixtures/srs-6.0.157/', import.meta.url);
const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
interface Recorded {
  request_path: string | null;
  request_headers: Record<string, string> | null;
  raw_body: string | null;
  body: Record<string, unknown>;
}
const recorded = readFileSync(new URL('hooks.jsonl', dir), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Recorded)
  .filter((r) => typeof r.body.action === 'string');

interface ApiClient {
  id: string;
  type: string;
  name: string;
}
interface ApiLists {
  service: string;
  streams: { id: string; publish: { cid?: string } }[];
  clients: ApiClient[];
}
/** An SRS API answer, read as the fields these tests look at. */
const lists = (text: string) => JSON.parse(text) as ApiLists;
/** A hook body as posted. */
const hookOf = (r: { raw: string }) => JSON.parse(r.raw) as Record<string, string>;

/** The shape of a JSON value: key order and types, not values. */
function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, shape(x)]);
  return typeof v;
}

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
}

/** A hook server the test controls: records what it receives, answers with `reply`. */
async function hookServer(
  t: Test,
  reply: (r: Received) => { status: number; body: string } = () => ({
    status: 200,
    body: '{"code":0}',
  }),
): Promise<{
  base: string;
  received: Received[];
  server: Server;
  setReply(f: typeof reply): void;
}> {
  const received: Received[] = [];
  let answer = reply;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        path: req.url ?? '',
        headers: req.headers,
        raw: Buffer.concat(chunks).toString(),
      };
      received.push(r);
      const a = answer(r);
      res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    base: `http://127.0.0.1:${port}/api/srs/hooks`,
    received,
    server,
    setReply: (f) => (answer = f),
  };
}

async function standIn(t: Test, hookBase: string, hookTimeoutMs?: number) {
  const srs = new SrsStandIn({
    hookBase,
    ...(hookTimeoutMs === undefined ? {} : { hookTimeoutMs }),
  });
  await srs.start();
  t.teardown(() => srs.stop());
  return srs;
}

async function api(srs: SrsStandIn, path: string, method = 'GET') {
  const res = await fetch(srs.apiUrl + path, { method });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

t.test('hooks: the recorded bodies, keys in SRS order, with SRS headers', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  const pub = await srs.publish('room1', '?token=abc');
  t.ok(pub.ok);
  const play = await srs.play('room1', '?token=viewer1');
  t.ok(play.ok);
  srs.disconnect(play.clientId);
  srs.disconnect(pub.clientId);
  await srs.settled();
  const actions: Action[] = ['on_publish', 'on_play', 'on_stop', 'on_unpublish'];
  t.same(
    hooks.received.map((r) => r.path),
    actions.map((a) => `/api/srs/hooks/${a}`),
  );
  for (const [i, action] of actions.entries()) {
    const got = JSON.parse(hooks.received[i]!.raw) as Record<string, unknown>;
    const want = recorded.find((r) => r.body.action === action)!;
    t.same(Object.keys(got), Object.keys(want.body), `${action}: keys in SRS's order`);
    t.same(shape(got), shape(want.body), `${action}: types`);
    t.equal(
      got.client_id,
      i === 0 || i === 3 ? pub.clientId : play.clientId,
      `${action}: fresh id`,
    );
    t.not(got.client_id, want.body.client_id, `${action}: not the recorded id`);
    t.equal(got.param, i === 0 || i === 3 ? '?token=abc' : '?token=viewer1', 'param keeps its ?');
  }
  const first = JSON.parse(hooks.received[0]!.raw) as Record<string, unknown>;
  t.equal(first.service_id, srs.serviceId);
  t.equal(
    first.stream_id,
    JSON.parse(hooks.received[1]!.raw).stream_id,
    'one stream id per session',
  );

  // The one recording with headers and raw bytes: same headers, same layout.
  const rec = recorded.find((r) => r.raw_body !== null && r.body.action === 'on_play')!;
  const h = hooks.received[1]!.headers;
  for (const [name, value] of Object.entries(rec.request_headers ?? {})) {
    if (name === 'Host') continue;
    const got = h[name.toLowerCase()];
    if (name === 'Content-Length') t.equal(Number(got), Buffer.byteLength(hooks.received[1]!.raw));
    else t.equal(got, value, `header ${name}`);
  }
  t.same(shape(JSON.parse(hooks.received[1]!.raw)), shape(JSON.parse(rec.raw_body!)));
});

t.test("SRS's allow/deny rule, row by row of the fixtures' table", async (t) => {
  const rows: { answer: { status: number; body: string }; allowed: boolean; error?: number }[] = [
    { answer: { status: 200, body: '{"code":0}' }, allowed: true },
    { answer: { status: 201, body: '{"code":0}' }, allowed: true },
    { answer: { status: 200, body: '0' }, allowed: true },
    { answer: { status: 200, body: '{"code":1}' }, allowed: false, error: SrsError.hookCode },
    { answer: { status: 200, body: '1' }, allowed: false, error: SrsError.hookData },
    { answer: { status: 200, body: '{"code":"0"}' }, allowed: false, error: SrsError.hookCode },
    { answer: { status: 200, body: '' }, allowed: false, error: SrsError.hookData },
    { answer: { status: 403, body: '{"code":0}' }, allowed: false, error: SrsError.hookStatus },
    { answer: { status: 500, body: '{"code":0}' }, allowed: false, error: SrsError.hookStatus },
    { answer: { status: 200, body: '{"code":0.5}' }, allowed: false, error: SrsError.hookCode },
  ];
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  for (const row of rows) {
    t.same(verdict(row.answer.status, row.answer.body), {
      allowed: row.allowed,
      ...(row.error === undefined ? {} : { error: row.error }),
    });
    hooks.setReply(() => row.answer);
    const r = await srs.play(`s${rows.indexOf(row)}`, '');
    t.equal(r.ok, row.allowed, `${row.answer.status} ${JSON.stringify(row.answer.body)}`);
    t.equal(r.error, row.error);
  }
  await new Promise<void>((resolve) => hooks.server.close(() => resolve()));
  const down = await srs.play('down', '');
  t.same([down.ok, down.error], [false, SrsError.hookConnect], 'hook server down: 1018');
});

t.test('a hook slower than SRS waits is a denial', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base, 50);
  hooks.setReply(() => ({ status: 200, body: '{"code":0}' }));
  hooks.server.removeAllListeners('request');
  hooks.server.on('request', () => undefined); // never answers
  const r = await srs.publish('slow', '?key=k');
  t.same([r.ok, r.error], [false, SrsError.hookTimeout]);
  t.notOk(srs.hasClient(r.clientId), 'the refused client is gone');
});

t.test('API answers have the recorded shapes', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  const empty = JSON.parse((await api(srs, '/api/v1/streams/')).text);
  t.same(shape(empty), shape(fixture('api-v1-streams-empty.json')), 'streams, empty');
  const pub = await srs.publish('room1', '?key=k');
  const publishing = lists((await api(srs, '/api/v1/streams/')).text);
  t.same(
    shape(publishing),
    shape(fixture('api-v1-streams-publishing.json')),
    'streams, publishing',
  );
  t.equal(publishing.streams[0]!.publish.cid, pub.clientId, 'publish.cid is the hook client_id');
  t.equal(publishing.service, srs.serviceId);
  t.same(
    shape(JSON.parse((await api(srs, '/api/v1/clients/')).text)),
    shape(fixture('api-v1-clients-publisher.json')),
    'clients, publisher',
  );
  await srs.play('room1', '', 'flv-play');
  await srs.play('room1', '', 'rtmp-play');
  t.same(
    shape(JSON.parse((await api(srs, '/api/v1/streams/')).text)),
    shape(fixture('api-v1-streams-with-viewers.json')),
    'streams, with viewers',
  );
  const mixed = lists((await api(srs, '/api/v1/clients/')).text);
  t.same(shape(mixed), shape(fixture('api-v1-clients-mixed.json')), 'clients, mixed');
  t.same(mixed.clients.map((c) => c.type).sort(), ['flv-play', 'fmle-publish', 'rtmp-play']);
  const flv = mixed.clients.find((c) => c.type === 'flv-play')!;
  t.equal(flv.name, 'room1.flv', 'an HTTP-FLV player is named with .flv');
  const sid = publishing.streams[0]!.id;
  t.same(
    shape(JSON.parse((await api(srs, `/api/v1/streams/${sid}`)).text)),
    shape(fixture('api-v1-streams-one.json')),
    'one stream',
  );
  t.same(
    shape(JSON.parse((await api(srs, `/api/v1/clients/${flv.id}`)).text)),
    shape(fixture('api-v1-clients-one.json')),
    'one client',
  );
  t.same(
    shape(JSON.parse((await api(srs, '/api/v1/summaries')).text)),
    shape(fixture('api-v1-summaries.json')),
    'summaries',
  );
  t.equal((await api(srs, '/api/v1/streams/vid-nope')).text, '{"code":2048}', 'unknown stream');
  t.equal((await api(srs, '/api/v1/clients/nope')).text, '{"code":2049}', 'unknown client');
});

t.test('the kick answers as recorded', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  const pub = await srs.publish('room1', '?key=k');
  const ok = await api(srs, `/api/v1/clients/${pub.clientId}`, 'DELETE');
  const recordedOk = readFileSync(new URL('api-v1-clients-delete-ok.http', dir), 'utf8');
  const okBody = recordedOk.slice(recordedOk.indexOf('\n\n') + 2).trim();
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('content-type'), 'application/json');
  t.same(shape(JSON.parse(ok.text)), shape(JSON.parse(okBody)));
  t.equal(lists(ok.text).service, srs.serviceId);
  const unknown = await api(srs, `/api/v1/clients/${pub.clientId}`, 'DELETE');
  const recordedUnknown = readFileSync(new URL('api-v1-clients-delete-unknown.http', dir), 'utf8');
  t.equal(unknown.status, 200);
  t.equal(unknown.text, recordedUnknown.slice(recordedUnknown.indexOf('\n\n') + 2).trim());
});

t.test('kicking the publisher: on_unpublish, then on_stop for each player', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  const pub = await srs.publish('room1', '?key=k');
  const v1 = await srs.play('room1', '?token=a');
  const v2 = await srs.play('room1', '?token=b', 'flv-play');
  await api(srs, `/api/v1/clients/${pub.clientId}`, 'DELETE');
  await srs.settled();
  const tail = hooks.received.slice(3).map(hookOf);
  t.same(
    tail.map((b) => [b.action, b.client_id]),
    [
      ['on_unpublish', pub.clientId],
      ['on_stop', v1.clientId],
      ['on_stop', v2.clientId],
    ],
  );
  t.same(srs.clientIds(), []);
  t.equal(lists((await api(srs, '/api/v1/streams/')).text).streams.length, 0);
});

t.test('a busy stream: on_publish is asked, then SRS refuses, with no on_unpublish', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  const first = await srs.publish('room1', '?token=abc');
  const second = await srs.publish('room1', '?token=second');
  t.ok(first.ok);
  t.same([second.ok, second.error], [false, SrsError.streamBusy]);
  await srs.settled();
  t.same(
    hooks.received.map((r) => hookOf(r).action),
    ['on_publish', 'on_publish'],
    'the hook allowed both',
  );
  const ids = hooks.received.map((r) => hookOf(r).stream_id);
  t.equal(ids[0], ids[1], 'both on_publish name the busy stream');
  t.equal(srs.publisherOf('room1'), first.clientId);
  t.notOk(srs.hasClient(second.clientId));
  srs.disconnect(first.clientId);
  await srs.settled();
  t.same(
    hooks.received.slice(2).map((r) => hookOf(r).client_id),
    [first.clientId],
    'only the real publisher gets on_unpublish',
  );
});

t.test('lists page with start and count (10 by default)', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  await srs.publish('room1', '?key=k');
  for (let i = 0; i < 24; i++) await srs.play('room1', '');
  const all = lists((await api(srs, '/api/v1/clients/?count=100')).text).clients;
  t.equal(all.length, 25);
  t.equal(lists((await api(srs, '/api/v1/clients/')).text).clients.length, 10, 'default 10');
  const last = lists((await api(srs, '/api/v1/clients/?start=20&count=10')).text).clients;
  t.same(
    last.map((c) => c.id),
    all.slice(20).map((c) => c.id),
  );
});

t.test('restart: a new service id, nothing carried, no hooks', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  await srs.publish('room1', '?key=k');
  const before = srs.serviceId;
  srs.restart();
  await srs.settled();
  t.not(srs.serviceId, before);
  const streams = lists((await api(srs, '/api/v1/streams/')).text);
  t.same([streams.service, streams.streams], [srs.serviceId, []]);
  t.equal(hooks.received.length, 1, 'no on_unpublish after a restart');
});

t.test('faults: lost, duplicated, delayed and reordered callbacks', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  srs.faults.lose.add('on_unpublish');
  const a = await srs.publish('r-lost', '?key=k');
  srs.disconnect(a.clientId);
  await srs.settled();
  t.same(
    hooks.received.map((r) => hookOf(r).action),
    ['on_publish'],
    'lost',
  );
  t.notOk(srs.hasClient(a.clientId), 'SRS dropped the client all the same');
  srs.faults.lose.clear();

  srs.faults.lose.add('on_publish');
  const lostAsk = await srs.publish('r-lost2', '?key=k');
  t.same([lostAsk.ok, lostAsk.error], [false, SrsError.hookConnect], 'a lost on_publish denies');
  srs.faults.lose.clear();

  hooks.received.length = 0;
  srs.faults.duplicate.add('on_publish');
  const d = await srs.publish('r-dup', '?key=k');
  t.ok(d.ok);
  t.same(
    hooks.received.map((r) => hookOf(r).client_id),
    [d.clientId, d.clientId],
    'the same on_publish twice',
  );
  srs.faults.duplicate.clear();

  hooks.received.length = 0;
  srs.faults.hold = true;
  const v1 = await srs.play('r-dup', '');
  const v2 = await srs.play('r-dup', '');
  srs.disconnect(v1.clientId);
  srs.disconnect(v2.clientId);
  t.equal(hooks.received.length, 2, 'on_stop held back');
  srs.faults.hold = false;
  await srs.releaseHeld('reverse');
  t.same(
    hooks.received.slice(2).map((r) => hookOf(r).client_id),
    [v2.clientId, v1.clientId],
    'released in reverse order',
  );

  srs.faults.delayMs.on_play = 30;
  const before = performance.now();
  await srs.play('r-dup', '');
  t.ok(performance.now() - before >= 25, 'delayed');
});

t.test('API faults: stall, garbage, HTTP 500, down', async (t) => {
  const hooks = await hookServer(t);
  const srs = await standIn(t, hooks.base);
  srs.faults.apiStallMs = Infinity;
  await t.rejects(
    fetch(`${srs.apiUrl}/api/v1/streams/`, { signal: AbortSignal.timeout(50) }),
    'a stalled API never answers',
  );
  srs.faults.apiStallMs = 0;
  srs.faults.apiGarbage = true;
  t.equal((await api(srs, '/api/v1/streams/')).text, '{"code":0,"streams":[{"id":');
  srs.faults.apiGarbage = false;
  srs.faults.apiHttp500 = true;
  t.equal((await api(srs, '/api/v1/streams/')).status, 500);
  srs.faults.apiHttp500 = false;
  await srs.apiDown();
  await t.rejects(fetch(`${srs.apiUrl}/api/v1/streams/`), 'connection refused');
  await srs.start();
  t.equal((await api(srs, '/api/v1/streams/')).status, 200, 'back on the same port');
});
