/**
 * The per-address limit before authentication (GATEWAY_PREAUTH_PER_ADDRESS): one
 * address that opens connections and never authenticates holds its limit and no
 * more, while another address still connects; authenticating (or closing) gives
 * the slot back. Sources are real loopback addresses (127.0.0.2, 127.0.0.3).
 */
import t from 'tap';
import WebSocket from 'ws';
import { Client } from '../../../test/helpers/client.js';
import { until } from '../../../test/helpers/deadline.js';
import { startSystem } from '../../../test/helpers/system.js';

const LIMIT = 3;
const A = '127.0.0.2';
const B = '127.0.0.3';

/** Opens a connection from `localAddress` expecting a refusal: its HTTP status and body, or undefined if it opened. */
function refusal(
  url: string,
  localAddress: string,
  opened: WebSocket[],
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
    ws.once('open', () => {
      opened.push(ws);
      resolve(undefined);
    });
  });
}

t.test('one address holds its limit, another still connects; auth gives slots back', async (t) => {
  const sys = await startSystem(t, { GATEWAY_PREAUTH_PER_ADDRESS: String(LIMIT) });
  const held: Client[] = [];
  const opened: WebSocket[] = [];
  t.teardown(() => {
    held.forEach((c) => c.drop());
    opened.forEach((ws) => ws.terminate());
  });
  const connect = async (address: string): Promise<Client> => {
    const c = await Client.connect(sys.url, { localAddress: address });
    held.push(c);
    return c;
  };
  const fromA: Client[] = [];
  for (let i = 0; i < LIMIT; i++) fromA.push(await connect(A));
  const refused = await refusal(sys.url, A, opened);
  t.ok(refused, `connection ${LIMIT + 1} from ${A} is refused before the upgrade`);
  t.equal(refused?.status, 429, 'HTTP 429');
  t.same(JSON.parse(refused?.body ?? '{}'), {
    error: {
      code: 'RATE_LIMITED',
      message: 'too many connections from this address waiting to authenticate',
    },
  });

  // A token on the URL opens authenticated: the limit is only for connections without one.
  const aliceWithToken = await Client.connect(`${sys.url}?access_token=${await sys.token('al')}`, {
    localAddress: A,
  });
  held.push(aliceWithToken);
  t.equal((await aliceWithToken.nextOf('authenticated')).userId, 'al', `${A} with access_token`);

  // Another address is not affected: it connects, with a token on the URL or in a frame.
  const fromB = await connect(B);
  fromB.send({ type: 'auth', token: await sys.token('bob'), id: 'a1' });
  t.equal((await fromB.nextOf('authenticated')).userId, 'bob', `${B} authenticates`);
  const bobToken = await sys.token('bob');
  const b2 = await connect(B);
  t.ok(b2, `${B} connects again`);
  const withToken = await Client.connect(`${sys.url}?access_token=${bobToken}`, {
    localAddress: B,
  });
  held.push(withToken);
  t.equal((await withToken.nextOf('authenticated')).userId, 'bob', 'and with access_token');

  // Authenticating gives the slot back: A may open one more per authenticated connection.
  for (const [i, c] of fromA.slice(0, 2).entries()) {
    c.send({ type: 'auth', token: await sys.token(`alice${i}`), id: `a${i}` });
    await c.nextOf('authenticated');
  }
  await connect(A);
  await connect(A);
  t.ok(
    await refusal(sys.url, A, opened),
    `at ${LIMIT} unauthenticated again, ${A} is refused again`,
  );

  // Closing gives it back too.
  const last = fromA[2];
  last?.drop();
  const before = sys.gateway.connections;
  await until(() => sys.gateway.connections < before, 'the gateway saw the close');
  t.ok(await connect(A), `after a close ${A} connects again`);
});

t.test('0 switches the limit off', async (t) => {
  const sys = await startSystem(t, { GATEWAY_PREAUTH_PER_ADDRESS: '0' });
  const clients: Client[] = [];
  t.teardown(() => clients.forEach((c) => c.drop()));
  for (let i = 0; i < 20; i++) clients.push(await Client.connect(sys.url, { localAddress: A }));
  t.equal(clients.length, 20, '20 unauthenticated connections from one address');
});
