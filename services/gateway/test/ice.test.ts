/**
 * ICE servers from the gateway: in `authenticated` on connect, again with new TURN
 * credentials on a token refresh (never past the token's expiry), and from
 * `GET /api/ice-servers`. That coturn takes these credentials is test/turn/'s.
 */
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { IceServer } from '#shared/wire/protocol.js';
import { Client } from '../../../test/helpers/client.js';
import { startSystem } from '../../../test/helpers/system.js';

const TURN_SECRET = 'turn-secret-for-the-ice-test-0123';
const env = {
  GATEWAY_ICE_SERVERS: 'stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp',
  TURN_SECRET,
  TURN_TTL_S: '600',
};

/** The TURN entry's expiry (unix s) and user, after checking its password is coturn's. */
function turnEntry(t: Test, servers: IceServer[]): { expiresAt: number; user: string } {
  t.same(servers[0], { urls: ['stun:127.0.0.1:3478'] }, 'STUN: URLs only');
  const turn = servers[1];
  t.same(turn?.urls, ['turn:127.0.0.1:3478?transport=udp']);
  const username = turn?.username ?? '';
  t.equal(
    turn?.credential,
    createHmac('sha1', TURN_SECRET).update(username).digest('base64'),
    'the password is HMAC-SHA1(TURN_SECRET, username)',
  );
  const [expiry, user] = username.split(':');
  return { expiresAt: Number(expiry), user: user ?? '' };
}

t.test('authenticated carries the ICE servers; a refresh brings new credentials', async (t) => {
  const logs: string[] = [];
  const sys = await startSystem(t, env, { logWrite: (line) => logs.push(line) });
  const first = await sys.token('alice', undefined, { ttlS: 120 });
  const c = await Client.connect(`${sys.url}?access_token=${first}`);
  t.teardown(() => c.drop());
  const hello = await c.nextOf('authenticated');
  const a = turnEntry(t, hello.iceServers);
  t.equal(a.user, 'alice', 'username <expiry>:<userId>');
  t.equal(a.expiresAt, decodeJwt(first).exp, 'a token living less than TURN_TTL_S bounds it');

  const longer = await sys.token('alice', undefined, { ttlS: 3600 });
  const refreshed = await c.call({ type: 'auth', token: longer, id: 'r1' });
  t.equal(refreshed.type, 'authenticated');
  if (refreshed.type !== 'authenticated') return;
  t.equal(refreshed.id, 'r1', 'the refresh is answered by its id');
  const b = turnEntry(t, refreshed.iceServers);
  t.ok(b.expiresAt > a.expiresAt, 'new credentials, with a later expiry');
  t.ok(b.expiresAt <= Math.ceil(Date.now() / 1000) + 600, 'at most TURN_TTL_S ahead');
  t.ok(b.expiresAt <= (decodeJwt(longer).exp ?? 0), "never past the token's expiry");

  const res = await fetch(`http://127.0.0.1:${sys.port}/api/ice-servers`, {
    headers: { authorization: `Bearer ${longer}` },
  });
  t.equal(res.status, 200);
  const rest = turnEntry(t, ((await res.json()) as { iceServers: IceServer[] }).iceServers);
  t.equal(rest.user, 'alice', 'GET /api/ice-servers: the same for the bearer');

  const anon = await fetch(`http://127.0.0.1:${sys.port}/api/ice-servers`);
  t.equal(anon.status, 401, 'and nothing without a token');
  t.notOk(
    logs.some((l) => l.includes(TURN_SECRET)),
    `TURN_SECRET is in none of ${logs.length} log lines`,
  );
});

t.test('no GATEWAY_ICE_SERVERS: an empty list', async (t) => {
  const sys = await startSystem(t);
  const c = await Client.connect(`${sys.url}?access_token=${await sys.token('bob')}`);
  t.teardown(() => c.drop());
  t.same((await c.nextOf('authenticated')).iceServers, []);
});
