/**
 * A gateway's NATS interest does not grow with a room's members: one subscription
 * to the room's broadcasts and one to its signals (`room.<id>.sig.*`), however
 * many of its connections are in the room, and none left once the last one goes.
 * Counted by nats-server itself (its monitoring endpoint, /connz?subs=1), on a
 * real gateway process.
 */
import t from 'tap';
import type { Client } from '../../../test/helpers/client.js';
import { startNats } from '../../../test/helpers/nats.js';
import { freePort } from '../../../test/helpers/net.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

interface Connz {
  connections: { name?: string; subscriptions_list?: string[] }[];
}

t.test('N members of one room cost a gateway O(1) subscriptions', async (t) => {
  const monitor = await freePort();
  const nats = await startNats({ config: `http_port: ${monitor}` });
  t.teardown(() => nats.stop());
  const env = testEnv(nats.url);
  const [, gw] = await Promise.all([startService(t, 'room', env), startService(t, 'gateway', env)]);
  const sys = await startTestTools(t, nats.url);
  await sys.createRoom('big', 'host');

  /** The gateway connection's subscriptions, as nats-server holds them. */
  const gatewaySubs = async (): Promise<string[]> => {
    const res = await fetch(`http://127.0.0.1:${monitor}/connz?subs=1&limit=1000`);
    const connz = (await res.json()) as Connz;
    const conns = connz.connections.filter((c) => c.name?.startsWith('gateway') === true);
    if (conns.length !== 1) throw new Error(`gateway connections: ${JSON.stringify(conns)}`);
    return conns[0]?.subscriptions_list ?? [];
  };
  const roomSubs = async () =>
    (await gatewaySubs()).filter((s) => s.startsWith('room.big.')).sort();

  const before = (await gatewaySubs()).length;
  const clients: Client[] = [];
  const join = async (sub: string, role: 'publisher' | 'viewer') => {
    const c = await sys.connect(gw.url, sub, { view: ['big'], publish: ['big'] });
    const j = await c.call({ type: 'join', room: 'big', role });
    t.equal(j.type, 'joined', `${sub} joins`);
    clients.push(c);
  };
  await join('host', 'publisher');
  await join('v0', 'viewer');
  const withTwo = await roomSubs();
  t.same(withTwo, ['room.big.bcast', 'room.big.sig.*'], 'the room: its news and its signals');
  await Promise.all(Array.from({ length: 48 }, (_, i) => join(`v${i + 1}`, 'viewer')));
  t.equal(clients.length, 50);
  t.same(await roomSubs(), withTwo, '50 members: the same two subscriptions');
  t.ok((await gatewaySubs()).length <= before + 3, 'and no more in all than before the room');

  await Promise.all(clients.map((c) => c.call({ type: 'leave', room: 'big' })));
  // The unsubscribes reach the server after the `left` replies: poll briefly.
  for (let i = 0; i < 50 && (await roomSubs()).length > 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  t.same(await roomSubs(), [], 'none once the last member left');
});
