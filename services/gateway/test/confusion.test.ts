/**
 * Tokens that do one thing, over real sockets: every token-confusion case is refused
 * on every channel. A media (URL) token is no login token (WebSocket query, `auth`
 * frame, refresh, REST bearer); a login token is no stream token (on_publish,
 * on_play); a play token never publishes; a media token for one room opens no other;
 * a token living "forever" (`exp: 1e308`) or longer than AUTH_MAX_TOKEN_TTL_S is
 * refused everywhere.
 */
import t from 'tap';
import { SignJWT } from 'jose';
import type { PlayUrls, PublishUrls } from '#shared/stream/stream.urls.js';
import { Client } from '../../../test/helpers/client.js';
import { TEST_SECRET } from '../../../test/helpers/system.js';
import { startStreamSystem, type StreamSystem } from '../../stream/test/stream.harness.js';

interface Urls {
  publish?: PublishUrls;
  play: PlayUrls;
}

/** The `token` parameter of a stream URL. */
const tokenOf = (url: string): string =>
  new URL(url.replace(/^(rtmp|webrtc):/, 'http:')).searchParams.get('token') ?? '';

async function rest(sys: StreamSystem, method: string, path: string, token: string) {
  const res = await fetch(sys.gatewayUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { error?: { code: string } };
  return [res.status, body.error?.code];
}

/** What the gateway answers a token on a fresh WebSocket: the error code and the close code. */
async function wsRefusal(sys: StreamSystem, token: string, via: 'query' | 'frame') {
  const c =
    via === 'query'
      ? await Client.connect(`${sys.url}?access_token=${encodeURIComponent(token)}`)
      : await Client.connect(sys.url);
  if (via === 'frame') c.send({ type: 'auth', token, id: 'a1' });
  const closed = await c.waitClose();
  return [c.frames[0]?.type, c.frames[0]?.code, closed.code];
}

/** Signs a login-audience token with any `exp` (and `iat` when given). */
function signLogin(sub: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ iss: 'roomcast', aud: 'roomcast', sub, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(TEST_SECRET));
}

t.test('media tokens are refused by the gateway on every channel', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('priv', { isPrivate: true });
  await sys.createRoom('other', { isPrivate: true });
  await sys.createRoom('r1');
  // The owner's own URLs: the HLS play token of the issue, and a granted user's publish token.
  const owner = await sys.token('owner');
  const urls = await fetch(`${sys.gatewayUrl}/api/rooms/priv/urls`, {
    headers: { authorization: `Bearer ${owner}` },
  });
  const play = tokenOf(((await urls.json()) as Urls).play.hls);
  const bobUrls = await fetch(`${sys.gatewayUrl}/api/rooms/r1/urls`, {
    headers: { authorization: `Bearer ${await sys.token('bob', { publish: ['r1'] })}` },
  });
  const publish = tokenOf(((await bobUrls.json()) as Urls).publish?.rtmp ?? '');
  t.ok(play.length > 0 && publish.length > 0, 'the gateway minted a play and a publish token');

  for (const [name, token] of [
    ['a play token', play],
    ['a publish token', publish],
  ] as const) {
    t.same(
      await wsRefusal(sys, token, 'query'),
      ['error', 'TOKEN_INVALID', 4401],
      `${name} as access_token`,
    );
    t.same(
      await wsRefusal(sys, token, 'frame'),
      ['error', 'TOKEN_INVALID', 4401],
      `${name} as auth frame`,
    );
    t.same(
      await rest(sys, 'GET', '/api/rooms/priv', token),
      [401, 'TOKEN_INVALID'],
      `${name} as bearer: no private room`,
    );
    t.same(
      await rest(sys, 'DELETE', '/api/rooms/other', token),
      [401, 'TOKEN_INVALID'],
      `${name} as bearer: ends no room`,
    );
    t.same(
      await rest(sys, 'GET', '/api/rooms/priv/urls', token),
      [401, 'TOKEN_INVALID'],
      `${name} as bearer: mints nothing`,
    );
  }
  t.equal(sys.state('other')?.status, 'preparing', 'the other room was not ended');

  const alice = await sys.client('alice');
  const refresh = await alice.call({ type: 'auth', token: play });
  t.same([refresh.type, refresh.code], ['error', 'TOKEN_INVALID'], 'a play token as a refresh');
  t.notOk(alice.closed, 'the session it tried to refresh goes on');
});

t.test('SRS hooks take only a media token for that room and action', async (t) => {
  const sys = await startStreamSystem(t);
  const room = await sys.createRoom('r1', { isPrivate: true });
  await sys.createRoom('r2', { isPrivate: true });
  const nowS = Math.floor(Date.now() / 1000);
  const forever = await new SignJWT({
    iss: 'roomcast',
    aud: 'roomcast:media',
    sub: 'bob',
    iat: nowS,
    exp: 1e308,
    media: { room: 'r1', action: 'publish' },
  })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(TEST_SECRET));
  const cases: [string, 'publish' | 'play', string, string][] = [
    ['a login token (owner) to on_publish', 'publish', await sys.token('owner'), 'TOKEN_INVALID'],
    [
      'a login token with a publish grant to on_publish',
      'publish',
      await sys.token('bob', { publish: ['r1'] }),
      'TOKEN_INVALID',
    ],
    [
      'a login token with a view grant to on_play',
      'play',
      await sys.token('bob', { view: ['r1'] }),
      'TOKEN_INVALID',
    ],
    [
      'a play token to on_publish',
      'publish',
      await sys.mediaToken('owner', 'r1', 'play'),
      'NOT_ALLOWED',
    ],
    [
      'a publish token for r2 to on_publish of r1',
      'publish',
      await sys.mediaToken('owner', 'r2', 'publish'),
      'NOT_ALLOWED',
    ],
    [
      'a play token for r2 to on_play of r1',
      'play',
      await sys.mediaToken('bob', 'r2', 'play'),
      'NOT_ALLOWED',
    ],
    ['a media token with exp: 1e308', 'publish', forever, 'TOKEN_INVALID'],
    [
      'a media token above the cap',
      'play',
      await sys.mediaToken('bob', 'r1', 'play', 86_401),
      'TOKEN_INVALID',
    ],
  ];
  for (const [name, action, token, code] of cases) {
    const r =
      action === 'publish'
        ? await sys.srs.publish('r1', `?token=${token}`)
        : await sys.srs.play('r1', `?token=${token}`, 'flv-play');
    t.notOk(r.ok, name);
    const hook = sys.srs.hooksOf(action === 'publish' ? 'on_publish' : 'on_play').at(-1);
    t.match(JSON.parse(hook?.reply ?? '{}'), { error: code }, `${name}: ${code}`);
  }
  t.same(sys.types('r1'), ['room_created'], 'nothing got through');
  t.ok(
    (await sys.srs.publish('r1', `?key=${room.streamKey}`)).ok,
    'the stream key still publishes',
  );
});

t.test('a login token living too long is refused everywhere', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1');
  const nowS = Math.floor(Date.now() / 1000);
  for (const [name, token] of [
    ['exp: 1e308', await signLogin('eve', { iat: nowS, exp: 1e308 })],
    ['exp: 1e308 without iat', await signLogin('eve', { exp: 1e308 })],
    [
      'exp - iat above AUTH_MAX_TOKEN_TTL_S',
      await signLogin('eve', { iat: nowS, exp: nowS + 86_401 }),
    ],
    ['no exp', await signLogin('eve', { iat: nowS })],
  ] as const) {
    t.same(
      await wsRefusal(sys, token, 'query'),
      ['error', 'TOKEN_INVALID', 4401],
      `${name}: access_token`,
    );
    t.same(
      await wsRefusal(sys, token, 'frame'),
      ['error', 'TOKEN_INVALID', 4401],
      `${name}: auth frame`,
    );
    t.same(await rest(sys, 'GET', '/api/rooms/r1', token), [401, 'TOKEN_INVALID'], `${name}: REST`);
  }
});
