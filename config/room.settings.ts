/** The room service: lifecycle limits, storage, partitions and leases, snapshots. */
import { int, oneOf, str } from './setting.define.js';
import type { Check, SettingGroup, Values } from './setting.define.js';
import { SUBJECT_ID } from './setting.checks.js';

export const roomSettings = {
  resumeGraceMs: int(
    'ROOM_RESUME_GRACE_MS',
    20_000,
    'How long a dropped member keeps its place and peer id, in ms.',
    0,
    3_600_000,
  ),
  maxTitleChars: int(
    'ROOM_MAX_TITLE_CHARS',
    200,
    'Longest room title, in characters (checked by the REST API before the room service).',
    1,
    10_000,
  ),
  defaultMaxViewers: int(
    'ROOM_DEFAULT_MAX_VIEWERS',
    100,
    'Capacity of a room created without maxViewers.',
    1,
    1_000_000,
  ),
  maxViewersLimit: int(
    'ROOM_MAX_VIEWERS_LIMIT',
    10_000,
    'Largest maxViewers a room may ask for.',
    1,
    10_000_000,
  ),
  stageMax: int(
    'ROOM_STAGE_MAX',
    6,
    "Most members on a room's stage (the publisher and its co-hosts, who see each other as peers); everyone else is audience.",
    1,
    64,
  ),
  statsIntervalMs: int(
    'ROOM_STATS_INTERVAL_MS',
    1000,
    'Shortest time between two `room_stats` frames of a room (its viewer count, sent while it changes), in ms.',
    50,
    60_000,
  ),
  storage: oneOf(
    'ROOM_STORAGE',
    ['jetstream', 'memory'],
    'jetstream',
    'Where room events and snapshots live: `jetstream` (durable) or `memory` (nothing survives a restart).',
  ),
  replicaId: str(
    'ROOM_REPLICA_ID',
    undefined,
    'Name of this room-service replica (leases, message ids); unique among live replicas. A stable name takes its own leases back at once after a crash. Defaults to host-pid-random.',
  ),
  partitions: int(
    'ROOM_PARTITIONS',
    16,
    'Partitions rooms are spread over; each is owned by one replica. The same on every replica; change only on an empty system.',
    1,
    4096,
  ),
  leaseMs: int(
    'ROOM_LEASE_MS',
    6000,
    "Lifetime of a partition lease; a dead replica's rooms move within about this long, in ms.",
    300,
    600_000,
  ),
  snapshotEvery: int(
    'ROOM_SNAPSHOT_EVERY',
    32,
    "A room is snapshotted after this many new events, or after half its member count if that is more (a snapshot's cost grows with the room: this keeps it a constant cost per event).",
    1,
    1_000_000,
  ),
  endedKept: int(
    'ROOM_ENDED_KEPT',
    1024,
    'Ended rooms a replica keeps at hand after letting them go (the most recently ended or asked for); any other ended room is read back from its snapshot when a command names it.',
    0,
    1_000_000,
  ),
  appendBatchMax: int(
    'ROOM_APPEND_BATCH_MAX',
    256,
    "Most commands of one room whose events go to the log in one append. While a room's append is under way, the events of its next commands gather into the next (group commit).",
    1,
    4096,
  ),
  snapshotIntervalMs: int(
    'ROOM_SNAPSHOT_INTERVAL_MS',
    5000,
    'Rooms with events not yet in a snapshot are snapshotted this often, in ms (bounds the replay after a crash).',
    100,
    3_600_000,
  ),
  gatewayTimeoutMs: int(
    'ROOM_GATEWAY_TIMEOUT_MS',
    15_000,
    'A gateway silent this long is taken for dead: its members are treated as dropped, in ms.',
    1000,
    3_600_000,
  ),
} satisfies SettingGroup;

export type RoomConfig = Values<typeof roomSettings>;

export const roomChecks: readonly Check<{ room: RoomConfig }>[] = [
  {
    rule: 'ROOM_REPLICA_ID is a subject-safe id',
    names: ['ROOM_REPLICA_ID'],
    broken: ({ room }) => room.replicaId !== undefined && !SUBJECT_ID.test(room.replicaId),
    message: 'ROOM_REPLICA_ID: letters, digits, _ and - only',
  },
];
