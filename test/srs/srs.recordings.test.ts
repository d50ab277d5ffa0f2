/**
 * The SRS stand-in against the 2026-12 recordings of a real SRS 6.0.157
 * (fixtures/srs-6.0.157/recorded-2026-12/README.md): one test per recording of HLS,
 * WHIP/WHEP, vanishing WebRTC peers and denials. Hook bodies must equal the
 * recorded ones but for ids and ports; API entries must have the recorded shapes
 * and come and go in the recorded order. SRS's timings run scaled down (timeScale).
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { until } from '../helpers/deadline.js';
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
      if (asks && body.param?.includes('deny403')) res.writeHead(403).end('{"code":403}');
      else if (asks && body.param?.includes('deny200')) res.writeHead(200).end('{"code":403}');
      else res.writeHead(200).end('{"code":0}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { base: `http://127.0.0.1:${port}/hooks`, bodies };
}

/** SRS's 20 s HLS linger becomes 1 s, its 30.5 s STUN timeout 1.5 s. */
const timeScale = 0.05;

async function setup(t: Test) {
  const hooks = await recorder(t);
  const srs = new SrsStandIn({ hookBase: hooks.base, timeScale });
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
