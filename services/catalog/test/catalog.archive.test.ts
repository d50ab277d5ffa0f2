/**
 * The JetStream catalogue's event archive reads ROOM_EVENTS itself (catalog.archive.ts):
 * from any sequence of a long room whose batches are interleaved with other rooms',
 * it returns exactly the events from there, whatever the batch sizes. Real
 * nats-server, batches written as the room service writes them.
 */
import t from 'tap';
import fc from 'fast-check';
import type { RoomEvent } from '#shared/room/room.events.js';
import { subjects } from '#shared/wire/subjects.js';
import { appendBatch, natsWithRoomEvents } from '../../../test/helpers/events.js';
import { RoomLogArchive } from '../catalog.archive.js';

const { js, jsm } = await natsWithRoomEvents(t);
const archive = new RoomLogArchive(js, jsm);

const event = (seq: number): RoomEvent => ({
  type: 'member_left',
  v: 1,
  at: seq,
  peerId: `p${seq}`,
});

/** Writes `sizes` as one room's batches, each after `between` batches of another room. */
async function writeRoom(roomId: string, sizes: number[], between: number): Promise<number> {
  let seq = 1;
  for (const [i, size] of sizes.entries()) {
    for (let k = 0; k < between; k++)
      await appendBatch(js, {
        v: 1,
        roomId: `${roomId}-other`,
        seq: i * between + k + 1,
        events: [event(1)],
      });
    const events = Array.from({ length: size }, (_, k) => event(seq + k));
    await appendBatch(js, { v: 1, roomId, seq, events });
    seq += size;
  }
  return seq - 1;
}

void t.test('any sequence of a long, interleaved room reads back exactly', async (t) => {
  const sizes = Array.from({ length: 400 }, (_, i) => 1 + ((i * 7) % 5));
  const last = await writeRoom('long', sizes, 2);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: last + 3 }),
      fc.integer({ min: 1, max: 40 }),
      async (from, limit) => {
        const got = (await archive.readEvents('long', from, limit)).map((e) => e.seq);
        const want = Array.from(
          { length: Math.max(0, Math.min(limit, last - from + 1)) },
          (_, i) => from + i,
        );
        t.same(got, want, `from ${from}, limit ${limit}`);
      },
    ),
    { numRuns: 60 },
  );
  const all = await archive.readEvents('long', 1, 10_000);
  t.equal(all.length, last, 'the whole room in one read');
  t.same(all.at(-1)?.event, event(last), 'events whole');
});

void t.test('a message in a room subject that is not a batch of it is passed over', async (t) => {
  await appendBatch(js, { v: 1, roomId: 'odd', seq: 1, events: [event(1), event(2)] });
  await js.publish(subjects.roomEvents('odd'), new TextEncoder().encode('not json'));
  await appendBatch(js, { v: 1, roomId: 'odd', seq: 3, events: [event(3)] });
  await js.publish(subjects.roomEvents('odd'), new TextEncoder().encode('{"v":1}'));
  await appendBatch(js, { v: 1, roomId: 'odd', seq: 4, events: [event(4)] });
  t.same(
    (await archive.readEvents('odd', 1, 10)).map((e) => e.seq),
    [1, 2, 3, 4],
  );
  t.same(
    (await archive.readEvents('odd', 3, 10)).map((e) => e.seq),
    [3, 4],
  );
  t.same(
    (await archive.readEvents('odd', 4, 10)).map((e) => e.seq),
    [4],
  );
  t.same(await archive.readEvents('nobody', 1, 10), [], 'a room with no log');
});
