import t from 'tap';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { createLogger } from '#shared/runtime/log.js';
import { partitionOf } from '../room.leases.js';
import { KvLeases } from '../room.leases.kv.js';
import { Kvm } from '@nats-io/kv';
import { bucketNames } from '#shared/runtime/streams.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startNatsCluster } from '../../../test/helpers/nats.cluster.js';
import { until, waitUntil } from '../../../test/helpers/deadline.js';

const log = createLogger('test', 'error');

/** Leases of `replicaId` over `partitions`; one replica of the bucket unless said. */
const openLeases = (
  nc: NatsConnection,
  replicaId: string,
  o: { partitions: number; leaseMs: number; replicas?: number },
) => KvLeases.open(nc, { replicaId, replicas: 1, log, ...o });

t.test(
  'partitions are stable: the same room id, the same partition, spread over all',
  async (t) => {
    t.equal(partitionOf('demo', 16), partitionOf('demo', 16));
    const hit = new Set(Array.from({ length: 1000 }, (_, i) => partitionOf(`room-${i}`, 16)));
    t.equal(hit.size, 16, 'a thousand rooms touch every partition');
  },
);

t.test(
  'leases: one owner per partition; a restarted replica with the same id takes its own back at once',
  async (t) => {
    const nats = await startNats();
    const nc = await connect(nats.connectOptions());
    const opened: KvLeases[] = [];
    t.teardown(async () => {
      for (const l of opened) await l.stop().catch(() => undefined);
      await nc.close();
      await nats.stop();
    });
    const open = async (replicaId: string) => {
      const l = await openLeases(nc, replicaId, { partitions: 4, leaseMs: 60_000 });
      opened.push(l);
      return l;
    };
    const gains = (l: KvLeases) =>
      new Promise<number[]>((resolve) => {
        void l.start((gained) => resolve(gained));
      });

    const first = await open('stable');
    t.same((await gains(first)).sort(), [0, 1, 2, 3], 'the only replica takes every partition');
    const other = await open('other');
    // `other` starts while `stable` holds everything with a 60 s lease: it may take nothing yet.
    let otherGained: number[] = [];
    void other.start((g) => {
      otherGained = [...otherGained, ...g];
    });
    await new Promise((r) => setTimeout(r, 300));
    t.same(otherGained, [], 'held partitions are not taken while their lease runs');

    // `stable` crashes (no release); a new process with the same id comes back.
    const again = await open('stable');
    t.equal(
      (await gains(again)).length,
      2,
      'its share of its own partitions comes back at once, without waiting 60 s',
    );
    // The rest are freed, not taken (taking them only to give them back had the service
    // load their rooms and drop them): the other replica takes them at once.
    await until(
      () => [0, 1, 2, 3].filter((p) => other.owns(p)).length === 2,
      'the other replica takes the rest',
    );
    const mine = [0, 1, 2, 3].filter((p) => again.owns(p));
    t.equal(mine.length, 2, 'it keeps its fair share of two live replicas');
    t.notOk(
      mine.some((p) => other.owns(p)),
      'never two owners',
    );
  },
);

t.test('a partition is owned only once the listener has heard it was gained', async (t) => {
  const nats = await startNats();
  const nc = await connect(nats.connectOptions());
  const leases = await openLeases(nc, 'watched', { partitions: 8, leaseMs: 60_000 });
  t.teardown(async () => {
    await leases.stop();
    await nc.close();
    await nats.stop();
  });
  // Watch owns() on every turn while the first tick takes the partitions one KV
  // round trip after the other. The service sets up the wait for a partition's rooms
  // when it is told; a command answered before that would find no rooms.
  const told = new Set<number>();
  const early = new Set<number>();
  let watching = true;
  let turns = 0;
  const watch = () => {
    turns++;
    for (let p = 0; p < leases.partitions; p++) if (leases.owns(p) && !told.has(p)) early.add(p);
    if (watching) setImmediate(watch);
  };
  watch();
  await leases.start((gained) => {
    for (const p of gained) told.add(p);
  });
  watching = false;
  t.equal(told.size, 8, 'every partition was gained');
  t.ok(turns > 8, `owns() was watched on ${turns} turns during the take`);
  t.same([...early], [], 'no partition was owned before the listener was told');
});

t.test(
  'a lease rides out its bucket losing its quorum: a failed renewal is not a lost lease',
  async (t) => {
    const cluster = await startNatsCluster(3);
    const nc = await connect(cluster.connectOptions());
    // Renewals every 10 s, the lease valid 25 s after one.
    const leases = await openLeases(nc, 'steady', {
      partitions: 4,
      leaseMs: 30_000,
      replicas: 3,
    });
    t.teardown(async () => {
      await leases.stop().catch(() => undefined);
      await nc.close();
      await cluster.stop();
    });
    const lost: number[] = [];
    await leases.start((_gained, l) => {
      lost.push(...l);
    });
    const kv = await new Kvm(nc).open(bucketNames.roomLeases);
    const revision = async () => (await kv.get('partition.0').catch(() => null))?.revision ?? 0;
    const renewed = async (after: number, ms: number) =>
      waitUntil('a renewal', async () => (await revision()) > after, { ms, everyMs: 100 });
    // Just after a renewal, two of the three nodes die: the bucket has no leader and
    // cannot have one, so the next renewal (in 10 s) fails for certain.
    await renewed(await revision(), 15_000);
    const [a, b] = cluster.nodes;
    if (a === undefined || b === undefined) throw new Error('no nodes');
    await Promise.all([a.kill(true), b.kill(true)]);
    await new Promise((r) => setTimeout(r, 12_000));
    t.same(lost, [], 'a renewal that failed gave nothing up while the lease is valid');
    // One node back: the bucket elects a leader, and a renewal (retried sooner than
    // every 10 s once one failed) lands before the lease runs out.
    const at = await revision();
    await a.restart();
    await renewed(at, 20_000);
    t.same(lost, [], 'no partition was given up');
    t.same(
      [0, 1, 2, 3].filter((p) => leases.owns(p)),
      [0, 1, 2, 3],
      'every partition is still owned',
    );
  },
);

t.test('a partition given back is taken at once, not at the next renewal', async (t) => {
  const nats = await startNats();
  const nc = await connect(nats.connectOptions());
  // Renewals every 20 s: a take that waited for one would not come within the test.
  const open = (replicaId: string) => openLeases(nc, replicaId, { partitions: 4, leaseMs: 60_000 });
  const a = await open('leaving');
  const b = await open('staying');
  t.teardown(async () => {
    await b.stop();
    await nc.close();
    await nats.stop();
  });
  await a.start(() => undefined);
  await b.start(() => undefined);
  t.same(
    [0, 1, 2, 3].filter((p) => b.owns(p)),
    [],
    'the second replica finds every partition held',
  );
  // A graceful stop deletes its keys: the survivor hears of it through its watch.
  await a.stop();
  await waitUntil('the survivor owns every partition', () => [0, 1, 2, 3].every((p) => b.owns(p)), {
    ms: 5000,
  });
  t.pass('the partitions moved within seconds of being given back, long before a renewal');
});
