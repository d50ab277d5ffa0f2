/**
 * Table tests of the token verifiers: the login verifier (auth.ts), the media
 * verifier (media.token.ts) and the hooks' stream verifier (stream.token.ts). Each
 * token kind is refused where it does not belong; lifetimes are capped.
 */
import t from 'tap';
import { SignJWT } from 'jose';
import { loadConfig } from '#config/config.js';
import { createVerifier } from './auth.js';
import { MediaAction, createMediaVerifier, mintMediaToken } from './media.token.js';
import { createStreamVerifier } from './stream.token.js';
import { RevocationList } from './revocations.js';

const SECRET = 'unit-secret-that-is-at-least-32-bytes-long';
const env = { AUTH_JWT_SECRET: SECRET, NATS_URL: 'nats://127.0.0.1:1' };
const cfg = loadConfig(env).auth;
const nowS = Math.floor(Date.now() / 1000);

/** Signs any claims (HS256 with the test secret); `iat`/`exp` only when given. */
function sign(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ iss: 'roomcast', sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(SECRET));
}
const login = (extra: Record<string, unknown> = {}) =>
  sign({ aud: 'roomcast', iat: nowS, exp: nowS + 600, ...extra });
const media = (room: string, action: string, extra: Record<string, unknown> = {}) =>
  sign({
    aud: 'roomcast:media',
    iat: nowS,
    exp: nowS + 300,
    jti: 'tok1',
    media: { room, action },
    ...extra,
  });

/** What a verifier answers: 'ok' or the error's code. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

t.test('login tokens: only login tokens, with a capped lifetime', async (t) => {
  const verify = createVerifier(cfg);
  const cases: [string, Promise<string>, string][] = [
    ['a login token', login(), 'ok'],
    [
      'a login token without iat (exp within the cap)',
      sign({ aud: 'roomcast', exp: nowS + 60 }),
      'ok',
    ],
    ['a media (play) token', media('r1', 'play'), 'TOKEN_INVALID'],
    ['a media (publish) token', media('r1', 'publish'), 'TOKEN_INVALID'],
    [
      'a media claim in a login-audience token',
      login({ media: { room: 'r1', action: 'play' } }),
      'TOKEN_INVALID',
    ],
    ['both audiences', login({ aud: ['roomcast', 'roomcast:media'] }), 'TOKEN_INVALID'],
    ['exp: 1e308', login({ exp: 1e308 }), 'TOKEN_INVALID'],
    ['exp: 1e308 without iat', sign({ aud: 'roomcast', exp: 1e308 }), 'TOKEN_INVALID'],
    ['a lifetime over AUTH_MAX_TOKEN_TTL_S', login({ exp: nowS + 86_401 }), 'TOKEN_INVALID'],
    ['a lifetime of exactly the cap', login({ exp: nowS + 86_400 }), 'ok'],
    [
      'an iat in the future hiding a long exp',
      login({ iat: nowS + 1e6, exp: nowS + 1e6 + 60 }),
      'TOKEN_INVALID',
    ],
    ['no exp', sign({ aud: 'roomcast', iat: nowS }), 'TOKEN_INVALID'],
    ['expired', login({ iat: nowS - 700, exp: nowS - 100 }), 'TOKEN_EXPIRED'],
  ];
  for (const [name, token, code] of cases) t.equal(await outcome(verify(await token)), code, name);
  const id = await verify(await login({ jti: 'abc_1' }));
  t.equal(id.tokenId, 'abc_1', 'the jti is the token id');
});

t.test('media tokens: one room, one action, short-lived, their own audience', async (t) => {
  const verify = createMediaVerifier(cfg, 3600);
  const cases: [string, Promise<string>, string][] = [
    ['a play token', media('r1', 'play'), 'ok'],
    ['a publish token', media('r1', 'publish'), 'ok'],
    ['a login token', login(), 'TOKEN_INVALID'],
    [
      'a login token with a media claim',
      login({ media: { room: 'r1', action: 'play' } }),
      'TOKEN_INVALID',
    ],
    ['no media claim', media('r1', 'play', { media: undefined }), 'TOKEN_INVALID'],
    ['an unknown action', media('r1', 'admin'), 'TOKEN_INVALID'],
    [
      'two rooms',
      media('r1', 'play', { media: { room: 'r1', action: 'play', rooms: ['r2'] } }),
      'TOKEN_INVALID',
    ],
    ['a room that is no id', media('a.b', 'play'), 'TOKEN_INVALID'],
    ['no iat', media('r1', 'play', { iat: undefined }), 'TOKEN_INVALID'],
    [
      'longer than STREAM_TOKEN_MAX_TTL_S',
      media('r1', 'play', { exp: nowS + 3601 }),
      'TOKEN_INVALID',
    ],
    ['exp: 1e308', media('r1', 'play', { exp: 1e308 }), 'TOKEN_INVALID'],
    ['expired', media('r1', 'play', { iat: nowS - 700, exp: nowS - 100 }), 'TOKEN_EXPIRED'],
  ];
  for (const [name, token, code] of cases) t.equal(await outcome(verify(await token)), code, name);
  const minted = await mintMediaToken({
    secret: SECRET,
    issuer: cfg.issuer,
    audience: cfg.mediaAudience,
    sub: 'bob',
    roomId: 'r9',
    action: MediaAction.publish,
    ttlS: 600,
  });
  const grant = await verify(minted);
  t.match(grant, { userId: 'bob', roomId: 'r9', action: 'publish' }, 'a minted token verifies');
  t.type(grant.tokenId, 'string', 'and carries a jti');
});

t.test(
  'stream tokens: the room and the action must match; login tokens only when turned on',
  async (t) => {
    const verify = createStreamVerifier(cfg, 3600);
    const cases: [string, Promise<string>, string, MediaAction, string][] = [
      ['a publish token publishes', media('r1', 'publish'), 'r1', 'publish', 'ok'],
      ['a publish token plays', media('r1', 'publish'), 'r1', 'play', 'ok'],
      ['a play token plays', media('r1', 'play'), 'r1', 'play', 'ok'],
      ['a play token never publishes', media('r1', 'play'), 'r1', 'publish', 'NOT_ALLOWED'],
      ['a token for room A in room B (play)', media('r1', 'play'), 'r2', 'play', 'NOT_ALLOWED'],
      [
        'a token for room A in room B (publish)',
        media('r1', 'publish'),
        'r2',
        'publish',
        'NOT_ALLOWED',
      ],
      [
        'a login token to on_publish',
        login({ roomcast: { publish: ['r1'] } }),
        'r1',
        'publish',
        'TOKEN_INVALID',
      ],
      [
        'a login token to on_play',
        login({ roomcast: { view: ['r1'] } }),
        'r1',
        'play',
        'TOKEN_INVALID',
      ],
    ];
    for (const [name, token, room, action, code] of cases)
      t.equal(await outcome(verify(await token, room, action)), code, name);
    t.same((await verify(await media('r1', 'play'), 'r1', 'play')).perms, {
      publish: false,
      view: true,
      admin: false,
    });
    t.same((await verify(await media('r1', 'publish'), 'r1', 'publish')).perms.publish, true);

    const open = createStreamVerifier(
      loadConfig({ ...env, AUTH_STREAM_ACCEPT_LOGIN_TOKENS: 'true' }).auth,
      3600,
    );
    const granted = await login({ roomcast: { publish: ['r1'] } });
    t.same(
      (await open(granted, 'r1', 'publish')).perms.publish,
      true,
      'turned on: a login token publishes by its grants',
    );
    t.equal(
      await outcome(open(await login({ exp: nowS + 7200 }), 'r1', 'play')),
      'TOKEN_INVALID',
      'turned on: still at most STREAM_TOKEN_MAX_TTL_S',
    );
    t.equal(
      await outcome(open(await media('r1', 'play'), 'r1', 'publish')),
      'NOT_ALLOWED',
      'turned on: a play token still never publishes',
    );
  },
);

t.test('the media audience must differ from the login audience', async (t) => {
  t.throws(() => loadConfig({ ...env, AUTH_MEDIA_AUDIENCE: 'roomcast' }), /AUTH_MEDIA_AUDIENCE/);
});

t.test('revocations: by user up to a moment, or by token id', async (t) => {
  const list = new RevocationList();
  const put = (key: string, value: unknown) =>
    list.apply({ key, operation: 'PUT', value: new TextEncoder().encode(JSON.stringify(value)) });
  put('user.alice', { before: 1000 });
  put('jti.t1', { exp: 5000 });
  const cases: [string, Parameters<RevocationList['isRevoked']>[0], boolean][] = [
    ['issued before', { userId: 'alice', issuedAt: 999_000, expiresAt: 0 }, true],
    ['issued in the same second', { userId: 'alice', issuedAt: 1000_000, expiresAt: 0 }, true],
    ['issued after', { userId: 'alice', issuedAt: 1001_000, expiresAt: 0 }, false],
    ['no iat', { userId: 'alice', expiresAt: 0 }, true],
    ['another user', { userId: 'bob', issuedAt: 1, expiresAt: 0 }, false],
    ['a revoked jti', { userId: 'bob', issuedAt: 1, expiresAt: 0, tokenId: 't1' }, true],
    ['another jti', { userId: 'bob', issuedAt: 1, expiresAt: 0, tokenId: 't2' }, false],
  ];
  for (const [name, facts, revoked] of cases) t.equal(list.isRevoked(facts), revoked, name);
  list.apply({ key: 'jti.t1', operation: 'DEL', value: new Uint8Array() });
  t.notOk(list.isRevoked({ userId: 'bob', expiresAt: 0, tokenId: 't1' }), 'a delete lifts it');
  put('user.carol', 'garbage');
  t.notOk(list.isRevoked({ userId: 'carol', expiresAt: 0 }), 'a malformed value revokes nothing');
  list.prune(1000 + 86_406, 86_405);
  t.notOk(
    list.isRevoked({ userId: 'alice', expiresAt: 0 }),
    'pruned once no token it names can live',
  );
});
