/**
 * `npm run bench:takeover`: what a room-service takeover costs per room ever held.
 * On a private nats-server, N rooms are created, lived and ended, each logged and
 * snapshotted as the room service does; then `loadRooms` takes over one partition
 * of 16 (what a replica does when a peer's lease lapses), several times, each with a
 * fresh snapshot store. Printed: the median and every time, per N.
 *
 *   npm run bench:takeover                    # N = 10,000 and 40,000, 5 loads each
 *   npm run bench:takeover -- 100000 3        # N = 100,000, 3 loads
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

const [nArg, loadsArg] = process.argv.slice(2);
const sizes = nArg === undefined ? [10_000, 40_000] : [Number(nArg)];
const loads = Number(loadsArg ?? 5);
const PARTITIONS = 16;

/** One room's whole life (created, three members, live, all gone, ended) in one batch. */
function endedRoom(id: string) {
  const s = new RoomScript(id, 'owner', 1000);
  const batches = [s.create(), s.join('publisher'), s.join('viewer'), s.join('viewer')];
  batches.push(s.setStatus('live'));
  for (const p of s.peers) batches.push(s.leave(p));
  batches.push(s.setStatus('ended'));
  return { v: 1 as const, roomId: id, seq: 1, events: batches.flatMap((b) => b.events) };
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
    for (let base = 0; base < n; base += 500) {
      const ids = Array.from({ length: Math.min(500, n - base) }, (_, k) => `room${base + k}`);
      await Promise.all(
        ids.map(async (id) => {
          const batch = endedRoom(id);
          const streamSeq = await appendBatch(js, batch);
          const [created, ...rest] = batch.events;
          const actor = RoomActor.create(created as Parameters<typeof RoomActor.create>[0]);
          for (const e of rest) actor.replay(e);
          const seq = batch.events.length;
          const snapshot = actor.persisted();
          await snapshots.save({ v: 1, roomId: id, seq, streamSeq, batches: 1, snapshot });
        }),
      );
    }
    const ms: number[] = [];
    for (let i = 0; i < loads; i++) {
      const fresh = await KvSnapshotStore.open(nc, { replicas: 1 });
      const started = performance.now();
      await loadRooms(log, fresh, (id) => Number(id.slice(4)) % PARTITIONS === 0);
      ms.push(Math.round(performance.now() - started));
    }
    const m = median(ms);
    process.stdout.write(
      `${n.toLocaleString('en-US')} ended rooms: a takeover of 1 partition of ${PARTITIONS} took ` +
        `${m} ms median (${((m * 1000) / n).toFixed(1)} µs per room ever held); every load: ${ms.join(', ')} ms\n`,
    );
  } finally {
    await nc.close();
    await nats.stop();
  }
}
