/**
 * THE definition of who may do what on the bus: one NATS user per credential,
 * with publish and subscribe allow-lists built from `subjects` and the JetStream
 * API subjects each really uses. `npm start`, compose (scripts/nats.credentials.ts)
 * and the tests (test/helpers/nats.ts) all write the server's authorization from
 * this table, so the permissions a test runs with are the ones that ship.
 *
 * Everything not listed is refused by the server. Each credential reads replies only
 * on its own inbox prefix (`_INBOX_<credential>`), so no one reads another's answers;
 * a service that answers requests may publish into the inboxes of those that ask it,
 * and no others.
 *
 * Not `allow_responses`, which was the rule until 2026-12-05: nats-server then notes
 * every message delivered to the user that carries a reply subject (every JetStream
 * message does: its ack subject) for two minutes, and nats-server 2.9 walks all of
 * those notes on each delivery once there are 4,096 of them. Reading 20,000 messages
 * of ROOM_EVENTS on one connection took 2.6 s, then 9.2 s, then 23.8 s for the same
 * read again, where a user without it took 0.1–0.2 s each time: a room replica's
 * takeover, the catalogue's and the alert service's reading of the log all paid it.
 */
import { subjects } from '../wire/subjects.js';
import { bucketNames, kvStream, kvSubject, streamNames } from './streams.js';

/** The NATS users. `operator` is for tests only and never shipped by start or compose. */
export const Credential = {
  gateway: 'gateway',
  room: 'room',
  stream: 'stream',
  alert: 'alert',
  catalog: 'catalog',
  /** Operators' `npm run events`: read-only. */
  events: 'events',
  /** Test-only superuser (test drivers poke the bus anywhere). */
  operator: 'operator',
} as const;
export type Credential = (typeof Credential)[keyof typeof Credential];

/** The credentials `npm start` and compose generate: every one but the test-only superuser. */
export const shippedCredentials: readonly Credential[] = [
  Credential.gateway,
  Credential.room,
  Credential.stream,
  Credential.alert,
  Credential.catalog,
  Credential.events,
];

/** One user's permissions, in nats-server's shape. */
export interface Permissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/** The inbox prefix of `credential`: its replies arrive there and nowhere else. */
export function inboxPrefix(credential: Credential): string {
  return subjects.inbox(credential);
}

const API = '$JS.API';
/** Every JetStream client asks for the account's limits first. */
const JS_INFO = [`${API}.INFO`];

/**
 * Read a stream: info, direct and stored gets, ordered consumers (ephemeral: they
 * lapse by themselves when their reader goes), acks and flow control.
 */
function readStream(stream: string): string[] {
  return [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.>`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/**
 * Durable consumers of a stream, and deleting consumers: for services that keep a
 * position in it, never for the read-only `events` user (it could delete theirs).
 */
function consumeStream(stream: string): string[] {
  return [
    ...readStream(stream),
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `${API}.CONSUMER.DELETE.${stream}.>`,
  ];
}

/**
 * Create a stream its owner has not created yet. The alert service and the catalogue
 * read ROOM_EVENTS and create it, with the room service's own config
 * (`roomEventsConfig`), when they start first; they may never update or delete it, and
 * the room service puts its config back at every start (`ensureStream`).
 */
const createStream = (stream: string): string => `${API}.STREAM.CREATE.${stream}`;

/** Create and update a stream (its owner only). */
function ownStream(stream: string): string[] {
  return [
    `${API}.STREAM.CREATE.${stream}`,
    `${API}.STREAM.UPDATE.${stream}`,
    ...consumeStream(stream),
  ];
}

/** Get and watch a KV bucket. */
const readBucket = (bucket: string): string[] => consumeStream(kvStream(bucket));
/** Create, read and write a KV bucket (its owner only). */
const ownBucket = (bucket: string): string[] => [
  ...ownStream(kvStream(bucket)),
  kvSubject(bucket, '>'),
];

/** Every service publishes its own metric samples, and only its own. */
const metrics = (service: string): string => subjects.metric(service, '>');

/**
 * Where a service's answers go: the inboxes of the credentials that ask it. The
 * test-only `operator` asks every service; no shipped user reads its inbox.
 */
const answering = (...askers: Credential[]): string[] =>
  [...askers, Credential.operator].map((c) => `${inboxPrefix(c)}.>`);

function build(credential: Credential, publish: string[], subscribe: string[]): Permissions {
  return {
    publish: { allow: publish },
    subscribe: { allow: [...subscribe, `${inboxPrefix(credential)}.>`] },
  };
}

const table: Record<Credential, () => Permissions> = {
  // Relays what members say and hear, sends user commands for the users it verified,
  // and asks the catalogue, the alert service and the stream service on users' behalf.
  gateway: () =>
    build(
      Credential.gateway,
      [
        subjects.roomCommandAll,
        subjects.roomSignalAll('*'),
        subjects.gatewayHeartbeatAll,
        subjects.catalogQuery,
        subjects.alertsQuery,
        subjects.streamStatusAll,
        metrics('gateway'),
        ...JS_INFO,
        ...ownBucket(bucketNames.revocations),
        // Acknowledges another gateway's first signal to a member here (gateway.signal.acks.ts).
        subjects.signalAcks('*'),
        ...answering(),
      ],
      [subjects.roomBroadcast('*'), subjects.roomSignalAll('*')],
    ),
  // The only writer of ROOM_EVENTS, snapshots and leases, and of what members hear.
  room: () =>
    build(
      Credential.room,
      [
        subjects.roomEventsAll,
        subjects.roomBroadcast('*'),
        // Its container healthcheck asks a room no one creates.
        subjects.roomCommand('_healthcheck'),
        metrics('room'),
        ...JS_INFO,
        ...ownStream(streamNames.roomEvents),
        ...ownBucket(bucketNames.roomSnapshots),
        // An ended room's live snapshot is purged whole, leaving no marker (room.snapshots.ts).
        `${API}.STREAM.PURGE.${kvStream(bucketNames.roomSnapshots)}`,
        ...ownBucket(bucketNames.roomEnded),
        // The index of open rooms; a closed room's entry is removed by its sequence (room.log.ts).
        subjects.liveAll,
        ...ownStream(streamNames.roomLive),
        `${API}.STREAM.MSG.DELETE.${streamNames.roomLive}`,
        ...ownBucket(bucketNames.roomLeases),
        // Answers user, service and operators' commands (and its own healthcheck).
        ...answering(Credential.gateway, Credential.stream, Credential.events, Credential.room),
      ],
      [
        subjects.roomCommandAll,
        subjects.roomServiceCommandAll,
        subjects.roomOpsCommandAll,
        subjects.gatewayHeartbeatAll,
      ],
    ),
  // The only sender of the stream commands (SRS's view); answers stream status.
  stream: () =>
    build(
      Credential.stream,
      [
        subjects.roomServiceCommandAll,
        metrics('stream'),
        ...JS_INFO,
        ...readBucket(bucketNames.revocations),
        ...answering(Credential.gateway),
      ],
      [subjects.streamStatusAll],
    ),
  // Reads metric samples and the room log; owns ALERTS and its own buckets.
  alert: () =>
    build(
      Credential.alert,
      [
        subjects.alertAll,
        metrics('alert'),
        ...JS_INFO,
        ...ownStream(streamNames.alerts),
        createStream(streamNames.roomEvents),
        ...consumeStream(streamNames.roomEvents),
        ...ownBucket(bucketNames.alertState),
        ...ownBucket(bucketNames.alertLeader),
        ...answering(Credential.gateway),
      ],
      [subjects.metricAll, subjects.alertsQuery],
    ),
  // Reads the room log; writes only its own buckets; answers catalogue queries.
  catalog: () =>
    build(
      Credential.catalog,
      [
        // Its container healthcheck asks itself.
        subjects.catalogQuery,
        metrics('catalog'),
        ...JS_INFO,
        createStream(streamNames.roomEvents),
        ...consumeStream(streamNames.roomEvents),
        ...ownBucket(bucketNames.catalog),
        ...answering(Credential.gateway, Credential.catalog),
      ],
      [subjects.catalogQuery],
    ),
  // `npm run events`: reads the log, and asks a room for its state (read-only).
  events: () =>
    build(
      Credential.events,
      [subjects.roomOpsCommandAll, ...JS_INFO, ...readStream(streamNames.roomEvents)],
      [],
    ),
  operator: () => build(Credential.operator, ['>'], ['>']),
};

/** The permissions of `credential`. */
export function permissionsOf(credential: Credential): Permissions {
  return table[credential]();
}
