/** TURN REST API credentials: a known vector, and the expiry bounded by TURN_TTL_S and the token. */
import t from 'tap';
import { createHmac } from 'node:crypto';
import { loadConfig } from '#config/config.js';
import { iceServersFor, turnCredential } from './turn.credentials.js';

const SECRET = 'north-secret-0123456789';

t.test('the credential is base64(HMAC-SHA1(secret, "<expiry>:<user>"))', async (t) => {
  // Computed apart: `echo -n 1700000000:alice | openssl dgst -sha1 -hmac north-secret-0123456789 -binary | base64`
  t.same(turnCredential(SECRET, 'alice', 1_700_000_000), {
    username: '1700000000:alice',
    credential: 'rX4Zi/ISDg1rXPMR9j/yhCbVFZ4=',
    expiresAt: 1_700_000_000,
  });
  t.equal(turnCredential(SECRET, 'alice', 1_700_000_000.9).username, '1700000000:alice');
});

t.test('STUN URLs as one entry, TURN URLs with credentials as another', async (t) => {
  const { ice } = loadConfig({
    GATEWAY_ICE_SERVERS:
      'stun:turn.example:3478,turn:turn.example:3478?transport=udp,turns:turn.example:5349',
    TURN_SECRET: SECRET,
    TURN_TTL_S: '600',
  });
  const now = 1_700_000_000_000;
  const servers = iceServersFor(ice, 'alice', now + 3_600_000, now);
  t.same(servers, [
    { urls: ['stun:turn.example:3478'] },
    {
      urls: ['turn:turn.example:3478?transport=udp', 'turns:turn.example:5349'],
      username: '1700000600:alice',
      credential: createHmac('sha1', SECRET).update('1700000600:alice').digest('base64'),
    },
  ]);
});

t.test('credentials never outlive the token', async (t) => {
  const { ice } = loadConfig({
    GATEWAY_ICE_SERVERS: 'turn:turn.example:3478',
    TURN_SECRET: SECRET,
  });
  const now = 1_700_000_000_000;
  const [turn] = iceServersFor(ice, 'bob', now + 90_500, now);
  t.equal(turn?.username, '1700000090:bob', 'the token expires before TURN_TTL_S');
});

t.test('nothing configured, nothing handed out', async (t) => {
  t.same(iceServersFor(loadConfig({}).ice, 'alice', Date.now() + 60_000), []);
  const { ice } = loadConfig({ GATEWAY_ICE_SERVERS: 'stun:stun.example:3478' });
  t.same(iceServersFor(ice, 'alice', Date.now() + 60_000), [{ urls: ['stun:stun.example:3478'] }]);
});
