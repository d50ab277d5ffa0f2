/**
 * Persisted room actors (xstate `getPersistedSnapshot()`), so a restart replays
 * only the tail of each room's log. A snapshot is an optimization, never the truth:
 * the state after snapshot + tail equals the state after the whole log.
 *
 * Live and ended rooms are kept apart. A takeover reads every live room's snapshot
 * (`loadAll`) but only the names of the ended ones (`endedRooms`): an ended room's
 * last snapshot is what tells a takeover to skip it, and reading every one of them
 * made each takeover cost about 15 µs per room ever held (40,000 rooms: 0.6 s, their
 * decoded snapshots all in the heap at once).
 */
import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Snapshot } from 'xstate';
import { decode, encode } from '#shared/runtime/bus.js';
import {
  bucketNames,
  kvKeys,
  kvStream,
  kvSubject,
  retryOrderedRead,
} from '#shared/runtime/streams.js';
import { RoomActor } from './room.actor.js';

export interface SnapshotRecord {
  v: 1;
  roomId: string;
  /** The room sequence the snapshot reflects. */
  seq: number;
  /** Stream sequence of the room's last batch at that point. */
  streamSeq: number;
  /** Batches of the room in the log at that point (compared with the log's count on restart). */
  batches: number;
  snapshot: Snapshot<unknown>;
}

export interface SnapshotStore {
  /**
   * Stores a room's snapshot. A snapshot of an ended room is its last: it is kept
   * with the ended rooms and the room's live snapshot goes.
   */
  save(record: SnapshotRecord): Promise<void>;
  /** Every live room's latest snapshot (ended rooms stored before they were kept apart too). */
  loadAll(): Promise<Map<string, SnapshotRecord>>;
  /** The ids of the ended rooms (their snapshots are not read). */
  endedRooms(): Promise<Set<string>>;
  /** One room's latest snapshot, ended or not (undefined: none, or its parts are not all there). */
  load(roomId: string): Promise<SnapshotRecord | undefined>;
}

export class MemorySnapshotStore implements SnapshotStore {
  /** Live rooms' snapshots. */
  readonly records = new Map<string, SnapshotRecord>();
  /** Ended rooms' last snapshots. */
  readonly ended = new Map<string, SnapshotRecord>();
  save(record: SnapshotRecord): Promise<void> {
    // Stored as JSON, as the KV store does, so tests see the same round trip.
    const stored = JSON.parse(JSON.stringify(record)) as SnapshotRecord;
    if (RoomActor.endedIn(record.snapshot)) {
      this.ended.set(record.roomId, stored);
      this.records.delete(record.roomId);
    } else this.records.set(record.roomId, stored);
    return Promise.resolve();
  }
  loadAll(): Promise<Map<string, SnapshotRecord>> {
    return Promise.resolve(new Map(this.records));
  }
  endedRooms(): Promise<Set<string>> {
    return Promise.resolve(new Set(this.ended.keys()));
  }
  load(roomId: string): Promise<SnapshotRecord | undefined> {
    return Promise.resolve(this.ended.get(roomId) ?? this.records.get(roomId));
  }
}

/**
 * What the room's own key holds when its snapshot did not fit one message: where
 * the parts are. Parts are keyed by generation (the snapshot's room sequence) and
 * written before this header, so the header only ever names parts that are all
 * there; the previous generation's parts are purged after it.
 */
interface PartedHeader {
  v: 1;
  roomId: string;
  parts: { gen: number; count: number; bytes: number };
}

/** The key of part `i` of generation `gen` (room ids hold no `.`: isSubjectToken). */
const partKey = (roomId: string, gen: number, i: number): string => `${roomId}.${gen}.${i}`;

/**
 * Room snapshots in the JetStream KV bucket `room-snapshots`, one key per live room.
 * A snapshot larger than what one message may carry (a room of thousands of
 * members: about 100 B each) is stored in parts under `<roomId>.<gen>.<i>`. An
 * ended room's last snapshot goes to the bucket `room-ended` (one message: an ended
 * room has no members), and its keys in `room-snapshots` are purged whole (a KV
 * delete would leave a marker that every takeover reads again).
 */
export class KvSnapshotStore implements SnapshotStore {
  /** The generation of each room's parts in the store, to purge when replaced. */
  private readonly partGen = new Map<string, { gen: number; count: number }>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly ended: KV,
    /** Largest value written in one message: the server's max_payload, less headroom. */
    private readonly partBytes: number,
  ) {}

  static async open(
    nc: NatsConnection,
    o: { replicas: number; partBytes?: number },
  ): Promise<KvSnapshotStore> {
    const kvm = new Kvm(nc);
    const opts = { history: 1, replicas: o.replicas };
    const [kv, ended] = await Promise.all([
      kvm.create(bucketNames.roomSnapshots, opts),
      kvm.create(bucketNames.roomEnded, opts),
    ]);
    // Headroom for the headers and the protocol line that go with a value.
    const fits = (nc.info?.max_payload ?? 1024 * 1024) - 16 * 1024;
    const partBytes = Math.max(1024, Math.min(o.partBytes ?? fits, fits));
    return new KvSnapshotStore(nc, await jetstreamManager(nc), kv, ended, partBytes);
  }

  async save(record: SnapshotRecord): Promise<void> {
    const data = encode(record);
    const old = this.partGen.get(record.roomId);
    if (RoomActor.endedIn(record.snapshot) && data.byteLength <= this.partBytes) {
      await this.ended.put(record.roomId, data);
      // Until this purge is done the live key holds an older snapshot too: the ended
      // one wins wherever both are read (`load`, and recovery through `endedRooms`).
      const stream = kvStream(bucketNames.roomSnapshots);
      const key = kvSubject(bucketNames.roomSnapshots, record.roomId);
      await this.jsm.streams.purge(stream, { filter: key });
      if (old !== undefined) await this.jsm.streams.purge(stream, { filter: `${key}.>` });
      this.partGen.delete(record.roomId);
      return;
    }
    if (data.byteLength <= this.partBytes) {
      await this.kv.put(record.roomId, data);
      this.partGen.delete(record.roomId);
    } else {
      const gen = record.seq;
      const count = Math.ceil(data.byteLength / this.partBytes);
      for (let i = 0; i < count; i++) {
        const part = data.subarray(i * this.partBytes, (i + 1) * this.partBytes);
        await this.kv.put(partKey(record.roomId, gen, i), part);
      }
      const header: PartedHeader = {
        v: 1,
        roomId: record.roomId,
        parts: { gen, count, bytes: data.byteLength },
      };
      await this.kv.put(record.roomId, encode(header));
      this.partGen.set(record.roomId, { gen, count });
      if (old?.gen === gen) return;
    }
    if (old !== undefined) await this.purgeParts(record.roomId, old.gen, old.count);
  }

  /**
   * Reads the last value of every key with one ordered consumer (not a get per key),
   * puts parted snapshots together, and purges parts no header names (a write cut
   * short by a crash).
   */
  async loadAll(): Promise<Map<string, SnapshotRecord>> {
    const out = new Map<string, SnapshotRecord>();
    const status = await this.kv.status();
    if (status.values === 0) return out;
    const headers = new Map<string, PartedHeader>();
    const parts = new Map<string, Uint8Array>();
    await this.readLast((key, data) => {
      if (key.includes('.')) {
        parts.set(key, data);
        return;
      }
      const value = decode<SnapshotRecord | PartedHeader>(data);
      if ('parts' in value) headers.set(key, value);
      else out.set(value.roomId, value);
    });
    for (const [roomId, h] of headers) {
      const record = assemble(roomId, h, parts);
      if (record !== undefined) out.set(roomId, record);
      this.partGen.set(roomId, { gen: h.parts.gen, count: h.parts.count });
    }
    // Parts of no current header: purged, best effort (a restore never reads them).
    for (const key of parts.keys()) {
      const [roomId = '', gen = ''] = key.split('.');
      if (this.partGen.get(roomId)?.gen !== Number(gen))
        await this.kv.purge(key).catch(() => undefined);
    }
    return out;
  }

  async endedRooms(): Promise<Set<string>> {
    return new Set(await kvKeys(this.jsm, bucketNames.roomEnded));
  }

  async load(roomId: string): Promise<SnapshotRecord | undefined> {
    const last = await this.ended.get(roomId);
    if (last !== null && last.length > 0) return decode<SnapshotRecord>(last.value);
    const entry = await this.kv.get(roomId);
    // Absent, or deleted/purged (an empty marker).
    if (entry === null || entry.length === 0) return undefined;
    const value = decode<SnapshotRecord | PartedHeader>(entry.value);
    if (!('parts' in value)) return value;
    // The parts this replica purges once it writes the room's next snapshot (as loadAll).
    this.partGen.set(roomId, { gen: value.parts.gen, count: value.parts.count });
    const parts = new Map<string, Uint8Array>();
    for (let i = 0; i < value.parts.count; i++) {
      const key = partKey(roomId, value.parts.gen, i);
      const part = await this.kv.get(key);
      if (part !== null && part.length > 0) parts.set(key, part.value);
    }
    return assemble(roomId, value, parts);
  }

  private async purgeParts(roomId: string, gen: number, count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.kv.purge(partKey(roomId, gen, i));
  }

  /** Every key's last value; a read that timed out starts again (`retryOrderedRead`). */
  private readLast(onValue: (key: string, data: Uint8Array) => void): Promise<void> {
    return retryOrderedRead(() => this.readLastOnce(onValue));
  }

  private async readLastOnce(onValue: (key: string, data: Uint8Array) => void): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(kvStream(bucketNames.roomSnapshots), {
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const prefix = kvSubject(bucketNames.roomSnapshots, '');
    try {
      for (;;) {
        const msgs = await consumer.fetch({ max_messages: 1000, expires: 1000 });
        let got = 0;
        for await (const m of msgs) {
          got++;
          // Purged and deleted keys leave an empty marker.
          if (m.data.length > 0) onValue(m.subject.slice(prefix.length), m.data);
          if (m.info.pending === 0) return;
        }
        if (got === 0) return;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }
}

/** The record a parted header names, or undefined when a part is missing or short. */
function assemble(
  roomId: string,
  h: PartedHeader,
  parts: ReadonlyMap<string, Uint8Array>,
): SnapshotRecord | undefined {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < h.parts.count; i++) {
    const part = parts.get(partKey(roomId, h.parts.gen, i));
    if (part === undefined) return undefined;
    chunks.push(part);
  }
  const data = Buffer.concat(chunks);
  if (data.byteLength !== h.parts.bytes) return undefined;
  return decode<SnapshotRecord>(data);
}
