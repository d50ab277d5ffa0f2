/**
 * The SRS stand-in against the 2026-12 recordings of a real SRS 6.0.157
 * (fixtures/srs-6.0.157/recorded-2026-12/README.md): one test per recording of HLS,
 * WHIP/WHEP, vanishing WebRTC peers and denials. Hook bodies must equal the
 * recorded ones but for ids and ports; API entries must have the recorded shapes
 * and come and go in the recorded order. SRS's timings run scaled down (timeScale).
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { until } from '../helpers/deadline.js';
import { listenLoopback } from '../helpers/net.js';
import { SrsStandIn } from './srs.standin.js';

const dir = new URL('fixtures/srs-6.0.157/recorded-2026-12/', import.meta.url);
const lines = (name: string): Record<string, unknown>[] =>
  readFileSync(new URL(name, dir), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

type Body = Record<string, string>;
/** The recorded hook bodies of one file, in arrival order. */
const recordedHooks = (name: string): Body[] =>
  lines(name)
    .filter((r) => typeof r.raw_body === 'string')
    .map((r) => JSON.parse(r.raw_body as string) as Body);

/** A hook body with its ids blanked and ports dropped: what must equal the recording. */
function normal(b: Body): [string, string][] {
  const ids = new Set(['server_id', 'service_id', 'client_id', 'stream_id']);
  return Object.entries(b).map(([k, v]) => [
    k,
    ids.has(k) ? '*' : k === 'tcUrl' ? v.replace(/:\d+\//, '/') : v,
  ]);
}

/** The shape of a JSON value: key order and types, not values. */
function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? [] : [shape(v[0])];
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, shape(x)]);
  return typeof v;
}

interface ApiStream {
  id: string;
  name: string;
  tcUrl: string;
  publish: { active: boolean; cid?: string };
}
interface ApiClient {
  id: string;
  name: string;
  type: string;
  tcUrl: string;
  publish: boolean;
}
interface Snapshot {
  t_s?: number;
  clients: { clients: ApiClient[] };
  streams: { streams: ApiStream[] };
}
const snapshots = (name: string): Snapshot[] =>
  lines(name).filter((r) => 'clients' in r && 'streams' in r) as unknown as Snapshot[];

/** A hook server recording bodies; denies when `param` names a deny mode, as the recorder did. */
async function recorder(t: Test): Promise<{ base: string; bodies: Body[] }> {
  const bodies: Body[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Body;
      bodies.push(body);
      const asks = body.action === 'on_publish' || body.action === 'on_play';
      // sleep40: never answered in time (SRS gives up after its hook timeout).
      if (asks && body.param?.includes('sleep40')) return;
      if (asks && body.param?.includes('sleep10'))
        setTimeout(() => res.writeHead(200).end('{"code":0}'), 10_000 * timeScale);
      else if (asks && body.param?.includes('deny403')) res.writeHead(403).end('{"code":403}');
      else if (asks && body.param?.includes('deny200')) res.writeHead(200).end('{"code":403}');
      else res.writeHead(200).end('{"code":0}');
    });
  });
  const port = await listenLoopback(t, server);
  return { base: `http://127.0.0.1:${port}/hooks`, bodies };
}

/** SRS's 20 s HLS linger becomes 1 s, its 30.5 s STUN timeout 1.5 s. */
const timeScale = 0.05;

async function setup(t: Test) {
  const hooks = await recorder(t);
  // SRS's 30 s hook timeout, scaled as its other timings are.
  const srs = new SrsStandIn({
    hookBase: hooks.base,
    timeScale,
    hookTimeoutMs: 30_000 * timeScale,
  });
  await srs.start();
  t.teardown(() => srs.stop());
  const lists = async (): Promise<Snapshot> => {
    const get = async (p: string): Promise<unknown> => (await fetch(srs.apiUrl + p)).json();
    return {
      clients: (await get('/api/v1/clients/?count=100')) as Snapshot['clients'],
      streams: (await get('/api/v1/streams/?count=100')) as Snapshot['streams'],
    };
  };
  const hooksOf = (action: string) => hooks.bodies.filter((b) => b.action === action);
  return { srs, hooks, lists, hooksOf };
}

t.test(
  'hls-play-api / hooks-hls-play: HLS on_play names <room>.m3u8; sessions linger, then on_stop one a tick',
  async (t) => {
    const { srs, hooks, lists, hooksOf } = await setup(t);
    const rec = recordedHooks('hooks-hls-play.jsonl');
    t.ok((await srs.publish('r1', '?key=k1')).ok);
    // The players keep fetching (as ffmpeg does) until told to stop.
    const fetching = new Set<string>();
    const keep = setInterval(() => fetching.forEach((id) => srs.hlsRequest(id)), 20);
    t.teardown(() => clearInterval(keep));
    const a = await srs.playHls('r1', '?token=c1');
    fetching.add(a.clientId);
    const b = await srs.playHls('r1', '?token=t1');
    fetching.add(b.clientId);
    const c = await srs.playHls('r1', '?token=t1');
    fetching.add(c.clientId);
    t.ok(a.ok && b.ok && c.ok);
    t.same(
      hooks.bodies.slice(0, 4).map(normal),
      rec.slice(0, 4).map(normal),
      'on_publish, 3 x on_play',
    );
    const during = await lists();
    const recDuring = snapshots('hls-play-api.jsonl')[2]!;
    const hls = during.clients.clients.filter((x) => x.type === 'hls-play');
    t.same(
      hls.map((x) => [x.name, x.type, x.tcUrl, x.publish]).sort(),
      recDuring.clients.clients
        .filter((x) => x.type === 'hls-play')
        .map((x) => [x.name, x.type, x.tcUrl, x.publish]),
      'listed as hls-play, named r1.m3u8',
    );
    t.same(shape(hls[0]), shape(recDuring.clients.clients.find((x) => x.type === 'hls-play')));
    // b keeps fetching while a and c stop: a and c go first, one per tick, b last.
    fetching.delete(a.clientId);
    fetching.delete(c.clientId);
    await until(() => hooksOf('on_stop').length === 2, 'two on_stop');
    t.ok(srs.hasClient(b.clientId), 'a session still fetching is kept');
    t.notOk(
      srs.hasClient(a.clientId) || srs.hasClient(c.clientId),
      'idle sessions left the list with their on_stop',
    );
    fetching.clear();
    await until(() => hooksOf('on_stop').length === 3, 'the last on_stop');
    t.same(
      hooksOf('on_stop').map(normal)[0],
      normal(rec.find((r) => r.action === 'on_stop' && r.param === '?token=c1')!),
      'on_stop body as recorded',
    );
    t.same(
      (await lists()).clients.clients.filter((x) => x.type === 'hls-play'),
      [],
    );
  },
);

t.test('hls-http-exchange: an hls_ctx SRS never issued becomes the session id', async (t) => {
  const { srs, hooks } = await setup(t);
  const rec = recordedHooks('hooks-hls-play.jsonl').find((r) => r.client_id === 'doesnotexist1')!;
  await srs.publish('r1', '?key=k1');
  const s = await srs.playHls('r1', '?hls_ctx=doesnotexist1&token=c3');
  t.equal(s.clientId, 'doesnotexist1');
  t.same(normal(hooks.bodies[1]!), normal(rec));
  t.equal(hooks.bodies[1]!.client_id, 'doesnotexist1');
});

for (const mode of ['deny200', 'deny403']) {
  t.test(
    `hls-denied-${mode}-api: a denied HLS session is listed ~20 s and gets an on_stop`,
    async (t) => {
      const { srs, lists, hooksOf } = await setup(t);
      const rec = recordedHooks('hooks-hls-denied.jsonl').filter(
        (r) => r.param === `?token=${mode}`,
      );
      const snaps = snapshots(`hls-denied-${mode}-api.jsonl`);
      await srs.publish('r1', '?key=k1');
      const d = await srs.playHls('r1', `?token=${mode}`);
      t.notOk(d.ok, 'refused');
      const listed = (s: Snapshot) => s.clients.clients.some((x) => x.type === 'hls-play');
      t.ok(listed(snaps[0]!), 'recorded: listed right after the denial');
      t.ok(listed(await lists()), 'stand-in: listed right after the denial');
      t.notOk(listed(snaps[snaps.length - 1]!), 'recorded: gone in the end');
      await until(() => hooksOf('on_stop').length === 1, 'on_stop of the denied session');
      t.same(normal(hooksOf('on_play')[0]!), normal(rec[0]!));
      t.same(normal(hooksOf('on_stop')[0]!), normal(rec.find((r) => r.action === 'on_stop')!));
      t.notOk(listed(await lists()), 'gone with its on_stop');
    },
  );
}

t.test(
  'kick-hls-player: a kicked session leaves at once, EOF, on_stop later, then a new session',
  async (t) => {
    const { srs, lists, hooksOf } = await setup(t);
    const snaps = lines('kick-hls-player.jsonl');
    const after = snaps.filter((r) => r.label === 'after-delete') as unknown as Snapshot[];
    t.ok(
      after.every((s) => !s.clients.clients.some((x) => x.type === 'hls-play')),
      'recorded: gone at once',
    );
    await srs.publish('r1', '?key=k1');
    const p = await srs.playHls('r1', '?token=kick1');
    const del = await fetch(`${srs.apiUrl}/api/v1/clients/${p.clientId}`, { method: 'DELETE' });
    t.equal(((await del.json()) as { code: number }).code, 0);
    t.notOk(
      (await lists()).clients.clients.some((x) => x.id === p.clientId),
      'gone from the list at once',
    );
    t.notOk(srs.hlsRequest(p.clientId), 'its playlist is EOF');
    t.equal(hooksOf('on_stop').length, 0, 'no on_stop at the DELETE');
    await until(() => hooksOf('on_stop').length === 1, 'on_stop after the linger');
    const again = await srs.playHls('r1', `?hls_ctx=${p.clientId}&token=kick1`);
    t.equal(again.clientId, p.clientId, 'the same hls_ctx comes back as a new session');
    t.equal(hooksOf('on_play').length, 2);
    t.equal(hooksOf('on_play')[1]!.param, `?hls_ctx=${p.clientId}&token=kick1`);
  },
);

t.test(
  'whip-publish-r2 / whip-slow-dtls-r4: param without ?, active:false until DTLS',
  async (t) => {
    const { srs, hooks, lists, hooksOf } = await setup(t);
    const rec = recordedHooks('hooks-whip-whep.jsonl');
    const slow = snapshots('whip-slow-dtls-r4.jsonl').filter((s) => (s.t_s ?? 0) > 0);
    const r4 = (s: Snapshot) => s.streams.streams.find((x) => x.name === 'r4');
    const recActive = slow.map((s) => r4(s)?.publish.active);
    t.ok(recActive.indexOf(true) > 10, 'recorded: inactive for 8 s');
    t.notOk(recActive.slice(recActive.indexOf(true)).includes(false), 'recorded: then active');
    const pub = await srs.whip('r4', 'key=k4', { dtlsDelayMs: 300 });
    t.ok(pub.ok);
    t.same(
      normal(hooks.bodies[0]!),
      normal(rec.find((r) => r.stream === 'r4')!),
      'on_publish as recorded',
    );
    const before = await lists();
    t.same(shape(r4(before)), shape(r4(slow[0]!)), 'stream shape while inactive');
    t.same(r4(before)!.publish, { active: false });
    const client = before.clients.clients.find((x) => x.id === pub.clientId)!;
    t.same(
      [client.type, client.publish, client.tcUrl],
      ['rtc-publish', true, ''],
      'listed as rtc-publish from the start',
    );
    await until(() => srs.publisherOf('r4') !== null, 'publisher');
    let now = await lists();
    while (!r4(now)!.publish.active) now = await lists();
    t.same(
      r4(now)!.publish,
      { active: true, cid: pub.clientId },
      'active with its cid once DTLS is done',
    );
    srs.disconnect(pub.clientId);
    await srs.settled();
    t.same(
      normal(hooksOf('on_unpublish')[0]!),
      normal(rec.find((r) => r.stream === 'r4' && r.action === 'on_unpublish')!),
    );
  },
);

t.test(
  'whep-play-r2: on_play with the WHEP query, listed as rtc-play, on_stop when it leaves',
  async (t) => {
    const { srs, hooks, lists } = await setup(t);
    const rec = recordedHooks('hooks-whip-whep.jsonl');
    await srs.whip('r2', 'key=k2', { dtlsDelayMs: 0 });
    const v = await srs.whep('r2', 'token=t2');
    t.ok(v.ok);
    t.same(hooks.bodies.map(normal).slice(0, 2), rec.slice(0, 2).map(normal));
    const c = (await lists()).clients.clients.find((x) => x.id === v.clientId)!;
    t.same([c.type, c.name, c.tcUrl], ['rtc-play', 'r2', '']);
    srs.disconnect(v.clientId);
    await srs.settled();
    t.same(normal(hooks.bodies[2]!), normal(rec[2]!));
  },
);

t.test(
  'webrtc-vanish-tcp / -udp-loopback: at once over TCP, after the STUN timeout over UDP',
  async (t) => {
    const { srs, lists, hooksOf } = await setup(t);
    const udp = snapshots('webrtc-vanish-udp-loopback.jsonl');
    const r10 = (s: Snapshot) => s.streams.streams.find((x) => x.name === 'r10');
    t.ok(r10(udp[0]!)?.publish.active, 'recorded: still active after the kill (UDP)');
    const tcp = await srs.whip('r7', 'key=k7', { dtlsDelayMs: 0 });
    const u = await srs.whip('r10', 'key=k10', { dtlsDelayMs: 0 });
    srs.vanish(tcp.clientId, 'tcp');
    await srs.settled();
    t.equal(hooksOf('on_unpublish').length, 1, 'TCP: on_unpublish at once');
    srs.vanish(u.clientId, 'udp');
    const still = (await lists()).streams.streams.find((x) => x.name === 'r10');
    t.same(still?.publish, { active: true, cid: u.clientId }, 'UDP: still active and listed');
    await until(
      () => hooksOf('on_unpublish').length === 2,
      'UDP on_unpublish after the STUN timeout',
    );
    t.notOk((await lists()).streams.streams.some((x) => x.name === 'r10'));
  },
);

t.test(
  'whip-whep-deny: a denied WHIP stays listed inactive, then on_unpublish; a denied WHEP leaves nothing',
  async (t) => {
    const { srs, hooks, lists, hooksOf } = await setup(t);
    const rec = recordedHooks('hooks-whip-whep-deny.jsonl');
    const recSnaps = lines('whip-whep-deny.jsonl');
    t.ok(recSnaps.length > 0);
    const w = await srs.whip('w-deny200', 'key=deny200');
    t.notOk(w.ok);
    const listed = await lists();
    t.same(listed.streams.streams.find((x) => x.name === 'w-deny200')?.publish, { active: false });
    t.equal(listed.clients.clients.find((x) => x.id === w.clientId)?.type, 'rtc-publish');
    await srs.publish('r1', '?key=k1');
    const v = await srs.whep('r1', 'token=deny200');
    t.notOk(v.ok);
    t.notOk(srs.hasClient(v.clientId), 'a denied WHEP is not listed');
    await until(() => hooksOf('on_unpublish').length === 1, 'the zombie publisher is unpublished');
    const recUnpub = rec.find((r) => r.action === 'on_unpublish' && r.stream === 'w-deny200')!;
    t.same(normal(hooksOf('on_unpublish')[0]!), normal(recUnpub), 'no stream_id, as recorded');
    t.same(normal(hooks.bodies[0]!), normal(rec[0]!));
    t.equal(hooksOf('on_stop').length, 0, 'no on_stop for the denied WHEP');
    t.notOk((await lists()).streams.streams.some((x) => x.name === 'w-deny200'));
  },
);

t.test(
  'whip-udp-publish-pc-close: the publisher leaves, its WHEP viewer stays; SRS still names the old publisher',
  async (t) => {
    const { srs, lists, hooksOf } = await setup(t);
    const rec = snapshots('whip-udp-publish-pc-close.jsonl').filter(
      (s) => !s.clients.clients.some((c) => c.type === 'rtc-publish' && c.name === 'r12'),
    );
    const recR12 = rec.at(-1)!.streams.streams.find((s) => s.name === 'r12')!;
    t.same(Object.keys(recR12.publish), ['active', 'cid'], 'recorded: inactive, with the old cid');
    const pub = await srs.whip('r12', 'key=k12', { dtlsDelayMs: 0 });
    const viewer = await srs.whep('r12', 'token=t12');
    srs.disconnect(pub.clientId);
    await srs.settled();
    t.equal(hooksOf('on_unpublish').length, 1, 'on_unpublish at once (pc.close)');
    const now = await lists();
    const r12 = now.streams.streams.find((s) => s.name === 'r12')!;
    t.same(r12.publish, { active: false, cid: pub.clientId });
    t.same(shape(r12), shape(recR12));
    t.ok(srs.hasClient(viewer.clientId), 'the viewer stays listed');
    t.equal(hooksOf('on_stop').length, 0, 'and gets no on_stop');
  },
);

t.test(
  'kick-whip-publisher-r5: DELETE of publish.cid: on_unpublish, gone from both lists',
  async (t) => {
    const { srs, lists, hooksOf } = await setup(t);
    const rec = lines('kick-whip-publisher-r5.jsonl');
    t.ok(
      rec.some((r) => String(r.label).startsWith('DELETE')),
      'recorded: the DELETE',
    );
    const pub = await srs.whip('r5', 'key=k5', { dtlsDelayMs: 0 });
    await until(() => srs.publisherOf('r5') === pub.clientId, 'publishing');
    const del = await fetch(`${srs.apiUrl}/api/v1/clients/${pub.clientId}`, { method: 'DELETE' });
    t.equal(((await del.json()) as { code: number }).code, 0);
    await srs.settled();
    t.equal(hooksOf('on_unpublish').length, 1);
    const now = await lists();
    t.notOk(now.streams.streams.some((s) => s.name === 'r5'));
    t.notOk(now.clients.clients.some((c) => c.id === pub.clientId));
  },
);

t.test('webrtc-udp-dtls-never-completes: inactive and listed until the STUN timeout', async (t) => {
  const { srs, lists, hooksOf } = await setup(t);
  const rec = snapshots('webrtc-udp-dtls-never-completes.jsonl');
  const r8 = (s: Snapshot) => s.streams.streams.find((x) => x.name === 'r8');
  t.ok(
    rec.filter((s) => r8(s) !== undefined).every((s) => !r8(s)!.publish.active),
    'recorded: never active',
  );
  const pub = await srs.whip('r8', 'key=k8', { dtlsDelayMs: Infinity });
  srs.vanish(pub.clientId, 'udp');
  t.same(r8(await lists())?.publish, { active: false }, 'listed, inactive');
  await until(() => hooksOf('on_unpublish').length === 1, 'timed out by SRS');
  t.equal(r8(await lists()), undefined);
});

/** One HTTP exchange as a raw client sees it: the response, or how the connection ended. */
interface Exchange {
  status?: number;
  raw?: string[];
  body?: string;
  error?: string;
}
interface RecordedResponse {
  status: number;
  raw_headers: string[];
  body?: string;
}

/** A raw request (Node `http`, one connection, no agent), as the recording's drivers made. */
function exchange(url: string, method = 'GET', body?: string): Promise<Exchange> {
  return new Promise((resolve) => {
    const req = request(url, { method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          raw: res.rawHeaders,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', (err) => resolve({ error: String(err) }));
    req.end(body);
  });
}

/** Header names in order with their values, but for the ones that vary per exchange. */
const headersOf = (raw: string[] = []) =>
  raw.flatMap((v, i) =>
    i % 2 === 0 ? [v] : ['Content-Length', 'Location'].includes(raw[i - 1]!) ? ['*'] : [v],
  );
const responseOf = (r: Record<string, unknown>): RecordedResponse =>
  (typeof r.response === 'string' ? JSON.parse(r.response) : r.response) as RecordedResponse;
const labelled = (name: string, prefix: string) =>
  lines(name).find((r) => String(r.label).startsWith(prefix))!;
const sameIdsAs = (text: string, id: string, recordedId: string) => text.replaceAll(id, recordedId);

t.test(
  'flv-play-api / hooks-flv-play: 200 chunked video/x-flv, listed as r1.flv, on_stop at once',
  async (t) => {
    const { srs, hooks, lists, hooksOf } = await setup(t);
    const rec = recordedHooks('hooks-flv-play.jsonl');
    const recHead = responseOf(lines('flv-play-api.jsonl')[0]!);
    await srs.publish('r1', '?key=k1');
    const head = await new Promise<{ raw: string[]; status?: number; close: () => void }>(
      (resolve) => {
        const req = request(`${srs.apiUrl}/live/r1.flv?token=f0`, { agent: false }, (res) =>
          resolve({ raw: res.rawHeaders, status: res.statusCode, close: () => req.destroy() }),
        );
        req.end();
      },
    );
    t.equal(head.status, recHead.status);
    t.same(head.raw, recHead.raw_headers, 'the recorded head, byte for byte');
    t.same(normal(hooks.bodies[1]!), normal(rec[0]!), 'on_play as recorded');
    const playing = snapshots('flv-play-api.jsonl')[1]!;
    const recFlv = playing.clients.clients.find((c) => c.type === 'flv-play')!;
    const flv = (await lists()).clients.clients.find((c) => c.type === 'flv-play')!;
    t.same([flv.name, flv.type, flv.publish], [recFlv.name, recFlv.type, recFlv.publish]);
    t.same(shape(flv), shape(recFlv));
    head.close();
    await until(() => hooksOf('on_stop').length === 1, 'on_stop when the player goes');
    t.same(normal(hooksOf('on_stop')[0]!), normal(rec[1]!));
    const after = snapshots('flv-play-api.jsonl').at(-1)!;
    t.same(
      (await lists()).clients.clients.map((c) => c.type),
      after.clients.clients.map((c) => c.type),
      'only the publisher is left, as recorded',
    );
  },
);

t.test(
  'deny-reactions: every denial refuses at once, a slow hook admits late, a silent one refuses',
  async (t) => {
    const { srs, hooks, hooksOf } = await setup(t);
    const rec = lines('deny-reactions.jsonl');
    const recHooks = recordedHooks('hooks-deny-reactions.jsonl');
    await srs.publish('r1', '?key=k1');
    for (const mode of ['deny200', 'deny403']) {
      const recPlain = rec.filter((r) => r.mode === mode && String(r.client).startsWith('node'));
      t.ok(
        recPlain.length === 2 && recPlain.every((r) => 'error' in (r.response as object)),
        'recorded: hang up',
      );
      const before = hooks.bodies.length;
      const pub = await srs.publish(`d-${mode}`, `?key=${mode}`);
      t.notOk(pub.ok, `${mode}: RTMP publish refused`);
      const flv = await exchange(`${srs.apiUrl}/live/r1.flv?token=${mode}`);
      t.match(flv.error, /socket hang up/, `${mode}: FLV closed without a response`);
      const hls = await exchange(`${srs.apiUrl}/live/r1.m3u8?token=${mode}`);
      t.match(hls.error, /socket hang up/, `${mode}: HLS closed without a response`);
      const play = await srs.play('r1', `?token=${mode}`);
      t.notOk(play.ok, `${mode}: RTMP play refused`);
      await srs.settled();
      const mine = hooks.bodies.slice(before);
      const recMine = recHooks.filter((b) => b.param?.includes(mode) && b.action !== 'on_stop');
      t.same(
        mine.map(normal),
        [recMine[0]!, recMine[1]!, recMine[2]!, recMine[3]!].map(normal),
        `${mode}: hook bodies as recorded`,
      );
    }
    t.equal(hooksOf('on_unpublish').length, 0, 'no on_unpublish for a denied publisher');
    // Only the two denied HLS sessions get an on_stop, after lingering.
    await until(() => hooksOf('on_stop').length === 2, 'on_stop of the denied HLS sessions');
    t.ok(hooksOf('on_stop').every((b) => b.stream === 'r1.m3u8'));
    t.same(
      recHooks
        .filter((b) => b.action === 'on_stop' && /deny/.test(b.param ?? ''))
        .map((b) => b.stream),
      ['r1.m3u8', 'r1.m3u8', 'r1.m3u8', 'r1.m3u8'],
      'recorded: only HLS sessions get an on_stop after a denial',
    );

    // sleep10: admitted once the hook answers; sleep40: refused at SRS's hook timeout.
    const slow = await srs.publish('d-sleep10', '?key=sleep10');
    t.ok(slow.ok, 'a slow hook admits');
    const slowFlv = await exchange(`${srs.apiUrl}/live/r1.m3u8?token=sleep10`);
    t.equal(slowFlv.status, 200, 'a slow HLS on_play answers the playlist');
    const silent = await srs.publish('d-sleep40', '?key=sleep40');
    t.notOk(silent.ok, 'a hook that never answers refuses');
    const silentFlv = await exchange(`${srs.apiUrl}/live/r1.flv?token=sleep40`);
    t.match(silentFlv.error, /socket hang up/);
    await srs.settled();
    t.notOk(
      hooks.bodies.some(
        (b) => b.param?.includes('sleep40') && b.action !== 'on_publish' && b.action !== 'on_play',
      ),
      'no on_unpublish or on_stop after a timed-out hook, as recorded',
    );
    t.notOk(
      recHooks.some(
        (b) =>
          b.param?.includes('sleep40') && (b.action === 'on_stop' || b.action === 'on_unpublish'),
      ),
    );
  },
);

for (const signal of ['sigterm', 'sigkill']) {
  t.test(
    `restart-${signal}: no hook for the cut-off publishers; new service, empty lists`,
    async (t) => {
      const { srs, hooks, lists } = await setup(t);
      const rec = lines(`restart-${signal}.jsonl`);
      const summary = (label: string) =>
        labelled(`restart-${signal}.jsonl`, label).summaries as {
          server: string;
          service: string;
          pid: string;
        };
      const before = summary('before-');
      const after = summary('after-restart');
      t.equal(after.server, before.server, 'recorded: the same server id');
      t.not(after.service, before.service, 'recorded: a new service id');
      t.same(labelled(`restart-${signal}.jsonl`, 'hooks since').hooks, [], 'recorded: no hook');
      t.ok(rec.some((r) => r.label === 'srs-down' && /ECONNREFUSED/.test(String(r.api))));

      await srs.publish('rr1', '?key=k-rr1');
      const whip = await exchange(
        `${srs.apiUrl}/rtc/v1/whip/?app=live&stream=rw1&key=k-rw1`,
        'POST',
        'v=0',
      );
      t.equal(whip.status, 201);
      const recPublish = recordedHooks('hooks-restart.jsonl').filter((b) =>
        ['rr1', 'rw1'].includes(b.stream!),
      );
      t.same(hooks.bodies.map(normal), recPublish.map(normal), 'on_publish of both, as recorded');
      const summaries = async () =>
        (await (await fetch(`${srs.apiUrl}/api/v1/summaries`)).json()) as typeof before;
      const was = await summaries();
      const hooksBefore = hooks.bodies.length;
      await srs.apiDown();
      t.match((await exchange(`${srs.apiUrl}/api/v1/summaries`)).error, /ECONNREFUSED/, 'down');
      srs.restart();
      await srs.start();
      const now = await summaries();
      t.equal(now.server, was.server);
      t.not(now.service, was.service);
      t.not(now.pid, was.pid);
      const l = await lists();
      t.same([l.streams.streams, l.clients.clients], [[], []], 'lists empty after the restart');
      await srs.settled();
      t.equal(hooks.bodies.length, hooksBefore, 'no on_unpublish, ever');
    },
  );
}

t.test(
  'whip-delete-location-r6: 201 with its delete Location; DELETE of it: 200 empty, on_unpublish',
  async (t) => {
    const { srs, hooks, lists } = await setup(t);
    const recFile = 'whip-delete-location-r6.jsonl';
    const recPost = responseOf(labelled(recFile, 'http-exchange'));
    const recDel = labelled(recFile, 'DELETE ');
    const recHooks = recordedHooks('hooks-kicks.jsonl').filter((b) => b.stream === 'r6');
    const post = await exchange(
      `${srs.apiUrl}/rtc/v1/whip/?app=live&stream=r6&key=k6`,
      'POST',
      'v=0',
    );
    t.equal(post.status, recPost.status);
    t.same(headersOf(post.raw), headersOf(recPost.raw_headers), 'the recorded head');
    const location = post.raw![post.raw!.indexOf('Location') + 1]!;
    const pattern =
      /^\/rtc\/v1\/whip\/\?action=delete&token=[0-9a-z]+&app=live&stream=r6&session=[0-9a-z]+:[0-9A-Za-z]+$/;
    t.match(String(recDel.label).slice('DELETE '.length), pattern, 'recorded Location');
    t.match(location, pattern);
    t.match(post.body, /^v=0\r\n/, 'an SDP answer');
    t.same(normal(hooks.bodies[0]!), normal(recHooks[0]!), 'on_publish during the POST');

    const del = await exchange(`${srs.apiUrl}${location}`, 'DELETE');
    const recDelResponse = responseOf(recDel);
    t.equal(del.status, 200);
    t.same(del.raw, recDelResponse.raw_headers, 'the recorded head, Content-Length 0');
    t.equal(del.body, '');
    await srs.settled();
    t.same(normal(hooks.bodies[1]!), normal(recHooks[1]!), 'on_unpublish at once');
    const after = await lists();
    t.notOk(
      after.streams.streams.some((s) => s.name === 'r6'),
      'gone, as recorded',
    );
    t.notOk(
      snapshots(recFile)
        .filter((s) => (s.t_s ?? 0) > 0)
        .some((s) => s.streams.streams.some((x) => x.name === 'r6')),
    );
  },
);

for (const [file, stream, how] of [
  ['whip-page-close-r3.jsonl', 'r3', 'page.close() over ICE-TCP'],
  ['whip-pc-close-r2.jsonl', 'r2', 'pc.close()'],
] as const) {
  t.test(
    `${file.replace('.jsonl', '')}: ${how}: on_unpublish at once, the stream gone`,
    async (t) => {
      const { srs, hooks, lists, hooksOf } = await setup(t);
      const recHooks = recordedHooks('hooks-whip-whep.jsonl').filter((b) => b.stream === stream);
      const recAfter = snapshots(file).at(-1)!;
      t.notOk(
        recAfter.streams.streams.some((s) => s.name === stream),
        'recorded: gone',
      );
      const arrived = labelled(file, 'on_unpublish arrived');
      t.ok(Number(arrived.t_s_hook) < 0.1, 'recorded: within 100 ms');
      const post = await exchange(
        `${srs.apiUrl}/rtc/v1/whip/?app=live&stream=${stream}&key=k${stream.slice(1)}`,
        'POST',
        'v=0',
      );
      t.equal(post.status, 201);
      await until(() => srs.publisherOf(stream) !== null, 'publishing');
      const id = hooks.bodies[0]!.client_id!;
      // Closing the page over ICE-TCP closes the TCP connection; pc.close() sends a DTLS close.
      if (how === 'pc.close()') srs.disconnect(id);
      else srs.vanish(id, 'tcp');
      await srs.settled();
      t.same(hooksOf('on_unpublish').map(normal), [
        normal(recHooks.find((b) => b.action === 'on_unpublish')!),
      ]);
      t.same(
        (await lists()).streams.streams.map((s) => s.name),
        recAfter.streams.streams.map((s) => s.name).filter((n) => n !== 'r1'),
        'no stream left (the recording had r1 publishing beside)',
      );
    },
  );
}

t.test(
  'kick-hls-player-raw-http: master, media playlist, DELETE, EOF 404, on_stop, a new session',
  async (t) => {
    const { srs, hooks, lists, hooksOf } = await setup(t);
    const file = 'kick-hls-player-raw-http.jsonl';
    const recId = 'u30f3879';
    const rec = (label: string) => responseOf(labelled(file, label));
    const recHooks = recordedHooks('hooks-kicks.jsonl').filter((b) => b.client_id === recId);
    await srs.publish('r1', '?key=k1');

    const master = await exchange(`${srs.apiUrl}/live/r1.m3u8?token=kick2`);
    const ctx = hooks.bodies[1]!.client_id!;
    const recMaster = rec('GET /live/r1.m3u8?token=kick2');
    t.same(headersOf(master.raw), headersOf(recMaster.raw_headers), 'master head as recorded');
    t.equal(sameIdsAs(master.body!, ctx, recId), recMaster.body, 'master body as recorded');
    t.same(normal(hooks.bodies[1]!), normal(recHooks[0]!), 'on_play as recorded');

    const playlistUrl = `${srs.apiUrl}/live/r1.m3u8?hls_ctx=${ctx}&token=kick2`;
    const media = await exchange(playlistUrl);
    const recMedia = rec(`GET /live/r1.m3u8?hls_ctx=${recId}&token=kick2`);
    t.same(headersOf(media.raw), headersOf(recMedia.raw_headers), 'media playlist head');
    t.match(
      media.body,
      new RegExp(`^#EXTM3U\\n#EXT-X-VERSION:3\\n[^]*\\nr1-\\d+\\.ts\\?hls_ctx=${ctx}\\n$`),
    );
    t.equal(hooksOf('on_play').length, 1, 'a request of a held session asks no hook');

    const del = await exchange(`${srs.apiUrl}/api/v1/clients/${ctx}`, 'DELETE');
    t.match(JSON.parse(del.body!), { code: 0, server: srs.serverId });
    const eof = await exchange(playlistUrl);
    const recEof = rec(`GET /live/r1.m3u8?hls_ctx=${recId}&token=kick2 (after DELETE)`);
    t.equal(eof.status, 404);
    t.same(headersOf(eof.raw), headersOf(recEof.raw_headers), 'EOF head as recorded');
    t.equal(sameIdsAs(eof.body!, ctx, recId), recEof.body);
    const segment = await exchange(`${srs.apiUrl}/live/r1-3.ts?hls_ctx=${ctx}`);
    const recSegment = rec(`GET /live/r1-3.ts?hls_ctx=${recId} (after DELETE)`);
    t.equal(segment.status, 200, 'segments are still served');
    t.same(headersOf(segment.raw), headersOf(recSegment.raw_headers));
    t.notOk(
      (await lists()).clients.clients.some((c) => c.id === ctx),
      'gone from the list',
    );

    await until(() => hooksOf('on_stop').length === 1, 'on_stop after the linger');
    t.same(normal(hooksOf('on_stop')[0]!), normal(recHooks[1]!));
    const again = await exchange(playlistUrl);
    const recAgain = rec(`GET /live/r1.m3u8?hls_ctx=${recId}&token=kick2 (after its on_stop)`);
    t.same(headersOf(again.raw), headersOf(recAgain.raw_headers));
    t.equal(
      sameIdsAs(again.body!, ctx, recId),
      recAgain.body,
      'only hls_ctx in the URL, as recorded',
    );
    const replay = hooksOf('on_play')[1]!;
    const renamed = { ...replay, param: sameIdsAs(replay.param!, ctx, recId) };
    t.same(normal(renamed), normal(recHooks[2]!), 'a new on_play with the hls_ctx');
    t.ok((await lists()).clients.clients.some((c) => c.id === ctx && c.type === 'hls-play'));
  },
);

t.test(
  'whep-play-r2 over HTTP: 201 with a Location on /rtc/v1/whip/; its DELETE stops the player',
  async (t) => {
    const { srs, hooksOf } = await setup(t);
    const recPost = responseOf(labelled('whep-play-r2.jsonl', 'http-exchange'));
    await srs.whip('r2', 'key=k2', { dtlsDelayMs: 0 });
    const post = await exchange(
      `${srs.apiUrl}/rtc/v1/whep/?app=live&stream=r2&token=t2`,
      'POST',
      'v=0',
    );
    t.equal(post.status, recPost.status);
    t.same(headersOf(post.raw), headersOf(recPost.raw_headers), 'the recorded head');
    const location = post.raw![post.raw!.indexOf('Location') + 1]!;
    const recLocation = recPost.raw_headers[recPost.raw_headers.indexOf('Location') + 1]!;
    const path = (l: string) => l.slice(0, l.indexOf('?'));
    t.equal(path(location), path(recLocation), 'WHEP too is deleted on /rtc/v1/whip/');
    t.equal(hooksOf('on_play')[0]!.param, 'app=live&stream=r2&token=t2');
    const del = await exchange(`${srs.apiUrl}${location}`, 'DELETE');
    t.equal(del.status, 200);
    await srs.settled();
    t.equal(hooksOf('on_stop').length, 1, 'on_stop at once');
  },
);
