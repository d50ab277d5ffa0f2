/**
 * Authentication over real sockets, by `access_token` and by `auth` frame alike:
 * every bad token gets its code and then 4401; a refresh keeps the user; an
 * expired token ends an open connection; no token ever reaches a log.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { Client } from '../../../test/helpers/client.js';
import { Opcode, RawWs } from '../../../test/helpers/rawws.js';
import { TEST_SECRET, startSystem } from '../../../test/helpers/system.js';
import { memberOf } from '#shared/room/room.state.js';

const MAX_TOKEN = 1024;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

t.test('bad tokens: the right code, then 4401, by query parameter and by auth frame', async (t) => {
  const logs: string[] = [];
  const sys = await startSystem(
    t,
    { AUTH_MAX_TOKEN_BYTES: String(MAX_TOKEN), AUTH_CLOCK_TOLERANCE_S: '0' },
    { logWrite: (line) => logs.push(line) },
  );
  const { issuer, audience } = sys.config.auth;
  /** A token signed as we like: any claims, algorithm and key. */
  const sign = (
    claims: Record<string, unknown>,
    o: { alg?: string; secret?: string; iss?: string; aud?: string; exp?: number | null } = {},
  ) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: o.alg ?? 'HS256', typ: 'JWT' })
      .setIssuer(o.iss ?? issuer)
      .setAudience(o.aud ?? audience)
      .setIssuedAt();
    if (o.exp !== null) jwt.setExpirationTime(o.exp ?? nowS() + 600);
    return jwt.sign(new TextEncoder().encode(o.secret ?? TEST_SECRET));
  };
  const cases: { name: string; token: () => Promise<string | undefined>; code: string }[] = [
    { name: 'missing', token: async () => undefined, code: 'TOKEN_INVALID' },
    { name: 'not a JWT', token: async () => 'not-a-jwt', code: 'TOKEN_INVALID' },
    {
      name: 'expired',
      token: () => sys.token('eve', undefined, { ttlS: -60 }),
      code: 'TOKEN_EXPIRED',
    },
    {
      name: 'not yet valid (nbf)',
      token: () => sys.token('eve', undefined, { extra: { nbf: nowS() + 600 } }),
      code: 'TOKEN_NOT_YET_VALID',
    },
    {
      name: 'forged signature',
      token: () => sign({ sub: 'eve' }, { secret: 'another-secret-of-at-least-32-bytes!!' }),
      code: 'TOKEN_INVALID',
    },
    {
      name: 'payload swapped under a valid signature',
      token: async () => {
        const [h, , s] = (await sys.token('eve')).split('.');
        const p = b64({ sub: 'admin', iss: issuer, aud: audience, exp: nowS() + 600 });
        return `${h}.${p}.${s}`;
      },
      code: 'TOKEN_INVALID',
    },
    {
      name: 'wrong audience',
      token: () => sign({ sub: 'eve' }, { aud: 'other' }),
      code: 'TOKEN_INVALID',
    },
    {
      name: 'wrong issuer',
      token: () => sign({ sub: 'eve' }, { iss: 'other' }),
      code: 'TOKEN_INVALID',
    },
    {
      name: 'alg none',
      token: async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'eve', iss: issuer, aud: audience, exp: nowS() + 600 })}.`,
      code: 'TOKEN_INVALID',
    },
    {
      name: 'alg HS512 (not allowed)',
      token: () => sign({ sub: 'eve' }, { alg: 'HS512' }),
      code: 'TOKEN_INVALID',
    },
    { name: 'no exp', token: () => sign({ sub: 'eve' }, { exp: null }), code: 'TOKEN_INVALID' },
    { name: 'no sub', token: () => sign({}), code: 'TOKEN_INVALID' },
    {
      name: 'over AUTH_MAX_TOKEN_BYTES',
      token: () => sign({ sub: 'eve', pad: 'x'.repeat(MAX_TOKEN) }),
      code: 'TOKEN_INVALID',
    },
    {
      name: 'malformed roomcast claim',
      token: () => sign({ sub: 'eve', roomcast: { publish: 'r1' } }),
      code: 'TOKEN_INVALID',
    },
    { name: 'sub with a dot', token: () => sign({ sub: 'eve.admin' }), code: 'TOKEN_INVALID' },
    { name: 'sub with a wildcard', token: () => sign({ sub: '*' }), code: 'TOKEN_INVALID' },
    { name: 'sub too long', token: () => sign({ sub: 'e'.repeat(65) }), code: 'TOKEN_INVALID' },
    { name: 'sub not a string', token: () => sign({ sub: 42 }), code: 'TOKEN_INVALID' },
  ];
  const used: string[] = [];
  for (const c of cases) {
    const token = await c.token();
    if (token !== undefined) used.push(token);

    const q = await Client.connect(`${sys.url}?access_token=${encodeURIComponent(token ?? '')}`);
    const qc = await q.waitClose();
    t.same(
      q.frames.map((f) => [f.type, f.code]),
      [['error', c.code]],
      `query, ${c.name}: ${String(q.frames[0]?.message)}`,
    );
    t.equal(qc.code, 4401, `query, ${c.name}: 4401`);

    const f = await Client.connect(sys.url);
    f.send(token === undefined ? { type: 'auth', id: 'a1' } : { type: 'auth', token, id: 'a1' });
    const fc = await f.waitClose();
    t.same(
      f.frames.map((x) => [x.type, x.code, x.id]),
      [['error', c.code, 'a1']],
      `frame, ${c.name}: ${String(f.frames[0]?.message)}`,
    );
    t.equal(fc.code, 4401, `frame, ${c.name}: 4401`);
  }

  const failures = logs.filter((l) => l.includes('"msg":"authentication failed"'));
  t.equal(failures.length, 2 * cases.length, 'every refusal is logged, with its code');
  for (const c of cases) {
    t.ok(
      failures.some((l) => l.includes(`"code":"${c.code}"`)),
      `${c.code} is in the log`,
    );
  }
  // Every part of every token: a log line must contain none of them.
  const secrets = used.flatMap((tok) => [tok, ...tok.split('.')]).filter((s) => s.length >= 16);
  const leaks = logs.filter((l) => secrets.some((s) => l.includes(s)));
  t.same(leaks, [], `no token in ${logs.length} log lines`);
  t.notOk(
    logs.some((l) => l.includes(TEST_SECRET)),
    'nor the secret',
  );
});

t.test(
  'refresh: same sub refreshes, another sub is refused, a bad one leaves the session',
  async (t) => {
    const sys = await startSystem(t);
    await sys.createRoom('r1', 'owner');
    const alice = await sys.client('alice');
    const watcher = await sys.client('watcher');
    await watcher.call({ type: 'join', room: 'r1', role: 'viewer' });

    const same = await alice.call({
      type: 'auth',
      token: await sys.token('alice', { view: ['*'] }),
    });
    t.same([same.type, same.userId], ['authenticated', 'alice'], 'same sub: refreshed');

    const other = await alice.call({ type: 'auth', token: await sys.token('mallory') });
    t.same([other.type, other.code], ['error', 'ALREADY_AUTHENTICATED'], 'another sub: refused');

    const expired = await alice.call({
      type: 'auth',
      token: await sys.token('alice', undefined, { ttlS: -60 }),
    });
    t.same([expired.type, expired.code], ['error', 'TOKEN_EXPIRED'], 'a bad refresh is refused');

    const forged = await alice.call({ type: 'auth', token: 'x'.repeat(5000) });
    t.same([forged.type, forged.code], ['error', 'TOKEN_INVALID'], 'an overlong refresh too');

    t.notOk(alice.closed, '... but the session goes on');
    const joined = await alice.call({ type: 'join', room: 'r1', role: 'viewer' });
    t.equal(joined.type, 'joined');
    // The audience is not announced: the room itself says who joined.
    const seen = memberOf(sys.room.stateOf('r1'), joined.type === 'joined' ? joined.peerId : '');
    t.equal(seen?.userId, 'alice', 'still alice: the refused token changed nothing');
    t.ok(watcher, 'the other member stays in the room');
  },
);

t.test(
  'a token that expires on an open connection: TOKEN_EXPIRED, then 4401; a refresh saves it',
  async (t) => {
    const sys = await startSystem(t, { AUTH_CLOCK_TOLERANCE_S: '0' });
    // At least a second of life: exp is a whole second at least one second ahead.
    const short = await sys.token('shorty', undefined, { ttlS: 2 });
    const exp = decodeJwt(short).exp ?? 0;
    const doomed = await Client.connect(`${sys.url}?access_token=${short}`);
    const saved = await Client.connect(`${sys.url}?access_token=${short}`);
    t.equal((await doomed.nextOf('authenticated')).userId, 'shorty', 'accepted while valid');
    await saved.nextOf('authenticated');
    t.equal(
      (await saved.call({ type: 'auth', token: await sys.token('shorty') })).type,
      'authenticated',
      'refreshed with a long-lived token',
    );

    const closed = await doomed.waitClose();
    t.equal(closed.code, 4401);
    const err = doomed.seen('error');
    t.same(
      err.map((f) => f.code),
      ['TOKEN_EXPIRED'],
      'the error frame comes first',
    );
    t.ok(Date.now() >= exp * 1000, 'not before exp');

    // The sweep that cut `doomed` has also looked at `saved`; give it one more round.
    await new Promise((r) => setTimeout(r, 1200));
    t.notOk(saved.closed, 'the refreshed connection lives on past the first token');
    t.equal((await saved.call({ type: 'ping' })).type, 'pong');
    saved.close();
  },
);

t.test(
  'frames sent before `authenticated` wait for the upgrade token: answered after it, in order; none with a bad token',
  async (t) => {
    // A JWKS endpoint that answers in 1 s: the first EdDSA token takes that long to verify,
    // so frames sent as soon as the upgrade is answered come while it is being verified.
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
    const jwks = createServer((_req, res) => {
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      }, 1000);
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    t.teardown(() => jwks.close());
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const sys = await startSystem(t, { AUTH_JWKS_URL: jwksUrl });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setSubject('early')
      .setIssuer(sys.config.auth.issuer)
      .setAudience(sys.config.auth.audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const pings = ['p1', 'p2', 'p3'].map((id) => ({ type: 'ping', id }));

    const good = await RawWs.connect(sys.port, `/signaling?access_token=${token}`);
    t.teardown(() => good.destroy());
    for (const p of pings) good.sendJson(p);
    await good.next((f) => f.opcode === Opcode.text && f.payload.includes('"p3"'));
    t.same(
      good.json().map((f) => [f.type, f.id]),
      [
        ['authenticated', undefined],
        ['pong', 'p1'],
        ['pong', 'p2'],
        ['pong', 'p3'],
      ],
      'authenticated first, then every frame in order: none refused as AUTH_REQUIRED',
    );

    const bad = await RawWs.connect(sys.port, '/signaling?access_token=not-a-token');
    for (const p of pings) bad.sendJson(p);
    await bad.waitEnd();
    t.same(
      bad.json().map((f) => [f.type, f.code]),
      [['error', 'TOKEN_INVALID']],
      'a bad token: its refusal only, none of the frames is answered',
    );
    t.equal(bad.closeCode, 4401);
  },
);
