/**
 * A create whose write is not confirmed (the PubAck lost in a NATS failover) is not
 * taken for "not written": the room is read back from its log, and held when its own
 * `room_created` is there. Found by the chaos run: a room in ROOM_EVENTS that no
 * replica held, its creator told UNAVAILABLE and then ROOM_EXISTS on its retry.
 */
import t from 'tap';
import { loadConfig } from '#config/config.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import { createRoom } from './room.create.js';
import { MemoryRoomLog, type LogPosition, type RoomLog, type StoredBatch } from './room.log.js';

const config = loadConfig({}).room;
let ids = 0;
const env = { now: () => 1_700_000_000_000, id: () => `id${++ids}` };
const cmd = {
  type: 'create' as const,
  userId: 'owner',
  title: 'Room',
  isPrivate: false,
};

/** A log whose appends fail as `how` says, and whose reads may fail too. */
class FaultyLog implements RoomLog {
  readonly inner = new MemoryRoomLog();
  constructor(
    private readonly how: 'stored, ack lost' | 'not stored',
    private readonly readable = true,
  ) {}
  async append(roomId: string, events: readonly RoomEvent[], at: LogPosition): Promise<number> {
    if (this.how === 'stored, ack lost') await this.inner.append(roomId, events, at);
    throw new Error('TimeoutError: no PubAck');
  }
  readRoom(roomId: string, after: number): Promise<StoredBatch[]> {
    if (!this.readable) return Promise.reject(new Error('no responders'));
    return this.inner.readRoom(roomId, after);
  }
  scan(after: number, onBatch: (b: StoredBatch) => void): Promise<void> {
    return this.inner.scan(after, onBatch);
  }
  batchCounts(): Promise<Map<string, number>> {
    return this.inner.batchCounts();
  }
  lastOf(roomId: string): Promise<number> {
    return this.inner.lastOf(roomId);
  }
  openRooms(): Promise<string[] | undefined> {
    return this.inner.openRooms();
  }
  indexRooms(roomIds: readonly string[]): Promise<void> {
    return this.inner.indexRooms(roomIds);
  }
  close(roomId: string): Promise<void> {
    return this.inner.close(roomId);
  }
}

t.test('stored but not confirmed: the room is held, and the creator told so', async (t) => {
  const log = new FaultyLog('stored, ack lost');
  const { reply, entry } = await createRoom({ config, env, log }, 'r1', cmd);
  t.match(reply, { ok: true, room: { id: 'r1', userId: 'owner' } });
  t.equal(entry?.streamSeq, 1, 'held at the sequence the log has');
  const [stored] = await log.inner.readRoom('r1', 0);
  const first = stored?.batch.events[0];
  t.equal(first?.type, 'room_created');
  if (first?.type === 'room_created')
    t.equal(entry?.actor.state.streamKey, first.streamKey, 'the very room the log holds');
});

t.test('not stored: UNAVAILABLE, and nothing held', async (t) => {
  const { reply, entry } = await createRoom(
    { config, env, log: new FaultyLog('not stored') },
    'r1',
    cmd,
  );
  t.match(reply, { ok: false, error: { code: 'UNAVAILABLE' } });
  t.equal(entry, undefined);
});

t.test('the log cannot be read back either: UNAVAILABLE (the client tries again)', async (t) => {
  const { reply, entry } = await createRoom(
    { config, env, log: new FaultyLog('stored, ack lost', false) },
    'r1',
    cmd,
  );
  t.match(reply, { ok: false, error: { code: 'UNAVAILABLE' } });
  t.equal(entry, undefined);
});

t.test("another create's room in the log is never taken for ours", async (t) => {
  const log = new FaultyLog('not stored');
  const first = await createRoom({ config, env, log: log.inner }, 'r1', cmd);
  t.ok(first.reply.ok, 'someone else created r1');
  const { reply, entry } = await createRoom({ config, env, log }, 'r1', cmd);
  t.match(reply, { ok: false, error: { code: 'UNAVAILABLE' } });
  t.equal(entry, undefined);
});
