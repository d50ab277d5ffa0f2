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
  type ConsumerConfig,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { TimeoutError, nanos, type NatsConnection } from '@nats-io/nats-core';
import { decode } from './bus.js';
import { JetStreamPublishError } from './jetstream.publisher.js';
import type { Logger } from './log.js';
import { subjects } from '../wire/subjects.js';

/** Names of streams and buckets. */
export const streamNames = {
  /** The durable, replayable log of every room transition. */
  roomEvents: 'ROOM_EVENTS',
  /**
   * The index of rooms that may be open (services/room/room.log.ts): what a takeover
   * lists, so that its cost follows the rooms open, not every room ever held.
   */
  roomLive: 'ROOM_LIVE',
  /** Raised and resolved alerts. */
  alerts: 'ALERTS',
} as const;

export const bucketNames = {
  /** Persisted actor snapshots of live rooms, keyed by room id: fast restart and takeover. */
  roomSnapshots: 'room-snapshots',
  /** The last snapshot of each ended room, keyed by room id: never read by a takeover. */
  roomEnded: 'room-ended',
  /** Partition ownership leases of room-service replicas. */
  roomLeases: 'room-leases',
  /** The alert service's saved state: rooms it watches and the alerts raised now. */
  alertState: 'alert-state',
  /** Which alert-service instance is the active one (the others stand by). */
  alertLeader: 'alert-leader',
  /** The room catalogue: one record per room (`room.<id>`) and the projector's position (`meta.position`). */
  catalog: 'catalog',
  /** Revoked sessions and tokens (`user.<id>`, `jti.<id>`); see shared/auth/revocations.ts. */
  revocations: 'revocations',
} as const;

/** The JetStream stream that holds a KV bucket. */
export const kvStream = (bucket: string): string => `KV_${bucket}`;

/** The subject a KV key (or key pattern: `*`, `>`) is stored under. */
export const kvSubject = (bucket: string, key: string): string => `$KV.${bucket}.${key}`;

/**
 * The keys of `bucket` matching `pattern`, names only, from one (paged) stream-info
 * request: no values are read and no consumer is made (one per call is heavy, and
 * with a node dead its setup can wait with no deadline). A deleted key is listed
 * too: its marker is its last message.
 */
export async function kvKeys(
  jsm: JetStreamManager,
  bucket: string,
  pattern = '>',
): Promise<string[]> {
  const info = await jsm.streams.info(kvStream(bucket), {
    subjects_filter: kvSubject(bucket, pattern),
  });
  const prefix = kvSubject(bucket, '').length;
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix));
}

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

/**
 * ROOM_LIVE: one message per room that may be open, removed by sequence when the room
 * is closed. Never purged: nats-server 2.9.10 replicates a purge filtered to one
 * subject wrongly across a node's kill and return (measured: a three-node cluster,
 * keys written and purged one at a time while nodes were killed in turn, lost every
 * message below some sequence, thousands of keys never purged); removing messages by
 * sequence lost none in the same runs. Reads come from the leader (no direct gets).
 */
export function roomLiveConfig(
  replicas: number,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: streamNames.roomLive,
    subjects: [subjects.liveAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_msgs_per_subject: 1,
    deny_delete: false,
    deny_purge: true,
    allow_direct: false,
  };
}

/** ALERTS: 30 days of raised and resolved alerts. */
export function alertsConfig(
  replicas: number,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: streamNames.alerts,
    subjects: [subjects.alertAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    max_age: nanos(30 * 24 * 3600 * 1000),
    duplicate_window: nanos(120_000),
  };
}

/**
 * Creates the stream, or updates it to `config` when it exists. A service that
 * only reads a stream it does not own passes `update: false`: it must not change
 * (for example) the replicas its owner chose.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
  options: { update?: boolean } = {},
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    if (options.update !== false) await jsm.streams.update(config.name, config);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
}

/**
 * Creates a durable consumer, or updates the settings that may change (ack wait,
 * max ack pending) when it exists. Where it starts (`deliver_policy`) is fixed
 * when it is first created.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  try {
    await jsm.consumers.info(stream, config.durable_name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) {
      await jsm.consumers.add(stream, config);
      return;
    }
    throw err;
  }
  await jsm.consumers.update(stream, config.durable_name, {
    ...(config.ack_wait === undefined ? {} : { ack_wait: config.ack_wait }),
    ...(config.max_ack_pending === undefined ? {} : { max_ack_pending: config.max_ack_pending }),
  });
}

/**
 * Decodes a JetStream message, or terminates it (logged) when it is not JSON: a
 * poison message must not come back forever.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the stream decides T
export function decodeOrTerm<T>(m: JsMsg, log: Logger): T | undefined {
  try {
    return decode<T>(m.data);
  } catch (err) {
    log.error('undecodable message; terminated', { subject: m.subject, seq: m.seq, err });
    m.term();
    return undefined;
  }
}

/** True when JetStream answered that the message asked for is not there (removed, or replaced). */
export function isNoMessage(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound;
}

/**
 * True when JetStream refused a write because the subject (or KV key) moved past
 * the sequence the writer expected: someone else wrote since. That is how a fenced
 * writer learns it is not the only one.
 */
export function isWrongLastSequence(err: unknown): boolean {
  // nats.js's clients throw JetStreamApiError; our own publisher (jetstream.publisher.ts)
  // JetStreamPublishError with the same API code.
  const code =
    err instanceof JetStreamApiError || err instanceof JetStreamPublishError ? err.code : 0;
  return (
    code === JetStreamApiCodes.StreamWrongLastSequence ||
    code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
  );
}

/**
 * A KV bucket of leases (room partitions, the active alert service): each key
 * lives `leaseMs` unless renewed, and it is the *server* that expires it, so a
 * dead holder's lease lapses whatever its clock said.
 */
export function openLeaseBucket(
  nc: NatsConnection,
  name: string,
  leaseMs: number,
  replicas: number,
): Promise<KV> {
  return new Kvm(nc).create(name, { ttl: leaseMs, history: 1, replicas });
}

/** How often a lease of `leaseMs` is renewed: three chances before it lapses. */
export function leaseRenewMs(leaseMs: number): number {
  return Math.max(50, Math.floor(leaseMs / 3));
}

/**
 * Attempts of an ordered read before its timeout is the caller's (see `retryOrderedRead`).
 * With one node of three down an attempt lands on it about one time in three (measured
 * on 2.9: 7 of 23) and costs a whole timeout, so 4 attempts leave about 1 read in 80
 * failing while a read that fails takes 4 timeouts; more attempts would hold a room (and
 * the commands behind it) longer still.
 */
export const ORDERED_READ_ATTEMPTS = 4;

/**
 * Runs an ordered-consumer read again when it timed out. On a cluster with one node
 * down, nats-server places a read's ephemeral (R1) consumer on any peer of the
 * stream, the dead one included, and that consumer then never answers (measured on
 * 2.9: a third to a half of the reads while a node of three was down). Each attempt
 * is placed anew; `read` resumes from what the caller has seen so far.
 */
export async function retryOrderedRead<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof TimeoutError) || attempt >= ORDERED_READ_ATTEMPTS) throw err;
    }
  }
}
