/**
 * The production shape of NATS: three routed nodes, every stream and bucket with
 * NATS_REPLICAS=3, the room service and a gateway given all three seeds. Under
 * traffic (rooms created over REST, joined over WebSocket) the node leading
 * ROOM_EVENTS is killed with SIGKILL: both services keep serving through the other
 * two, every refusal meanwhile is UNAVAILABLE, and every acknowledged create and join
 * is in the room's live state and in ROOM_EVENTS exactly once.
 */
import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { RoomEventBatch } from '#shared/room/room.events.js';
import type { RoomReplies } from '#shared/room/room.commands.js';
import { bucketNames, streamNames } from '#shared/runtime/streams.js';
import { stateHash } from '../services/room/room.actor.js';
import { JetStreamRoomLog } from '../services/room/room.log.js';
import { rebuildRoom } from '../services/room/room.recovery.js';
import { startNatsCluster } from './helpers/nats.cluster.js';
import { startService } from './helpers/processes.js';
import { startTestTools, testEnv } from './helpers/system.js';

t.test('a 3-node cluster loses the ROOM_EVENTS leader under traffic', async (t) => {
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.stop());
  const env = testEnv(cluster.url, { NATS_REPLICAS: '3', ROOM_LEASE_MS: '3000' });
  const [room, gw] = await Promise.all([
    startService(t, 'room', env),
    startService(t, 'gateway', env),
  ]);
  const sys = await startTestTools(t, cluster.url, { NATS_REPLICAS: '3' });
  const jsm = await jetstreamManager(sys.bus.nc);
  const info = await jsm.streams.info(streamNames.roomEvents);
  t.equal(info.config.num_replicas, 3, 'ROOM_EVENTS has three replicas');
  const live = await jsm.streams.info(streamNames.roomLive);
  t.equal(live.config.num_replicas, 3, 'ROOM_LIVE has three replicas');
  for (const bucket of [
    bucketNames.roomSnapshots,
    bucketNames.roomEnded,
    bucketNames.roomLeases,
    bucketNames.revocations,
  ]) {
    const status = await (await new Kvm(sys.bus.nc).open(bucket)).status();
    t.equal(status.replicas, 3, `${bucket} has three replicas`);
  }

  const api = `http://127.0.0.1:${gw.port}/api/rooms`;
  const ownerToken = await sys.token('owner', { create: true });
  const created: string[] = [];
  /** Acknowledged joins: room → peer ids. */
  const joined = new Map<string, string[]>();
  const failures = new Map<string, number>();
  const fail = (code: string) => failures.set(code, (failures.get(code) ?? 0) + 1);
  let stop = false;
  let n = 0;
  const worker = async (w: number) => {
    while (!stop) {
      const roomId = `c${w}-${n++}`;
      try {
        const r = await fetch(api, {
          method: 'POST',
          headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ roomId, title: roomId, isPrivate: false }),
        });
        const body = (await r.json()) as { error?: { code: string } };
        if (r.status !== 201) {
          fail(body.error?.code ?? `HTTP ${r.status}`);
          await new Promise((res) => setTimeout(res, 100));
          continue;
        }
        created.push(roomId);
        joined.set(roomId, []);
        for (const user of ['v1', 'v2']) {
          const c = await sys.connect(gw.url, user, { view: [roomId] });
          const j = await c.call({ type: 'join', room: roomId, role: 'viewer' }, 15_000);
          if (j.type === 'joined') joined.get(roomId)?.push(j.peerId);
          else fail(j.type === 'error' ? j.code : j.type);
        }
      } catch (err) {
        fail(err instanceof Error ? err.message.slice(0, 60) : 'OTHER');
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  const until = async (cond: () => boolean, what: string) => {
    for (const end = Date.now() + 60_000; !cond();) {
      if (Date.now() > end)
        throw new Error(
          `not within 60 s: ${what} (${JSON.stringify(Object.fromEntries(failures))})\n${room.lines
            .filter((l) => !l.includes(`"level":"info"`))
            .slice(-40)
            .join('\n')}\n${gw.lines.slice(-15).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until(() => created.length >= 8, 'rooms are created before the kill');

  const leader = (await jsm.streams.info(streamNames.roomEvents)).cluster?.leader;
  const victim = cluster.nodes.find((node) => node.name === leader) ?? cluster.nodes[0];
  if (victim === undefined) throw new Error('no node');
  await victim.kill(true);
  t.pass(`SIGKILLed ${victim.name}, the ROOM_EVENTS leader`);
  const atKill = created.length;
  await until(() => created.length >= atKill + 12, 'rooms are created again after the kill');
  stop = true;
  await Promise.all(workers);
  t.pass(`${created.length - atKill} rooms created after the kill`);
  t.same(
    [...failures.keys()].filter((code) => code !== 'UNAVAILABLE'),
    [],
    `meanwhile every refusal is UNAVAILABLE: ${JSON.stringify(Object.fromEntries(failures))}`,
  );

  // The node comes back before the log is read through: with one node of three down,
  // nats-server 2.9 puts about one read consumer in three on the dead node (a timeout
  // each; reads retry, but forty rooms read so would fail now and then). What this test
  // is about happened above, while the node was down.
  await victim.restart();
  t.pass(`${victim.name} is back and healthy`);
  await cluster.waitHealthy();

  const log = await JetStreamRoomLog.open(sys.bus.nc, {
    writer: 'cluster-test',
    replicas: 3,
    timeoutMs: 5000,
    readOnly: true,
  });
  const batches = new Map<string, number[]>();
  /** How often each peer's member_joined is in the log, by room. */
  const joinsLogged = new Map<string, number>();
  await log.scan(0, (b) => {
    const batch: RoomEventBatch = b.batch;
    const seqs = batches.get(batch.roomId) ?? [];
    seqs.push(batch.seq);
    batches.set(batch.roomId, seqs);
    for (const e of batch.events)
      if (e.type === 'member_joined') {
        const key = `${batch.roomId}/${e.peerId}`;
        joinsLogged.set(key, (joinsLogged.get(key) ?? 0) + 1);
      }
  });
  // UNAVAILABLE means "try again" (a room whose append failed is reloaded from its log
  // first, and that read may outlast one request while a node is down).
  const stateOf = async (roomId: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await sys.command<RoomReplies['state']>(roomId, { type: 'state' });
      } catch (err) {
        if (attempt >= 10)
          throw new Error(
            `${roomId}: ${String(err)}\n${room.lines
              .filter((l) => !l.includes(`"level":"info"`))
              .slice(-30)
              .join('\n')}`,
          );
      }
    }
  };
  let acknowledged = 0;
  for (const roomId of created) {
    const seqs = batches.get(roomId) ?? [];
    t.same(
      seqs,
      seqs.map((_, i) => i + 1),
      `${roomId}: batches 1..${seqs.length}, none twice`,
    );
    const r = await stateOf(roomId);
    if (!r.ok) {
      t.fail(`${roomId}: ${r.error.code}`);
      continue;
    }
    for (const peerId of joined.get(roomId) ?? []) {
      const times = joinsLogged.get(`${roomId}/${peerId}`) ?? 0;
      if (times !== 1)
        t.fail(`${roomId}: ${peerId}'s acknowledged join is in the log ${times} times`);
      else acknowledged++;
    }
    const { entry } = await rebuildRoom(log, roomId);
    t.equal(entry && stateHash(entry.actor), r.hash, `${roomId}: the live room equals its log`);
  }
  t.equal(
    acknowledged,
    [...joined.values()].flat().length,
    `every acknowledged join (${acknowledged}) is in ROOM_EVENTS exactly once`,
  );
});
