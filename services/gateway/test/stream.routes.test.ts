/**
 * The gateway's stream routes, end to end: the URLs it hands out really work at the
 * SRS stand-in's hooks (keys and minted tokens), and the stream status joins the
 * room's record with what the SRS API reports.
 */
import t from 'tap';
import type { PlayUrls, PublishUrls } from '#shared/stream/stream.urls.js';
import type { StreamStatus } from '#shared/stream/stream.protocol.js';
import { startStreamSystem, type StreamSystem } from '../../stream/test/stream.harness.js';

const env = {
  STREAM_PUBLIC_RTMP_URL: 'rtmp://media.example.com:1935',
  STREAM_PUBLIC_HTTP_URL: 'https://cdn.example.com/',
  STREAM_PUBLIC_RTC_URL: 'https://rtc.example.com',
};

interface Urls {
  roomId: string;
  publish?: PublishUrls;
  play: PlayUrls;
  playTokenRequired: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the route decides T
async function get<T>(sys: StreamSystem, path: string, token?: string) {
  const res = await fetch(sys.gatewayUrl + path, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as T & { error?: { code: string } } };
}

/** The query string of a URL, as SRS hands it to the hooks in `param`. */
const paramOf = (url: string) => new URL(url.replace(/^(rtmp|webrtc):/, 'http:')).search;

t.test('the owner gets publish URLs with the key, and they publish', async (t) => {
  const sys = await startStreamSystem(t, { gateway: true, env });
  const room = await sys.createRoom('r1');
  const r = await get<Urls>(sys, '/api/rooms/r1/urls', await sys.token('owner'));
  t.equal(r.status, 200);
  const key = encodeURIComponent(room.streamKey);
  t.same(r.body.publish, {
    rtmp: `rtmp://media.example.com:1935/live/r1?key=${key}`,
    obs: { server: 'rtmp://media.example.com:1935/live', streamKey: `r1?key=${key}` },
    whip: `https://rtc.example.com/rtc/v1/whip/?app=live&stream=r1&key=${key}`,
  });
  // A public room needs no play token, but the URLs carry the caller's own: SRS then
  // names the user, and one user's players take one seat.
  const bare = (url: string) => url.replace(/[?&]token=[^&]*$/, '');
  t.same(Object.fromEntries(Object.entries(r.body.play).map(([k, v]) => [k, bare(v)])), {
    rtmp: 'rtmp://media.example.com:1935/live/r1',
    flv: 'https://cdn.example.com/live/r1.flv',
    hls: 'https://cdn.example.com/live/r1.m3u8',
    webrtc: 'webrtc://rtc.example.com/live/r1',
    whep: 'https://rtc.example.com/rtc/v1/whep/?app=live&stream=r1',
  });
  for (const url of Object.values(r.body.play)) t.match(url, /[?&]token=[\w.-]+$/, url);
  t.equal(r.body.playTokenRequired, false);
  const pub = await sys.srs.publish('r1', paramOf(r.body.publish!.rtmp));
  t.ok(pub.ok, 'the RTMP URL publishes');
  const whip = await sys.srs.publish('r1', paramOf(r.body.publish!.whip), 'rtc-publish');
  t.match(JSON.parse(sys.srs.hooksOf('on_publish').at(-1)?.reply ?? ''), {
    error: 'PUBLISHER_TAKEN',
  });
  t.notOk(whip.ok, 'the WHIP URL carries the key too (refused only because RTMP publishes)');
});

t.test('a publish grant gets a short-lived publish token that works', async (t) => {
  const sys = await startStreamSystem(t, { gateway: true, env });
  await sys.createRoom('r1');
  const r = await get<Urls>(sys, '/api/rooms/r1/urls', await sys.token('bob', { publish: ['r1'] }));
  t.match(r.body.publish?.rtmp, /^rtmp:\/\/media\.example\.com:1935\/live\/r1\?token=/);
  t.notMatch(r.body.publish?.rtmp, /key=/, 'never the owner key');
  const pub = await sys.srs.publish('r1', paramOf(r.body.publish!.rtmp));
  t.ok(pub.ok);
  t.equal(sys.state('r1')?.publisher?.userId, 'bob');
});

t.test('viewers: play URLs only; private rooms with a play token', async (t) => {
  const sys = await startStreamSystem(t, { gateway: true, env });
  await sys.createRoom('pub');
  await sys.createRoom('priv', { isPrivate: true });
  const stranger = await sys.token('eve');
  const viewer = await sys.token('bob', { view: ['priv'] });

  const open = await get<Urls>(sys, '/api/rooms/pub/urls', stranger);
  t.equal(open.status, 200);
  t.notOk(open.body.publish, 'no publish URLs for a viewer');
  t.match(open.body.play.flv, /^https:\/\/cdn\.example\.com\/live\/pub\.flv\?token=/);
  const seen = await sys.srs.play('pub', paramOf(open.body.play.flv), 'flv-play');
  t.ok(seen.ok, 'its play token is taken in a public room');
  t.match(JSON.parse(sys.srs.hooksOf('on_play').at(-1)?.reply ?? '{}'), { code: 0 }, 'and allowed');

  const hidden = await get<Urls>(sys, '/api/rooms/priv/urls', stranger);
  t.same([hidden.status, hidden.body.error?.code], [404, 'ROOM_NOT_FOUND'], 'a private room hides');

  const allowed = await get<Urls>(sys, '/api/rooms/priv/urls', viewer);
  t.equal(allowed.status, 200);
  t.notOk(allowed.body.publish);
  for (const url of Object.values(allowed.body.play)) t.match(url, /[?&]token=/, url);
  const play = await sys.srs.play('priv', paramOf(allowed.body.play.flv), 'flv-play');
  t.ok(play.ok, 'the minted play token opens the private room at SRS');
  const bare = await sys.srs.play('priv', '', 'flv-play');
  t.notOk(bare.ok, 'without it, not');
});

t.test('refusals', async (t) => {
  const sys = await startStreamSystem(t, { gateway: true, env });
  await sys.createRoom('r1');
  await sys.command('r1', {
    type: 'set_status',
    status: 'ended',
    userId: 'owner',
    perms: { publish: false, view: false, admin: false },
  });
  const token = await sys.token('owner');
  const cases: [string, string, string | undefined, number, string][] = [
    ['no token', '/api/rooms/r1/urls', undefined, 401, 'AUTH_REQUIRED'],
    ['a bad token', '/api/rooms/r1/urls', 'x.y.z', 401, 'TOKEN_INVALID'],
    ['an unknown room', '/api/rooms/nope/urls', token, 404, 'ROOM_NOT_FOUND'],
    ['an ended room', '/api/rooms/r1/urls', token, 409, 'ROOM_ENDED'],
    ['status of an unknown room', '/api/rooms/nope/stream', token, 404, 'ROOM_NOT_FOUND'],
  ];
  for (const [name, path, tok, status, code] of cases) {
    const r = await get(sys, path, tok);
    t.same([r.status, r.body.error?.code], [status, code], name);
  }
});

t.test('GET /stream: the room joined with the SRS API', async (t) => {
  const sys = await startStreamSystem(t, { gateway: true, env });
  const room = await sys.createRoom('r1', { maxViewers: 10 });
  const token = await sys.token('viewer');
  const idle = await get<{ stream: StreamStatus }>(sys, '/api/rooms/r1/stream', token);
  t.match(idle, {
    status: 200,
    body: { stream: { roomId: 'r1', status: 'preparing', active: false, publisher: null } },
  });
  const pub = await sys.srs.publish('r1', `?key=${room.streamKey}`);
  await sys.srs.play('r1', '');
  await sys.until('live', () => sys.state('r1')?.status === 'live');
  const live = await get<{ stream: StreamStatus }>(sys, '/api/rooms/r1/stream', token);
  t.match(live.body.stream, {
    status: 'live',
    active: true,
    since: sys.state('r1')?.stream.confirmedAt,
    publisher: { clientId: pub.clientId, userId: 'owner' },
    video: { codec: 'H264', width: 320, height: 240 },
    audio: { codec: 'AAC', sampleRate: 44_100, channels: 2 },
    kbps: { recv: 1200 },
    srsClients: 2,
    viewers: 1,
    streamViewers: 1,
    maxViewers: 10,
    srs: 'ok',
  });
  await sys.srs.apiDown();
  const down = await get<{ stream: StreamStatus }>(sys, '/api/rooms/r1/stream', token);
  t.match(down.body.stream, {
    active: false,
    srs: 'unreachable',
    publisher: { clientId: pub.clientId },
  });
});
