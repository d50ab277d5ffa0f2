/**
 * Persisted room actors (xstate `getPersistedSnapshot()`), so a restart replays
 * only the tail of each room's log. A snapshot is an optimization, never the truth:
 * the state after snapshot + tail equals the state after the whole log.
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Snapshot } from 'xstate';
import { decode, encode } from '#shared/runtime/bus.js';
import { bucketNames } from '#shared/runtime/streams.js';

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
  save(record: SnapshotRecord): Promise<void>;
  /** Every room's latest snapshot. */
  loadAll(): Promise<Map<string, SnapshotRecord>>;
}

export class MemorySnapshotStore implements SnapshotStore {
  readonly records = new Map<string, SnapshotRecord>();
  save(record: SnapshotRecord): Promise<void> {
    // Stored as JSON, as the KV store does, so tests see the same round trip.
    this.records.set(record.roomId, JSON.parse(JSON.stringify(record)) as SnapshotRecord);
    return Promise.resolve();
  }
  loadAll(): Promise<Map<string, SnapshotRecord>> {
    return Promise.resolve(new Map(this.records));
  }
}

/** Snapshots in the JetStream KV bucket `room-snapshots`, one key per room. */
export class KvSnapshotStore implements SnapshotStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
  ) {}

  static async open(nc: NatsConnection, o: { replicas: number }): Promise<KvSnapshotStore> {
    const kv = await new Kvm(nc).create(bucketNames.roomSnapshots, {
      history: 1,
      replicas: o.replicas,
    });
    return new KvSnapshotStore(nc, kv);
  }

  async save(record: SnapshotRecord): Promise<void> {
    await this.kv.put(record.roomId, encode(record));
  }

  /** Reads the last value of every key with one ordered consumer (not a get per key). */
  async loadAll(): Promise<Map<string, SnapshotRecord>> {
    const out = new Map<string, SnapshotRecord>();
    const status = await this.kv.status();
    if (status.values === 0) return out;
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(`KV_${bucketNames.roomSnapshots}`, {
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    try {
      for (;;) {
        const msgs = await consumer.fetch({ max_messages: 1000, expires: 1000 });
        let got = 0;
        let done = false;
        for await (const m of msgs) {
          got++;
          if (m.data.length > 0) {
            const r = decode<SnapshotRecord>(m.data);
            out.set(r.roomId, r);
          }
          if (m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (done || got === 0) return out;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }
}
