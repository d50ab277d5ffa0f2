/**
 * The one contract every catalogue store obeys. Runners (catalog.*.test.ts) call
 * `catalogContract` with a factory that opens an empty store of their kind for one
 * test and tears it down after.
 */
import type { Test } from 'tap';
import type { RoomViewer } from '#shared/room/catalog.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { RoomEvent, RoomEventBatch } from '#shared/room/room.events.js';
import type { CatalogRoom, CatalogStore, RoomListQuery, RoomListResult } from '../catalog.store.js';
import { positionOf } from '../catalog.store.js';

/** Opens an empty store for one test; the factory registers its teardown on `t`. */
export type StoreFactory = (t: Test) => Promise<CatalogStore>;

/**
 * Where a store reads its event archive from, when that is the room log itself
 * (the JetStream store): the contract writes a test's events there first, as the
 * room service writes a batch before the projector archives it. A batch at a room
 * sequence the log already holds must be refused, as the room service's fenced
 * append is. Absent for a store that keeps its own copy (MongoDB).
 */
export type RoomLogWriter = (batch: RoomEventBatch) => Promise<void>;

const everyone: RoomViewer = { userId: 'admin', granted: ['*'] };

/** A record with the given fields; the rest plausible. */
export function record(
  id: string,
  o: {
    createdAt?: number;
    owner?: string;
    status?: RoomStatus;
    isPrivate?: boolean;
    seq?: number;
    title?: string;
    members?: CatalogRoom['members'];
  } = {},
): CatalogRoom {
  const members = o.members ?? {};
  const viewers = Object.values(members).filter((r) => r === 'viewer').length;
  return {
    room: {
      id,
      userId: o.owner ?? 'alice',
      title: o.title ?? `Room ${id}`,
      status: o.status ?? 'preparing',
      isPrivate: o.isPrivate ?? false,
      streamKey: `key-${id}`,
      createdAt: o.createdAt ?? 1_000,
      startTime: o.status === 'live' || o.status === 'ended' ? 2_000 : null,
      endTime: o.status === 'ended' ? 3_000 : null,
      viewers,
      maxViewers: 50,
      peakViewers: viewers,
    },
    seq: o.seq ?? 1,
    members,
  };
}

const event = (at: number, peerId: string): RoomEvent => ({
  type: 'member_left',
  v: 1,
  at,
  peerId,
});

async function walk(
  store: CatalogStore,
  q: Omit<RoomListQuery, 'after'>,
  between: (page: number) => Promise<void> = () => Promise.resolve(),
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let page: RoomListResult = await store.listRooms(q);
  let pages = 1;
  for (;;) {
    ids.push(...page.rooms.map((r) => r.id));
    const last = page.rooms.at(-1);
    if (!page.more || last === undefined) return { ids, pages };
    await between(pages);
    page = await store.listRooms({ ...q, after: positionOf(last) });
    pages++;
  }
}

export function catalogContract(t: Test, open: StoreFactory, log?: RoomLogWriter): void {
  /** What the projector does with a batch it applies: the log holds it, the store archives it. */
  const archive = async (
    store: CatalogStore,
    roomId: string,
    seq: number,
    events: RoomEvent[],
  ): Promise<void> => {
    await log?.({ v: 1, roomId, seq, events });
    await store.appendEvents(roomId, seq, events);
  };

  void t.test('a room record reads back as written, stream key and members included', async (t) => {
    const store = await open(t);
    t.equal(await store.getRoom('nope'), undefined, 'unknown room');
    const r = record('r1', { members: { p1: 'viewer', p2: 'publisher' }, status: 'live' });
    t.equal(await store.putRoom(r), true);
    t.same(await store.getRoom('r1'), r);
  });

  void t.test('putRoom only ever moves a room forward in seq', async (t) => {
    const store = await open(t);
    t.equal(await store.putRoom(record('r1', { seq: 3, title: 'three' })), true);
    t.equal(await store.putRoom(record('r1', { seq: 3, title: 'again' })), false, 'same seq');
    t.equal(await store.putRoom(record('r1', { seq: 2, title: 'older' })), false, 'older seq');
    t.equal((await store.getRoom('r1'))?.room.title, 'three');
    t.equal(await store.putRoom(record('r1', { seq: 7, title: 'seven' })), true, 'newer seq');
    t.same((await store.getRoom('r1'))?.seq, 7);
    t.equal((await store.listRooms({ viewer: everyone, limit: 10 })).rooms[0]?.title, 'seven');
  });

  void t.test('writers racing on one room: the highest seq stays', async (t) => {
    const store = await open(t);
    const seqs = [5, 2, 9, 1, 7, 3, 8, 4, 6];
    const written = await Promise.all(
      seqs.map((seq) => store.putRoom(record('r1', { seq, title: `t${seq}` }))),
    );
    t.ok(written.includes(true));
    const r = await store.getRoom('r1');
    t.equal(r?.seq, 9);
    t.equal(r?.room.title, 't9');
  });

  void t.test(
    'lists newest first (ties by id, descending) with status and owner filters',
    async (t) => {
      const store = await open(t);
      const rooms = [
        record('a', { createdAt: 10, owner: 'alice', status: 'live' }),
        record('b', { createdAt: 30, owner: 'bob' }),
        record('c', { createdAt: 20, owner: 'alice', status: 'ended' }),
        record('d', { createdAt: 30, owner: 'alice', status: 'live' }),
        record('e', { createdAt: 5, owner: 'bob', status: 'live' }),
      ];
      for (const r of rooms) await store.putRoom(r);
      const ids = async (q: Partial<RoomListQuery>) =>
        (await store.listRooms({ viewer: everyone, limit: 10, ...q })).rooms.map((r) => r.id);
      t.same(await ids({}), ['d', 'b', 'c', 'a', 'e'], 'all, newest first, ties by id');
      t.same(await ids({ status: 'live' }), ['d', 'a', 'e'], 'status');
      t.same(await ids({ owner: 'alice' }), ['d', 'c', 'a'], 'owner');
      t.same(await ids({ owner: 'bob', status: 'live' }), ['e'], 'owner and status');
      t.same(await ids({ owner: 'carol' }), [], 'nobody');
      const page = await store.listRooms({ viewer: everyone, limit: 10 });
      t.same(page.rooms[0], rooms[3]?.room, 'the whole LiveRoom record, stream key included');
      t.equal(page.more, false);
    },
  );

  void t.test('private rooms are listed only to their owner and those granted', async (t) => {
    const store = await open(t);
    await store.putRoom(record('pub', { createdAt: 4, owner: 'alice' }));
    await store.putRoom(record('priv1', { createdAt: 3, owner: 'alice', isPrivate: true }));
    await store.putRoom(record('priv2', { createdAt: 2, owner: 'bob', isPrivate: true }));
    await store.putRoom(record('priv3', { createdAt: 1, owner: 'carol', isPrivate: true }));
    const ids = async (viewer: RoomViewer, q: Partial<RoomListQuery> = {}) =>
      (await store.listRooms({ viewer, limit: 10, ...q })).rooms.map((r) => r.id);
    t.same(await ids({ userId: 'mallory', granted: [] }), ['pub'], 'a stranger sees public only');
    t.same(await ids({ userId: 'alice', granted: [] }), ['pub', 'priv1'], 'the owner');
    t.same(
      await ids({ userId: 'dave', granted: ['priv2', 'priv3', 'elsewhere'] }),
      ['pub', 'priv2', 'priv3'],
      'rooms the token names',
    );
    t.same(
      await ids({ userId: 'dave', granted: ['*'] }),
      ['pub', 'priv1', 'priv2', 'priv3'],
      'a wildcard grant',
    );
    t.same(
      await ids({ userId: 'mallory', granted: [] }, { owner: 'bob' }),
      [],
      'filters do not reveal private rooms',
    );
  });

  void t.test(
    'cursor pages return every room once, in order, whatever changes between pages',
    async (t) => {
      const store = await open(t);
      const ids: string[] = [];
      for (let i = 0; i < 23; i++) {
        // Pairs share a createdAt: the id breaks the tie.
        const id = `room${String(i).padStart(2, '0')}`;
        ids.push(id);
        await store.putRoom(record(id, { createdAt: 1000 + Math.floor(i / 2), seq: 1 }));
      }
      const expected = [...ids].sort((a, b) => {
        const ca = 1000 + Math.floor(Number(a.slice(4)) / 2);
        const cb = 1000 + Math.floor(Number(b.slice(4)) / 2);
        return cb - ca || (a < b ? 1 : -1);
      });
      const plain = await walk(store, { viewer: everyone, limit: 5 });
      t.same(plain.ids, expected);
      t.equal(plain.pages, 5);

      let n = 0;
      const churned = await walk(store, { viewer: everyone, limit: 5 }, async (page) => {
        // New rooms (newer than every page so far), and changes to rooms on both sides of the cursor.
        await store.putRoom(record(`new${page}`, { createdAt: 5000 + page }));
        await store.putRoom(
          record(expected[0] ?? '', { createdAt: 1011, seq: 2 + n, status: 'live' }),
        );
        await store.putRoom(
          record(expected[22] ?? '', { createdAt: 1000, seq: 2 + n++, title: 'x' }),
        );
      });
      t.same(churned.ids, expected, 'no room twice, none skipped, new rooms not in later pages');

      // 23 rooms and the 4 added between pages.
      const exact = await walk(store, { viewer: everyone, limit: 27 });
      t.same(
        [exact.pages, exact.ids.length],
        [1, 27],
        'a page that holds the rest says there is no more',
      );
    },
  );

  void t.test('the event archive is keyed by room and sequence', async (t) => {
    const store = await open(t);
    t.same(await store.readEvents('e1', 1, 10), [], 'nothing archived');
    await archive(store, 'e1', 1, [event(1, 'a'), event(2, 'b'), event(3, 'c')]);
    await archive(store, 'e1', 4, [event(4, 'd')]);
    await archive(store, 'e2', 1, [event(9, 'z')]);
    await archive(store, 'e1', 2, [event(20, 'B'), event(30, 'C')]);
    const all = await store.readEvents('e1', 1, 100);
    t.same(
      all.map((e) => [e.roomId, e.seq, (e.event as { peerId: string }).peerId]),
      [
        ['e1', 1, 'a'],
        ['e1', 2, 'b'],
        ['e1', 3, 'c'],
        ['e1', 4, 'd'],
      ],
      'a second append of a sequence changes nothing',
    );
    t.same(all[0]?.event, event(1, 'a'), 'events read back whole');
    t.same(
      (await store.readEvents('e1', 2, 2)).map((e) => e.seq),
      [2, 3],
      'from a sequence, at most the limit',
    );
    t.same(await store.readEvents('e1', 5, 10), [], 'past the end');
    await archive(store, 'e1', 6, [event(6, 'f')]);
    t.same(
      (await store.readEvents('e1', 3, 10)).map((e) => e.seq),
      [3, 4],
      'reading stops at the first missing sequence',
    );
    t.same((await store.readEvents('e2', 1, 10)).length, 1, 'rooms are apart');
  });

  void t.test('the position only moves forward', async (t) => {
    const store = await open(t);
    t.equal(await store.position(), 0);
    await store.savePosition(10);
    t.equal(await store.position(), 10);
    await store.savePosition(4);
    t.equal(await store.position(), 10, 'never backward');
    await Promise.all([store.savePosition(12), store.savePosition(15), store.savePosition(13)]);
    t.equal(await store.position(), 15);
  });

  void t.test('clear removes rooms, the position and any copy of the log', async (t) => {
    const store = await open(t);
    await store.putRoom(record('r1', { seq: 5 }));
    await archive(store, 'c1', 1, [event(1, 'a')]);
    await store.savePosition(42);
    await store.clear();
    t.equal(await store.getRoom('r1'), undefined);
    t.same((await store.listRooms({ viewer: everyone, limit: 10 })).rooms, []);
    t.same(
      (await store.readEvents('c1', 1, 10)).length,
      log === undefined ? 0 : 1,
      log === undefined
        ? 'its copy of the events is gone'
        : 'the log is still read: a rebuild never clears ROOM_EVENTS',
    );
    t.equal(await store.position(), 0);
    t.equal(
      await store.putRoom(record('r1', { seq: 1 })),
      true,
      'a rebuild writes from seq 1 again',
    );
    t.same((await store.listRooms({ viewer: everyone, limit: 10 })).rooms.length, 1);
  });
}
