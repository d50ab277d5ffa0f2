/**
 * The JetStream streams and KV buckets the system owns: names and configuration
 * in one place, created idempotently by whichever service starts first.
 */
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { subjects } from './subjects.js';

/** Names of streams and buckets. */
export const streamNames = {
  /** The durable, replayable log of every room transition. */
  roomEvents: 'ROOM_EVENTS',
  /** Raised and resolved alerts. */
  alerts: 'ALERTS',
} as const;

export const bucketNames = {
  /** Persisted actor snapshots, keyed by room id: fast restart. */
  roomSnapshots: 'room-snapshots',
  /** Partition ownership leases of room-service replicas. */
  roomLeases: 'room-leases',
} as const;

/** ROOM_EVENTS: kept forever, file storage, two minutes of `Nats-Msg-Id` dedupe. */
export function roomEventsConfig(
  replicas: number,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: streamNames.roomEvents,
    subjects: [subjects.roomEventsAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    duplicate_window: nanos(120_000),
    // An append fenced on the room's last sequence needs per-subject history: keep it all.
    max_msgs_per_subject: -1,
    deny_delete: true,
    deny_purge: false,
    allow_direct: true,
  };
}

/** ALERTS: 30 days of raised and resolved alerts. */
export function alertsConfig(
  replicas: number,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: streamNames.alerts,
    subjects: ['alert.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: nanos(30 * 24 * 3600 * 1000),
    duplicate_window: nanos(120_000),
  };
}

/** Creates the stream, or updates it to `config` when it exists. */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
}
