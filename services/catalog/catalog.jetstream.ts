/**
 * The catalogue in JetStream KV: the default store, with nothing to run but NATS.
 *
 * - Bucket `catalog`: `room.<id>` holds a room's record, `meta.position` the
 *   projector's position. Writes are compare-and-set on the key's revision, so the
 *   seq check and the write are one step.
 * - Archived events: read from ROOM_EVENTS itself (catalog.archive.ts), not copied.
 * - List queries: KV has no secondary index, so each store keeps the records'
 *   LiveRoom parts in memory, in list order, fed by an ordered consumer on the
 *   bucket's stream (every other writer's changes arrive there too) and by its own
 *   writes at once (a list right after a write sees it).
 */
import {
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { decode, encode } from '#shared/runtime/bus.js';
import type { ArchivedEvent } from '#shared/room/catalog.js';
import { viewerMaySee } from '#shared/room/room.access.js';
import type { Logger } from '#shared/runtime/log.js';
import { bucketNames, isWrongLastSequence, kvStream, kvSubject } from '#shared/runtime/streams.js';
import {
  compareRooms,
  positionOf,
  type CatalogRoom,
  type CatalogStore,
  type ListPosition,
  type RoomListQuery,
  type RoomListResult,
} from './catalog.store.js';
import { RoomLogArchive } from './catalog.archive.js';

export interface JetStreamCatalogOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Replicas of the bucket when it is created. */
  replicas: number;
  log: Logger;
  /** The bucket's name (tests give each store its own). */
  bucket?: string;
}

type ListedRoom = CatalogRoom['room'];
const ROOM_PREFIX = 'room.';
const POSITION_KEY = 'meta.position';
/** Compare-and-set attempts before a write gives up (only contention with another writer retries). */
const CAS_ATTEMPTS = 16;

/** The LiveRoom parts of every record, in list order, with the revision each came from. */
class RoomIndex {
  private readonly byId = new Map<string, { room: ListedRoom; rev: number; seq: number }>();
  /** Positions in list order; a room's position never changes. */
  private readonly order: ListPosition[] = [];
  /** Revisions at or below this were purged by `clear` and must not come back. */
  floor = 0;

  get(id: string): { rev: number; seq: number } | undefined {
    return this.byId.get(id);
  }

  /** Applies a revision of a room's record (undefined: deleted) unless a newer one is known. */
  apply(id: string, rev: number, record: { room: ListedRoom; seq: number } | undefined): void {
    if (rev <= this.floor) return;
    const known = this.byId.get(id);
    if (known !== undefined && known.rev >= rev) return;
    if (record === undefined) {
      if (known === undefined) return;
      this.byId.delete(id);
      this.order.splice(this.find(positionOf(known.room)), 1);
      return;
    }
    if (known === undefined)
      this.order.splice(this.find(positionOf(record.room)), 0, positionOf(record.room));
    this.byId.set(id, { room: record.room, rev, seq: record.seq });
  }

  reset(floor: number): void {
    this.floor = floor;
    this.byId.clear();
    this.order.length = 0;
  }

  /** The index of the first position not before `p` in list order. */
  private find(p: ListPosition): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareRooms(this.order[mid] as ListPosition, p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  list(q: RoomListQuery): RoomListResult {
    let i = 0;
    if (q.after !== undefined) {
      i = this.find(q.after);
      if (i < this.order.length && compareRooms(this.order[i] as ListPosition, q.after) === 0) i++;
    }
    const rooms: ListedRoom[] = [];
    for (; i < this.order.length; i++) {
      const entry = this.byId.get((this.order[i] as ListPosition).id);
      if (entry === undefined) continue;
      const r = entry.room;
      if (q.status !== undefined && r.status !== q.status) continue;
      if (q.owner !== undefined && r.userId !== q.owner) continue;
      if (!viewerMaySee(r, q.viewer)) continue;
      if (rooms.length === q.limit) return { rooms, more: true };
      rooms.push(r);
    }
    return { rooms, more: false };
  }
}

export class JetStreamCatalogStore implements CatalogStore {
  readonly kind = 'jetstream';
  private readonly index = new RoomIndex();
  private follower: ConsumerMessages | undefined;

  private readonly archive: RoomLogArchive;

  private constructor(
    private readonly o: JetStreamCatalogOptions,
    private readonly rooms: KV,
    private readonly bucket: string,
  ) {
    this.archive = new RoomLogArchive(o.js, o.jsm);
  }

  /** Creates (or binds to) the bucket and loads the list index before resolving. */
  static async open(o: JetStreamCatalogOptions): Promise<JetStreamCatalogStore> {
    const bucket = o.bucket ?? bucketNames.catalog;
    const rooms = await new Kvm(o.js).create(bucket, { history: 1, replicas: o.replicas });
    const store = new JetStreamCatalogStore(o, rooms, bucket);
    await store.follow();
    return store;
  }

  private get roomsStream(): string {
    return kvStream(this.bucket);
  }

  /** Follows every record's latest revision; resolves once the index holds them all. */
  private async follow(): Promise<void> {
    const prefix = kvSubject(this.bucket, ROOM_PREFIX);
    const consumer = await this.o.js.consumers.get(this.roomsStream, {
      filter_subjects: `${prefix}>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const pending = (await consumer.info(true)).num_pending;
    let loaded!: () => void;
    const ready = new Promise<void>((resolve) => (loaded = resolve));
    if (pending === 0) loaded();
    this.follower = await consumer.consume({
      callback: (m: JsMsg) => {
        try {
          const id = m.subject.slice(prefix.length);
          const op = m.headers?.get('KV-Operation') ?? '';
          this.index.apply(
            id,
            m.seq,
            op === 'DEL' || op === 'PURGE' ? undefined : decode<CatalogRoom>(m.data),
          );
        } catch (err) {
          this.o.log.error('catalogue record unreadable', { subject: m.subject, err });
        }
        if (m.info.pending === 0) loaded();
      },
    });
    await ready;
  }

  async getRoom(roomId: string): Promise<CatalogRoom | undefined> {
    const e = await this.rooms.get(ROOM_PREFIX + roomId);
    if (e === null || e.operation !== 'PUT') return undefined;
    const record = e.json<CatalogRoom>();
    this.index.apply(roomId, e.revision, record);
    return record;
  }

  async putRoom(record: CatalogRoom): Promise<boolean> {
    const id = record.room.id;
    const key = ROOM_PREFIX + id;
    const data = encode(record);
    // First try with the revision the index knows (usually fresh: the projector has
    // just read the record); on a conflict read the key and decide again.
    let known: { rev: number; seq: number } | undefined = this.index.get(id);
    for (let attempt = 0; ; attempt++) {
      if (known !== undefined && known.seq >= record.seq) return false;
      try {
        const rev =
          known === undefined
            ? await this.rooms.create(key, data)
            : await this.rooms.update(key, data, known.rev);
        this.index.apply(id, rev, record);
        return true;
      } catch (err) {
        if (!isWrongLastSequence(err) || attempt >= CAS_ATTEMPTS) throw err;
      }
      const e = await this.rooms.get(key);
      known =
        e === null || e.operation !== 'PUT'
          ? undefined
          : { rev: e.revision, seq: e.json<CatalogRoom>().seq };
    }
  }

  listRooms(query: RoomListQuery): Promise<RoomListResult> {
    return Promise.resolve(this.index.list(query));
  }

  /** Nothing to copy: the log is the archive (catalog.archive.ts). */
  appendEvents(): Promise<void> {
    return Promise.resolve();
  }

  readEvents(roomId: string, fromSeq: number, limit: number): Promise<ArchivedEvent[]> {
    return this.archive.readEvents(roomId, fromSeq, limit);
  }

  async position(): Promise<number> {
    const e = await this.rooms.get(POSITION_KEY);
    return e === null || e.operation !== 'PUT' ? 0 : e.json<number>();
  }

  async savePosition(streamSeq: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const e = await this.rooms.get(POSITION_KEY);
      const live = e !== null && e.operation === 'PUT';
      if (live && e.json<number>() >= streamSeq) return;
      try {
        if (live) await this.rooms.update(POSITION_KEY, encode(streamSeq), e.revision);
        else await this.rooms.create(POSITION_KEY, encode(streamSeq));
        return;
      } catch (err) {
        if (!isWrongLastSequence(err) || attempt >= CAS_ATTEMPTS) throw err;
      }
    }
  }

  async clear(): Promise<void> {
    await this.o.jsm.streams.purge(this.roomsStream);
    const info = await this.o.jsm.streams.info(this.roomsStream);
    // The follower may still deliver revisions from before the purge: the floor keeps them out.
    this.index.reset(info.state.last_seq);
  }

  async close(): Promise<void> {
    await this.follower?.close();
    this.follower = undefined;
  }
}
