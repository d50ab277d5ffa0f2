/**
 * GATEWAY_WORKERS as `npm start` runs them: two real gateway processes listening on
 * ONE port (uWebSockets.js sets SO_REUSEPORT on Linux), each with its own gateway id.
 * The kernel spreads connections over both, REST answers whichever process a request
 * lands on, and a room spans the two as it spans gateways on different hosts: a
 * viewer on one process and the publisher on the other exchange offer and answer.
 *
 * Which process holds a connection is read from NATS, not from the clients: the
 * gateways' beacons (`gw.<id>.alive`) carry their connection counts, and each join
 * command names the gateway it came through.
 */
import t from 'tap';
import { decode } from '#shared/runtime/bus.js';
import type { RoomCommand } from '#shared/room/room.commands.js';
import { readGatewayBeacon } from '#shared/wire/gateway.beacon.js';
import { subjects } from '#shared/wire/subjects.js';
import type { Client } from '../../../test/helpers/client.js';
import { startNats } from '../../../test/helpers/nats.js';
import { freePort } from '../../../test/helpers/net.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

/** Clients opened on the shared port. */
const CLIENTS = 40;
const ROOM = 'w';

/** Polls `cond` until it holds; fails with `what` after `timeoutMs`. */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !cond();) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('two gateway processes on one port share the connections and the room', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const port = await freePort();
  // Beacons every second (a third of the timeout): the connection counts come quickly.
  const env = testEnv(nats.url, { GATEWAY_PORT: String(port), ROOM_GATEWAY_TIMEOUT_MS: '3000' });
  const ids = ['wk-1', 'wk-2'];
  const [, ...gws] = await Promise.all([
    startService(t, 'room', env),
    ...ids.map((id) => startService(t, 'gateway', { ...env, GATEWAY_ID: id })),
  ]);
  t.same(
    gws.map((g) => g.port),
    [port, port],
    'both processes listen on the same port',
  );
  const url = `ws://127.0.0.1:${port}/signaling`;
  const http = `http://127.0.0.1:${port}`;

  const sys = await startTestTools(t, nats.url);
  const connections = new Map<string, number>();
  sys.bus.subscribe(subjects.gatewayHeartbeatAll, (msg) => {
    const b = readGatewayBeacon(msg.subject, msg.data);
    connections.set(b.gateway, b.connections);
  });
  /** The gateway each user joined through, from the join commands on the room's subject. */
  const joinedVia = new Map<string, string>();
  sys.bus.subscribe(subjects.roomCommand(ROOM), (msg) => {
    const cmd = decode<RoomCommand>(msg.data);
    if (cmd.type === 'join') joinedVia.set(cmd.userId, cmd.gateway);
  });
  await sys.bus.flush();
  await sys.createRoom(ROOM, 'host');

  // Every HTTP request on a connection of its own: the kernel picks a process for each.
  const healthzSeen = new Set<string>();
  const token = await sys.token('rest', { view: [ROOM] });
  for (let i = 0; i < 40 && healthzSeen.size < ids.length; i++) {
    const health = await fetch(`${http}/healthz`, { headers: { connection: 'close' } });
    t.equal(health.status, 200);
    healthzSeen.add(((await health.json()) as { gateway: string }).gateway);
    const room = await fetch(`${http}/api/rooms/${ROOM}`, {
      headers: { connection: 'close', authorization: `Bearer ${token}` },
    });
    t.equal(room.status, 200, 'REST answers on whichever process');
  }
  t.same([...healthzSeen].sort(), ids, 'both processes answer /healthz on the shared port');

  const users = Array.from({ length: CLIENTS }, (_, i) => (i === 0 ? 'host' : `v${i}`));
  const c: Record<string, Client> = Object.fromEntries(
    await Promise.all(
      users.map(async (u) => [u, await sys.connect(url, u, { view: [ROOM] })] as const),
    ),
  );
  await until(
    () => ids.reduce((n, id) => n + (connections.get(id) ?? 0), 0) === CLIENTS,
    `the beacons count all ${CLIENTS} connections`,
  );
  for (const id of ids)
    t.ok((connections.get(id) ?? 0) > 0, `${id} got connections (${connections.get(id)})`);

  // The host publishes; every other client watches. Joins one by one: each `joined` lists the host.
  const peer: Record<string, string> = {};
  for (const u of users) {
    const j = await c[u]!.call({
      type: 'join',
      room: ROOM,
      role: u === 'host' ? 'publisher' : 'viewer',
    });
    t.equal(j.type, 'joined', `${u} joins`);
    peer[u] = String(j.peerId);
    if (u !== 'host')
      t.ok(
        (j.peers as { userId: string }[]).some((p) => p.userId === 'host'),
        `${u} sees the host in its joined reply`,
      );
  }
  t.equal(joinedVia.size, CLIENTS, 'every join command named its gateway');
  const hostGw = joinedVia.get('host');
  const across = users.filter((u) => u !== 'host' && joinedVia.get(u) !== hostGw);
  const beside = users.filter((u) => u !== 'host' && joinedVia.get(u) === hostGw);
  t.ok(across.length > 0, `viewers joined through the other process (${across.length})`);
  t.same(new Set(joinedVia.values()), new Set(ids), 'the room has members on both processes');

  // Offer and answer between the host and a viewer on the other process (through NATS),
  // and one beside it when there is one (the local fast path).
  for (const v of [across[0]!, ...beside.slice(0, 1)]) {
    const where = joinedVia.get(v) === hostGw ? 'the same process' : 'the other process';
    c[v]!.send({ type: 'offer', room: ROOM, to: peer.host, sdp: `offer from ${v}` });
    const offer = await c.host!.next((f) => f.type === 'offer' && f.from === peer[v]);
    t.equal(offer.sdp, `offer from ${v}`, `the host gets the offer of ${v} on ${where}`);
    c.host!.send({ type: 'answer', room: ROOM, to: peer[v], sdp: `answer to ${v}` });
    const answer = await c[v]!.next((f) => f.type === 'answer' && f.from === peer.host);
    t.equal(answer.sdp, `answer to ${v}`, `${v} gets the host's answer on ${where}`);
  }
  for (const u of users) t.same(c[u]!.seen('error'), [], `${u} was refused nothing`);
});
