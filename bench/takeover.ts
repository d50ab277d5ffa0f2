/**
 * `npm run bench:takeover`: what a room-service takeover costs, against the rooms
 * open and the rooms ever held. On a private nats-server, 1,000 rooms (or as many as
 * asked) are open (a publisher and two viewers each, a live snapshot each) and N more
 * were created, lived and ended, each logged and snapshotted as the room service does; then
 * `loadRooms` takes over one partition of 16 (what a replica does when a peer's
 * lease lapses), several times, each with a fresh snapshot store. Printed: the
 * median and every time, per N. A takeover whose cost follows the rooms open takes
 * the same time at every N.
 *
 *   npm run bench:takeover                    # N = 0, 10,000, 40,000 and 100,000; 5 loads each
 *   npm run bench:takeover -- 100000 3        # N = 100,000, 3 loads
 *   npm run bench:takeover -- 0 3 16000       # no ended room, 16,000 open (1,000 per partition)
 */
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { startNats } from '../test/helpers/nats.js';
import { appendBatch, RoomScript, roomEventsStream } from '../test/helpers/events.js';
import { RoomActor } from '../services/room/room.actor.js';
import { JetStreamRoomLog } from '../services/room/room.log.js';
import { loadRooms } from '../services/room/room.recovery.js';
import { KvSnapshotStore } from '../services/room/room.snapshots.js';
import { median } from './bench.scenario.js';

const [nArg, loadsArg, openArg] = process.argv.slice(2);
const sizes = nArg === undefined ? [0, 10_000, 40_000, 100_000] : [Number(nArg)];
const loads = Number(loadsArg ?? 5);
const PARTITIONS = 16;
const OPEN = Number(openArg ?? 1000);

/** A room created, joined by three and live; with `ended`, then left by all and ended. One batch. */
function roomLife(id: string, ended: boolean) {
  const s = new RoomScript(id, 'owner', 1000);
  const batches = [s.create(), s.join('publisher'), s.join('viewer'), s.join('viewer')];
  batches.push(s.setStatus('live'));
  if (ended) {
    for (const p of s.peers) batches.push(s.leave(p));
    batches.push(s.setStatus('ended'));
  }
  return { v: 1 as const, roomId: id, seq: 1, events: batches.flatMap((b) => b.events) };
}

/** The room's snapshot record after its one batch. */
function snapshotOf(batch: ReturnType<typeof roomLife>, streamSeq: number) {
  const [created, ...rest] = batch.events;
  const actor = RoomActor.create(created as Parameters<typeof RoomActor.create>[0]);
  for (const e of rest) actor.replay(e);
  const seq = batch.events.length;
  return {
    v: 1 as const,
    roomId: batch.roomId,
    seq,
    streamSeq,
    batches: 1,
    snapshot: actor.persisted(),
  };
}

/** Rooms `room<from>`… in batches of 500: `write` each. */
async function inBatches(from: number, count: number, write: (id: string) => Promise<void>) {
  for (let base = 0; base < count; base += 500) {
    const ids = Array.from(
      { length: Math.min(500, count - base) },
      (_, k) => `room${from + base + k}`,
    );
    await Promise.all(ids.map(write));
  }
}

for (const n of sizes) {
  const nats = await startNats();
  const nc = await connect(nats.connectOptions());
  try {
    const { js } = await roomEventsStream(nc);
    const snapshots = await KvSnapshotStore.open(nc, { replicas: 1 });
    const log = await JetStreamRoomLog.open(nc, {
      writer: 'bench',
      replicas: 1,
      timeoutMs: 10_000,
    });
    // A new system: its index of open rooms is built, empty (a build before the index has none).
    await (log as { indexRooms?: (ids: string[]) => Promise<void> }).indexRooms?.([]);
    // The open rooms, appended as the room service does (entered in the index first).
    await inBatches(0, OPEN, async (id) => {
      const batch = roomLife(id, false);
      const streamSeq = await log.append(id, batch.events, { seq: 0, streamSeq: 0 });
      await snapshots.save(snapshotOf(batch, streamSeq));
    });
    // The ended ones: their logs, and their last snapshots with the ended rooms (so out of the index).
    await inBatches(OPEN, n, async (id) => {
      const batch = roomLife(id, true);
      await snapshots.save(snapshotOf(batch, await appendBatch(js, batch)));
    });
    const ms: number[] = [];
    let held = 0;
    for (let i = 0; i < loads; i++) {
      const fresh = await KvSnapshotStore.open(nc, { replicas: 1 });
      const started = performance.now();
      const loaded = await loadRooms(log, fresh, (id) => Number(id.slice(4)) % PARTITIONS === 0);
      held = loaded.size;
      ms.push(Math.round(performance.now() - started));
    }
    const m = median(ms);
    process.stdout.write(
      `${OPEN.toLocaleString('en-US')} open and ${n.toLocaleString('en-US')} ended rooms: a takeover ` +
        `of 1 partition of ${PARTITIONS} (${held} rooms held) took ${m} ms median; every load: ${ms.join(', ')} ms\n`,
    );
  } finally {
    await nc.close();
    await nats.stop();
  }
}
