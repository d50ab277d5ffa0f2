/**
 * The projector over a real nats-server: batches are appended to ROOM_EVENTS
 * directly, in the shape the room service appends them.
 */
import t, { type Test } from 'tap';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { loadConfig, type Config } from '#config/config.js';
import { encode } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { batchMsgId, type RoomEventBatch } from '#shared/room/room.events.js';
import { streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import {
  RoomScript,
  appendBatch,
  randomStep,
  roomEventsStream,
  seeded,
} from '../../../test/helpers/events.js';
import { startNats, type NatsServer } from '../../../test/helpers/nats.js';
import { testEnv } from '../../../test/helpers/system.js';
import { applyEvent, initialState, toLiveRoom } from '#shared/room/room.state.js';
import { JetStreamCatalogStore } from '../catalog.jetstream.js';
import { CatalogProjector } from '../catalog.projector.js';
import { projectBatch, recordOf } from '../catalog.projection.js';
import type { CatalogRoom, CatalogStore } from '../catalog.store.js';

const log = createLogger('test', 'error');

interface Setup {
  nats: NatsServer;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  config: Config['catalog'];
  store: JetStreamCatalogStore;
  projector(store?: CatalogStore): CatalogProjector;
  append(batch: RoomEventBatch, msgId?: string): Promise<number>;
  lastSeq(): Promise<number>;
}

async function setup(t: Test, env: Record<string, string> = {}): Promise<Setup> {
  const nats = await startNats();
  const nc = await connect({
    ...nats.connectOptions(),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const { js, jsm } = await roomEventsStream(nc);
  const config = loadConfig(testEnv(nats.url, { CATALOG_RETRY_DELAY_MS: '20', ...env })).catalog;
  const store = await JetStreamCatalogStore.open({ js, jsm, replicas: 1, log });
  const projectors: CatalogProjector[] = [];
  t.teardown(async () => {
    for (const p of projectors) await p.stop();
    await store.close();
    await nc.close();
    await nats.stop();
  });
  return {
    nats,
    nc,
    js,
    jsm,
    config,
    store,
    projector(s = store) {
      const p = new CatalogProjector({ js, jsm, store: s, config, replicas: 1, log });
      projectors.push(p);
      return p;
    },
    append: (batch, msgId) => appendBatch(js, batch, msgId),
    lastSeq: async () => (await jsm.streams.info(streamNames.roomEvents)).state.last_seq,
  };
}

/** The record a room's whole history folds to, with the room service's reducer. */
function expected(room: RoomScript): CatalogRoom {
  const [first, ...rest] = room.events;
  if (first?.type !== 'room_created') throw new Error('no room_created');
  return recordOf(rest.reduce(applyEvent, initialState(first)));
}

/** `rooms` rooms with `steps` random transitions each, interleaved like real traffic. */
function history(
  seed: number,
  rooms: number,
  steps: number,
): { scripts: RoomScript[]; batches: RoomEventBatch[] } {
  const rnd = seeded(seed);
  const scripts = Array.from(
    { length: rooms },
    (_, i) => new RoomScript(`room${i}`, `owner${i % 3}`, 1_000_000 + i * 10),
  );
  const batches: RoomEventBatch[] = scripts.map((s, i) => s.create({ isPrivate: i % 4 === 0 }));
  for (let i = 0; i < rooms * steps; i++) {
    const b = randomStep(scripts[Math.floor(rnd() * rooms)] as RoomScript, rnd);
    if (b !== undefined) batches.push(b);
  }
  return { scripts, batches };
}

async function checkAgainst(t: Test, store: CatalogStore, scripts: RoomScript[]): Promise<void> {
  for (const s of scripts) {
    t.same(await store.getRoom(s.roomId), expected(s), `${s.roomId}: record = folded history`);
    const archived = await store.readEvents(s.roomId, 1, 10_000);
    t.same(
      archived.map((e) => e.event),
      s.events,
      `${s.roomId}: archive holds every event once, in order`,
    );
  }
}

/**
 * Deliveries the durable consumer still waits to see settled, once the acks sent
 * so far have reached it (they are fire-and-forget: the server may lag a moment).
 */
async function ackPending(sys: Setup, p: CatalogProjector): Promise<number> {
  let pending = 0;
  for (let i = 0; i < 100; i++) {
    pending = (await sys.jsm.consumers.info(streamNames.roomEvents, p.durable)).num_ack_pending;
    if (pending === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pending;
}

/** Everything a store holds for `ids`: records and archives. */
async function snapshot(store: CatalogStore, ids: string[]): Promise<unknown> {
  return Promise.all(
    ids.map(async (id) => [await store.getRoom(id), await store.readEvents(id, 1, 10_000)]),
  );
}

t.test('a room history becomes the LiveRoom record the room holds, and the archive', async (t) => {
  const sys = await setup(t);
  const room = new RoomScript('r1', 'alice', 1_000);
  const batches = [room.create({ title: 'Launch', maxViewers: 10 })];
  const [v1, v2, v3] = ['viewer', 'viewer', 'viewer'].map(() => {
    batches.push(room.join('viewer'));
    return room.peers.at(-1) as string;
  });
  batches.push(room.join('publisher'), room.leave(v2 as string), room.setStatus('live'));
  const p = sys.projector();
  await p.start();
  let last = 0;
  for (const b of batches) last = await sys.append(b);
  await p.whenProjected(last);

  const r = await sys.store.getRoom('r1');
  t.same(
    r?.room,
    {
      id: 'r1',
      userId: 'alice',
      title: 'Launch',
      status: 'live',
      isPrivate: false,
      streamKey: 'key-r1',
      createdAt: 1_000,
      startTime: room.events.at(-1)?.at,
      endTime: null,
      viewers: 2,
      maxViewers: 10,
      peakViewers: 3,
    },
    'figures worked out by hand',
  );
  t.same(Object.keys(r?.members ?? {}).sort(), [v1, v3, room.peers.at(-1)].sort());
  t.equal(r?.seq, room.events.length);
  const state = room.events.slice(1).reduce(applyEvent, initialState(room.events[0] as never));
  t.same(r?.room, toLiveRoom(state, true), 'equal to what the room actor would answer');
  t.same(p.counts, { applied: batches.length, duplicate: 0, gap: 0, invalid: 0, failed: 0 });
  t.equal(await sys.store.position(), last, 'position saved');

  const { scripts, batches: more } = history(1, 12, 30);
  for (const b of more) last = await sys.append(b);
  await p.whenProjected(last);
  await checkAgainst(t, sys.store, scripts);
});

t.test('duplicates in the log and redeliveries change nothing', async (t) => {
  const sys = await setup(t);
  // A store whose room writes fail now and then: the projector naks, JetStream redelivers.
  let writes = 0;
  const flaky: CatalogStore = Object.create(sys.store) as CatalogStore;
  flaky.putRoom = (r) =>
    ++writes % 4 === 0 ? Promise.reject(new Error('store down')) : sys.store.putRoom(r);
  const p = sys.projector(flaky);
  await p.start();
  const { scripts, batches } = history(2, 6, 25);
  let last = 0;
  let dups = 0;
  for (const [i, b] of batches.entries()) {
    last = await sys.append(b);
    if (i % 5 === 0) {
      // A duplicate past the dedupe window: JetStream stores it again.
      last = await sys.append(b, `again-${i}`);
      dups++;
    }
    if (i % 7 === 0) {
      // A retried append inside the window: JetStream drops it.
      const ack = await sys.js.publish(subjects.roomEvents(b.roomId), encode(b), {
        msgID: batchMsgId(b.roomId, b.seq, 'test'),
      });
      t.equal(ack.duplicate, true);
    }
  }
  await p.whenProjected(last);
  await checkAgainst(t, sys.store, scripts);
  t.ok(p.counts.failed > 0, `failed writes were retried (${p.counts.failed})`);
  t.equal(p.counts.applied, batches.length, 'every batch applied exactly once');
  t.ok(p.counts.duplicate >= dups, `duplicates found applied (${p.counts.duplicate})`);
  t.equal(await ackPending(sys, p), 0, 'everything acknowledged');
});

t.test('a batch waits for the earlier batches of its room', async (t) => {
  const sys = await setup(t);
  const room = new RoomScript('r1', 'alice', 1_000);
  const [b1, b2, b3] = [room.create(), room.join('viewer'), room.join('viewer')];
  t.equal(await projectBatch(sys.store, b2), 'gap', 'no room yet');
  t.equal(await projectBatch(sys.store, b1), 'applied');
  t.equal(await projectBatch(sys.store, b3), 'gap', 'seq 2 missing');
  t.equal(await projectBatch(sys.store, b2), 'applied');
  t.equal(await projectBatch(sys.store, b3), 'applied');
  t.equal(await projectBatch(sys.store, b2), 'duplicate');
  t.same(await sys.store.getRoom('r1'), expected(room));

  // Two projectors sharing the durable consumer: a room's batches may reach either,
  // out of order; they wait for each other and converge.
  const [p1, p2] = [sys.projector(), sys.projector()];
  await p1.start();
  await p2.start();
  const { scripts, batches } = history(3, 8, 30);
  for (const b of batches) await sys.append(b);
  const want = new Map(scripts.map((s) => [s.roomId, s.events.length]));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const seqs = await Promise.all(
      scripts.map(async (s) => (await sys.store.getRoom(s.roomId))?.seq),
    );
    if (scripts.every((s, i) => seqs[i] === want.get(s.roomId))) break;
    if (Date.now() > deadline) throw new Error(`not converged: ${JSON.stringify(seqs)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await checkAgainst(t, sys.store, scripts);
  t.equal(p1.counts.applied + p2.counts.applied, batches.length, 'each batch applied once');
  t.ok(p1.counts.applied > 0 && p2.counts.applied > 0, 'both took a share');
});

t.test('a restarted projector resumes where it stopped', async (t) => {
  const sys = await setup(t);
  const { scripts, batches } = history(4, 6, 20);
  const half = Math.floor(batches.length / 2);
  const first = sys.projector();
  await first.start();
  let last = 0;
  for (const b of batches.slice(0, half)) last = await sys.append(b);
  await first.whenProjected(last);
  await first.stop();
  t.equal(await sys.store.position(), last);

  for (const b of batches.slice(half)) last = await sys.append(b);
  const second = sys.projector();
  await second.start();
  await second.whenProjected(last);
  t.same(
    second.counts,
    { applied: batches.length - half, duplicate: 0, gap: 0, invalid: 0, failed: 0 },
    'only what was appended while it was down',
  );
  await checkAgainst(t, sys.store, scripts);
});

t.test(
  'a store behind its consumer (an empty new database) is caught up from the log',
  async (t) => {
    const sys = await setup(t);
    const { scripts, batches } = history(5, 5, 20);
    const p = sys.projector();
    await p.start();
    let last = 0;
    for (const b of batches) last = await sys.append(b);
    await p.whenProjected(last);
    await p.stop();
    await sys.store.clear();

    const again = sys.projector();
    await again.start();
    await again.whenProjected(last);
    t.equal(again.counts.applied, batches.length, 'the whole log applied again');
    await checkAgainst(t, sys.store, scripts);
  },
);

t.test('a rebuild gives the catalogue the incremental projection gave', async (t) => {
  const sys = await setup(t);
  const { scripts, batches } = history(6, 10, 30);
  const p = sys.projector();
  await p.start();
  let last = 0;
  for (const [i, b] of batches.entries()) {
    last = await sys.append(b);
    if (i % 3 === 0) last = await sys.append(b, `dup-${i}`);
  }
  await p.whenProjected(last);
  const ids = scripts.map((s) => s.roomId);
  const incremental = await snapshot(sys.store, ids);
  const everyone = { userId: 'x', granted: ['*'] };
  const listed = await sys.store.listRooms({ viewer: everyone, limit: 100 });

  const result = await p.rebuild();
  t.equal(result.through, last);
  t.same(await snapshot(sys.store, ids), incremental, 'records and archives equal');
  t.same(await sys.store.listRooms({ viewer: everyone, limit: 100 }), listed, 'lists equal');
  t.equal(await sys.store.position(), last);
  await checkAgainst(t, sys.store, scripts);

  // Still following after the rebuild.
  const late = new RoomScript('late', 'bob', 9_000_000);
  last = await sys.append(late.create());
  await p.whenProjected(last);
  t.same(await sys.store.getRoom('late'), expected(late));
});

t.test('a message that is not a batch is dropped; the rest goes on', async (t) => {
  const sys = await setup(t);
  const p = sys.projector();
  await p.start();
  await sys.js.publish(subjects.roomEvents('bad'), new TextEncoder().encode('not json'));
  const room = new RoomScript('r1', 'alice', 1_000);
  const created = room.create();
  // Room id disagreeing with the subject.
  await sys.js.publish(subjects.roomEvents('other'), encode(created));
  // A room whose log does not start with room_created.
  const stray = new RoomScript('stray', 'alice', 1_000);
  stray.create();
  await sys.append({ ...stray.join('viewer'), seq: 1 });
  await sys.append(created);
  const last = await sys.append(room.join('viewer'));
  await p.whenProjected(last);
  t.equal(p.counts.invalid, 3);
  t.same(await sys.store.getRoom('r1'), expected(room));
  t.equal(await sys.store.getRoom('stray'), undefined);
  t.equal(await ackPending(sys, p), 0, 'settled (terminated), not left to redeliver');
});

t.test('nats-server restarted during traffic: the projector carries on', async (t) => {
  const sys = await setup(t);
  const p = sys.projector();
  await p.start();
  const { scripts, batches } = history(7, 5, 20);
  const half = Math.floor(batches.length / 2);
  let last = 0;
  for (const b of batches.slice(0, half)) last = await sys.append(b);
  await sys.nats.kill(true);
  await sys.nats.restart();
  for (const b of batches.slice(half)) {
    // The client may still be reconnecting: retry the append as the room service would.
    for (let attempt = 0; ; attempt++) {
      try {
        last = await sys.append(b);
        break;
      } catch (err) {
        if (attempt > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  await p.whenProjected(last);
  await checkAgainst(t, sys.store, scripts);
});
