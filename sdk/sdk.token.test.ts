import t from 'tap';
import { backoffMs, refreshDelayMs, tokenExpiryMs } from './sdk.token.js';
import { fakeJwt } from './test/sdk.fakes.js';

t.test('exp is read off the token', async (t) => {
  t.equal(tokenExpiryMs(fakeJwt({ exp: 1_900_000_000, sub: 'ü-ß' })), 1_900_000_000_000);
  t.equal(tokenExpiryMs(fakeJwt({ sub: 'a' })), undefined, 'no exp');
  t.equal(tokenExpiryMs('not a token'), undefined);
  t.equal(tokenExpiryMs('a.%%%.c'), undefined);
});

t.test('refresh: the lead before expiry, at most a third of what is left', async (t) => {
  const now = 1_000_000;
  t.equal(refreshDelayMs(now + 3_600_000, now, 60_000), 3_540_000, 'an hour: a minute before');
  t.equal(refreshDelayMs(now + 3000, now, 60_000), 2000, '3 s: after 2 s');
  t.equal(refreshDelayMs(now - 1000, now, 60_000), 250, 'expired: at once (the minimum)');
});

t.test('backoff: exponential, capped, jittered within [cap/2, cap]', async (t) => {
  for (let attempt = 1; attempt <= 40; attempt++) {
    const cap = Math.min(10_000, 500 * 2 ** (attempt - 1));
    const d = backoffMs(attempt, 500, 10_000);
    t.ok(d >= cap / 2 && d <= cap, `attempt ${attempt}: ${d} in [${cap / 2}, ${cap}]`);
  }
});
