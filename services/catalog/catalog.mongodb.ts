/**
 * The catalogue in MongoDB (when MONGODB_URI is set), with the official driver.
 *
 * - `rooms`: one document per room, `_id` = room id, the LiveRoom fields at the top
 *   level so that list queries filter and sort on indexed fields.
 * - `events`: the archive, `_id` = `<roomId>:<seq>` (keyed by room and sequence),
 *   inserted with `$setOnInsert` so an event is archived once.
 * - `catalog_meta`: the projector's position.
 *
 * The conditional writes lean on the unique `_id`: an upsert whose filter (`seq`
 * lower than ours) finds nothing tries to insert, and the duplicate key error
 * (11000) says a record as new or newer is there already.
 */
import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerError,
  type Collection,
  type Db,
  type Filter,
  type WriteError,
} from 'mongodb';
import type { ArchivedEvent } from '#shared/room/catalog.js';
import type { Role } from '#shared/wire/protocol.js';
import type { LiveRoom } from '#shared/room/room.commands.js';
import type { RoomEvent } from '#shared/room/room.events.js';
import type { CatalogRoom, CatalogStore, RoomListQuery, RoomListResult } from './catalog.store.js';

export interface MongoCatalogOptions {
  uri: string;
  dbName: string;
  /** How long the driver looks for a server before an operation fails, in ms. */
  serverSelectionTimeoutMs: number;
}

/** A `rooms` document: the LiveRoom fields at the top level, the id as `_id`. */
type RoomDoc = Omit<LiveRoom, 'id' | 'streamKey'> & {
  _id: string;
  streamKey: string;
  seq: number;
  members: Record<string, Role>;
  users?: Record<string, string>;
  streamViewers?: string[];
  streamUsers?: Record<string, string>;
};

/** An `events` document. */
interface EventDoc {
  _id: string;
  roomId: string;
  seq: number;
  type: RoomEvent['type'];
  at: number;
  event: RoomEvent;
}

interface MetaDoc {
  _id: string;
  streamSeq: number;
}

const DUPLICATE_KEY = 11000;
const POSITION_ID = 'position';

function isDuplicateKey(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) {
    const errors = ([] as WriteError[]).concat(err.writeErrors);
    return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY);
  }
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

function toDoc(r: CatalogRoom): RoomDoc {
  const { id, ...room } = r.room;
  return {
    _id: id,
    ...room,
    seq: r.seq,
    members: r.members,
    ...(r.users === undefined ? {} : { users: r.users }),
    ...(r.streamViewers === undefined ? {} : { streamViewers: r.streamViewers }),
    ...(r.streamUsers === undefined ? {} : { streamUsers: r.streamUsers }),
  };
}

function fromDoc(d: RoomDoc): CatalogRoom {
  const { seq, members, users, streamViewers, streamUsers } = d;
  return {
    room: roomOf(d),
    seq,
    members,
    ...(users === undefined ? {} : { users }),
    ...(streamViewers === undefined ? {} : { streamViewers }),
    ...(streamUsers === undefined ? {} : { streamUsers }),
  };
}

/** The LiveRoom record of a document (list queries read documents without members). */
function roomOf(d: Omit<RoomDoc, 'members'> & { members?: unknown }): CatalogRoom['room'] {
  const {
    _id,
    seq: _seq,
    members: _members,
    users: _users,
    streamViewers: _sv,
    streamUsers: _su,
    ...room
  } = d;
  return { id: _id, ...room };
}

export class MongoCatalogStore implements CatalogStore {
  readonly kind = 'mongodb';
  private readonly rooms: Collection<RoomDoc>;
  private readonly events: Collection<EventDoc>;
  private readonly meta: Collection<MetaDoc>;

  private constructor(
    private readonly client: MongoClient,
    db: Db,
  ) {
    this.rooms = db.collection<RoomDoc>('rooms');
    this.events = db.collection<EventDoc>('events');
    this.meta = db.collection<MetaDoc>('catalog_meta');
  }

  /** Connects and creates the indexes the queries need (idempotent). */
  static async open(o: MongoCatalogOptions): Promise<MongoCatalogStore> {
    const client = new MongoClient(o.uri, {
      serverSelectionTimeoutMS: o.serverSelectionTimeoutMs,
      appName: 'roomcast-catalog',
    });
    await client.connect();
    const store = new MongoCatalogStore(client, client.db(o.dbName));
    try {
      await store.createIndexes();
    } catch (err) {
      await client.close();
      throw err;
    }
    return store;
  }

  private async createIndexes(): Promise<void> {
    // Every list query sorts by {createdAt: -1, _id: -1}; each filter it allows
    // (none, status, owner, both) has an index that ends in that order.
    await this.rooms.createIndexes([
      { key: { createdAt: -1, _id: -1 }, name: 'list' },
      { key: { status: 1, createdAt: -1, _id: -1 }, name: 'list_by_status' },
      { key: { userId: 1, createdAt: -1, _id: -1 }, name: 'list_by_owner' },
      { key: { userId: 1, status: 1, createdAt: -1, _id: -1 }, name: 'list_by_owner_status' },
    ]);
    await this.events.createIndexes([
      { key: { roomId: 1, seq: 1 }, name: 'room_seq', unique: true },
      { key: { roomId: 1, at: 1 }, name: 'room_time' },
    ]);
  }

  async getRoom(roomId: string): Promise<CatalogRoom | undefined> {
    const d = await this.rooms.findOne({ _id: roomId });
    return d === null ? undefined : fromDoc(d);
  }

  async putRoom(record: CatalogRoom): Promise<boolean> {
    const { _id, ...fields } = toDoc(record);
    try {
      const r = await this.rooms.updateOne(
        { _id, seq: { $lt: record.seq } },
        { $set: fields },
        { upsert: true },
      );
      return r.modifiedCount + r.upsertedCount > 0;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async listRooms(q: RoomListQuery): Promise<RoomListResult> {
    const and: Filter<RoomDoc>[] = [];
    if (q.status !== undefined) and.push({ status: q.status });
    if (q.owner !== undefined) and.push({ userId: q.owner });
    if (!q.viewer.granted.includes('*')) {
      and.push({
        $or: [
          { isPrivate: false },
          { userId: q.viewer.userId },
          { _id: { $in: q.viewer.granted } },
        ],
      });
    }
    if (q.after !== undefined) {
      and.push({
        $or: [
          { createdAt: { $lt: q.after.createdAt } },
          { createdAt: q.after.createdAt, _id: { $lt: q.after.id } },
        ],
      });
    }
    const docs = await this.rooms
      .find(and.length === 0 ? {} : { $and: and })
      .sort({ createdAt: -1, _id: -1 })
      .limit(q.limit + 1)
      .project<Omit<RoomDoc, 'members'>>({ members: 0 })
      .toArray();
    return {
      rooms: docs.slice(0, q.limit).map(roomOf),
      more: docs.length > q.limit,
    };
  }

  async appendEvents(
    roomId: string,
    firstSeq: number,
    events: readonly RoomEvent[],
  ): Promise<void> {
    if (events.length === 0) return;
    try {
      await this.events.bulkWrite(
        events.map((event, i) => {
          const seq = firstSeq + i;
          const doc: EventDoc = {
            _id: `${roomId}:${seq}`,
            roomId,
            seq,
            type: event.type,
            at: event.at,
            event,
          };
          const { _id, ...fields } = doc;
          return { updateOne: { filter: { _id }, update: { $setOnInsert: fields }, upsert: true } };
        }),
        { ordered: false },
      );
    } catch (err) {
      // Two upserts of one new event racing: one inserts, the other hits the key. Same event.
      if (!isDuplicateKey(err)) throw err;
    }
  }

  async readEvents(roomId: string, fromSeq: number, limit: number): Promise<ArchivedEvent[]> {
    const docs = await this.events
      .find({ roomId, seq: { $gte: fromSeq } })
      .sort({ seq: 1 })
      .limit(limit)
      .toArray();
    const out: ArchivedEvent[] = [];
    let expected = Math.max(1, fromSeq);
    for (const d of docs) {
      if (d.seq !== expected) break;
      out.push({ roomId, seq: d.seq, event: d.event });
      expected++;
    }
    return out;
  }

  async position(): Promise<number> {
    const d = await this.meta.findOne({ _id: POSITION_ID });
    return d?.streamSeq ?? 0;
  }

  async savePosition(streamSeq: number): Promise<void> {
    try {
      await this.meta.updateOne(
        { _id: POSITION_ID, streamSeq: { $lt: streamSeq } },
        { $set: { streamSeq } },
        { upsert: true },
      );
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  async clear(): Promise<void> {
    await Promise.all([
      this.rooms.deleteMany({}),
      this.events.deleteMany({}),
      this.meta.deleteMany({}),
    ]);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Drops the database (tests: each run gets its own). */
  async dropDatabase(): Promise<void> {
    await this.client.db(this.rooms.dbName).dropDatabase();
  }
}
