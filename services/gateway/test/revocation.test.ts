/**
 * Revocation over real sockets and a real nats-server: an administrator revokes a
 * user's sessions or one token (`POST /api/revocations`); every gateway closes those
 * sockets with 4401 (after a TOKEN_REVOKED error), refuses the revoked tokens on
 * connect, refresh and REST, also after a restart (the `revocations` bucket); the
 * stream service kicks the user's SRS publisher through the SRS API and refuses its
 * later stream tokens.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '#shared/auth/tokens.js';
import { Client } from '../../../test/helpers/client.js';
import { TEST_SECRET } from '../../../test/helpers/system.js';
import { startStreamSystem, type StreamSystem } from '../../stream/test/stream.harness.js';

async function revoke(sys: StreamSystem, token: string | undefined, body: string) {
  const res = await fetch(`${sys.gatewayUrl}/api/revocations`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function restStatus(sys: StreamSystem, token: string) {
  const res = await fetch(`${sys.gatewayUrl}/api/rooms/r1`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { error?: { code: string } };
  return [res.status, body.error?.code];
}

t.test('POST /api/revocations: operators only, a checked body', async (t) => {
  const sys = await startStreamSystem(t);
  const admin = await sys.token('ops', { admin: ['*'] });
  const roomAdmin = await sys.token('mod', { admin: ['r1'] });
  const cases: [string, string | undefined, string, number, string | undefined][] = [
    ['no token', undefined, '{"userId":"alice"}', 401, 'AUTH_REQUIRED'],
    ['a user token', await sys.token('alice'), '{"userId":"bob"}', 403, 'NOT_ALLOWED'],
    ["one room's admin", roomAdmin, '{"userId":"bob"}', 403, 'NOT_ALLOWED'],
    ['not JSON', admin, '{', 400, 'BAD_JSON'],
    ['no field', admin, '{}', 400, 'BAD_FRAME'],
    ['a user id that is no id', admin, '{"userId":"a.b"}', 400, 'BAD_FRAME'],
    ['a jti without exp', admin, '{"jti":"j1"}', 400, 'BAD_FRAME'],
    ['both', admin, '{"userId":"a","jti":"j1","exp":1}', 400, 'BAD_FRAME'],
  ];
  for (const [name, token, body, status, code] of cases) {
    const r = await revoke(sys, token, body);
    t.same([r.status, (r.body.error as { code?: string } | undefined)?.code], [status, code], name);
  }
  const ok = await revoke(sys, admin, '{"jti":"j1","exp":2000000000}');
  t.same([ok.status, ok.body], [202, { revoked: { jti: 'j1', exp: 2000000000 } }], 'a token id');
});

t.test(
  'revoking a user closes its sockets on every gateway (4401) and kicks its publisher',
  async (t) => {
    const sys = await startStreamSystem(t);
    await sys.createRoom('r1');
    const second = await sys.addGateway();
    const admin = await sys.token('ops', { admin: ['*'] });
    const aliceToken = await sys.token('alice', { publish: ['r1'] });
    const here = await sys.client('alice', { publish: ['r1'] });
    const there = await sys.client('alice', undefined, second.url);
    const bob = await sys.client('bob');
    // alice publishes into r1 through SRS with the publish URL the gateway gave her.
    const urls = await fetch(`${sys.gatewayUrl}/api/rooms/r1/urls`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    const rtmp = ((await urls.json()) as { publish: { rtmp: string } }).publish.rtmp;
    const param = new URL(rtmp.replace(/^rtmp:/, 'http:')).search;
    const pub = await sys.srs.publish('r1', param);
    t.ok(pub.ok, 'alice publishes with her publish token');

    const r = await revoke(sys, admin, '{"userId":"alice"}');
    t.equal(r.status, 202, 'accepted');
    t.match(r.body, { revoked: { userId: 'alice', before: Number } });

    for (const [name, c] of [
      ['on this gateway', here],
      ['on another gateway', there],
    ] as const) {
      const closed = await c.waitClose();
      t.equal(closed.code, 4401, `${name}: closed with 4401`);
      t.equal(c.seen('error').at(-1)?.code, 'TOKEN_REVOKED', `${name}: told why first`);
    }
    t.notOk(bob.closed, "another user's socket stays open");

    await sys.until(
      'the publisher is kicked',
      () => sys.srs.apiRequests.includes(`DELETE /api/v1/clients/${pub.clientId}`),
      10_000,
    );
    t.notOk(sys.srs.hasClient(pub.clientId), 'SRS let the publisher go');
    await sys.until('the slot is free', () => sys.state('r1')?.publisher === null);

    const again = await sys.srs.publish('r1', param);
    t.notOk(again.ok, 'her publish token is refused from now on');
    t.match(JSON.parse(sys.srs.hooksOf('on_publish').at(-1)?.reply ?? '{}'), {
      error: 'TOKEN_REVOKED',
    });

    // Her old login token: refused on connect, refresh and REST.
    const reconnect = await Client.connect(`${sys.url}?access_token=${aliceToken}`);
    t.equal((await reconnect.waitClose()).code, 4401, 'connect: 4401');
    t.equal(reconnect.frames[0]?.code, 'TOKEN_REVOKED', 'connect: TOKEN_REVOKED');
    t.same(await restStatus(sys, aliceToken), [401, 'TOKEN_REVOKED'], 'REST: 401');
    const refresh = await bob.call({ type: 'auth', token: await sys.token('bob') });
    t.equal(refresh.type, 'authenticated', "bob's refresh is fine");

    // A token issued after the revocation (a later second) is a new session.
    await sleep(1100);
    const fresh = await sys.client('alice');
    t.notOk(fresh.closed, 'a new session after the revocation works');
  },
);

t.test('revoking one token (jti) closes only its sockets', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1');
  const admin = await sys.token('ops', { admin: ['*'] });
  const marked = await mintToken({
    secret: TEST_SECRET,
    issuer: sys.config.auth.issuer,
    audience: sys.config.auth.audience,
    sub: 'carol',
    extra: { jti: 'carol-1' },
  });
  const doomed = await Client.connect(`${sys.url}?access_token=${marked}`);
  await doomed.nextOf('authenticated');
  const kept = await sys.client('carol');
  const r = await revoke(sys, admin, '{"jti":"carol-1","exp":2000000000}');
  t.equal(r.status, 202);
  t.equal((await doomed.waitClose()).code, 4401, 'the revoked token closes with 4401');
  t.notOk(kept.closed, "the user's other token stays");
  const refresh = await kept.call({ type: 'auth', token: marked });
  t.same([refresh.type, refresh.code], ['error', 'TOKEN_REVOKED'], 'nor can it refresh a session');
  t.same(await restStatus(sys, marked), [401, 'TOKEN_REVOKED'], 'nor call REST');
});

t.test('revocations survive a gateway restart', async (t) => {
  const sys = await startStreamSystem(t);
  await sys.createRoom('r1');
  const admin = await sys.token('ops', { admin: ['*'] });
  const daveToken = await sys.token('dave');
  t.equal((await revoke(sys, admin, '{"userId":"dave"}')).status, 202);
  await sys.gateway.close();
  const next = await sys.addGateway();
  const c = await Client.connect(`${next.url}?access_token=${daveToken}`);
  t.equal((await c.waitClose()).code, 4401, 'a new gateway refuses the revoked token');
  t.equal(c.frames[0]?.code, 'TOKEN_REVOKED');
  const erin = await sys.client('erin', undefined, next.url);
  t.notOk(erin.closed, 'others connect as usual');
});
