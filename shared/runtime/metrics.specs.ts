/**
 * The definition of every instrument the services record into (name, help,
 * unit, labels, buckets), and the closed label sets that need a mapping
 * (`closeReason`). Pure data: the registry (metrics.registry.ts) builds one typed
 * instrument per entry.
 */
import { CloseCode } from '../wire/errors.js';

/** The services, as they name themselves in metrics, traces and subjects. */
export const ServiceName = {
  gateway: 'gateway',
  room: 'room',
  stream: 'stream',
  alert: 'alert',
  catalog: 'catalog',
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

/** How an instrument aggregates. */
export type Kind = 'counter' | 'gauge' | 'histogram';
/** One instrument's definition. */
export interface Spec {
  readonly kind: Kind;
  /** The name in metric events; Prometheus shows `roomcast_<name>` (counters end in `_total`). */
  readonly name: string;
  readonly help: string;
  /** UCUM unit, for those with one (seconds, bytes). */
  readonly unit?: string;
  readonly labels: readonly string[];
  /** Histogram bucket bounds, in the instrument's unit. */
  readonly buckets?: readonly number[];
  /** False for instruments published as metric events only (per-room series). */
  readonly prometheus?: boolean;
}

/** Every instrument, by the name services call it by. */
export const instrumentSpecs = {
  // gateway
  wsConnections: {
    kind: 'gauge',
    name: 'ws_connections',
    help: 'WebSocket connections open now.',
    labels: [],
  },
  roomCommandsWaiting: {
    kind: 'gauge',
    name: 'room_commands_waiting',
    help: 'Room commands waiting in this process for a slot (ROOM_COMMANDS_IN_FLIGHT per room), over all rooms: a storm being answered, or a room service slow to answer.',
    labels: [],
  },
  wsOpened: {
    kind: 'counter',
    name: 'ws_connections_opened',
    help: 'WebSocket connections accepted.',
    labels: [],
  },
  wsClosed: {
    kind: 'counter',
    name: 'ws_connections_closed',
    help: 'WebSocket connections closed, by reason (see closeReason).',
    labels: ['reason'],
  },
  framesIn: {
    kind: 'counter',
    name: 'ws_frames_in',
    help: 'Frames received from clients, by frame type (`invalid` for those refused by the parser, `rate_limited` for those dropped by the rate limit).',
    labels: ['type'],
  },
  framesOut: {
    kind: 'counter',
    name: 'ws_frames_out',
    help: 'Frames sent to clients, by frame type.',
    labels: ['type'],
  },
  messageDuration: {
    kind: 'histogram',
    name: 'message_duration_seconds',
    help: 'Time from a client frame arriving to its handling being done (reply sent or frame relayed), by frame type.',
    unit: 's',
    labels: ['type'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  },
  // room service
  rooms: {
    kind: 'gauge',
    name: 'rooms',
    help: 'Rooms held by this room-service replica, by status (an ended room is let go once its last snapshot is stored).',
    labels: ['status'],
  },
  members: {
    kind: 'gauge',
    name: 'room_members',
    help: 'Members of the rooms held by this replica (connected or within their resume grace), by role.',
    labels: ['role'],
  },
  publishers: {
    kind: 'gauge',
    name: 'room_publishers',
    help: 'Rooms with a publisher, by publisher kind (peer: WebRTC through the gateway; stream: into SRS).',
    labels: ['kind'],
  },
  roomPartitions: {
    kind: 'gauge',
    name: 'room_partitions',
    help: 'Room partitions this replica owns now (its leases).',
    labels: [],
  },
  roomPartitionLoad: {
    kind: 'histogram',
    name: 'room_partition_load_seconds',
    help: 'Time a replica took to load the rooms of the partitions it gained (at its start, or taking over from a replica that went away). It lists every room ever held by name, so it grows slowly with them.',
    unit: 's',
    labels: [],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  roomCommandsMoved: {
    kind: 'counter',
    name: 'room_commands_moved',
    help: 'Room commands not run here because their partition moved to another replica before their turn; their callers are answered UNAVAILABLE and retry.',
    labels: [],
  },
  // stream service
  streamsActive: {
    kind: 'gauge',
    name: 'streams_active',
    help: 'Streams SRS carries with an active publisher, as of the last poll.',
    labels: [],
  },
  hookCalls: {
    kind: 'counter',
    name: 'srs_hook_calls',
    help: 'SRS http_hooks answered, by action (on_publish, ...), result (allowed, denied, error) and reason (the error code, `none` when allowed).',
    labels: ['action', 'result', 'reason'],
  },
  srsPollErrors: {
    kind: 'counter',
    name: 'srs_poll_errors',
    help: 'Polls of the SRS HTTP API that failed.',
    labels: [],
  },
  srsUp: {
    kind: 'gauge',
    name: 'srs_up',
    help: '1 when the last poll of the SRS HTTP API succeeded, else 0.',
    labels: [],
  },
  srsDown: {
    kind: 'gauge',
    name: 'srs_down',
    help: '1 while SRS counts as down (no complete poll of its HTTP API for STREAM_SRS_DOWN_AFTER_MS): its streams are reported unknown.',
    labels: [],
  },
  streamRecvBytes: {
    kind: 'gauge',
    name: 'srs_stream_recv_bytes',
    help: 'Bytes SRS has received on each stream with an active publisher, by room: it grows while media arrives (events only).',
    labels: ['room'],
    prometheus: false,
  },
  // every service
  natsReconnects: {
    kind: 'counter',
    name: 'nats_reconnects',
    help: 'Reconnections to NATS.',
    labels: [],
  },
  eventLoopLag: {
    kind: 'gauge',
    name: 'event_loop_lag_seconds',
    help: 'Event-loop delay over the last sample interval: p50, p99 and max.',
    unit: 's',
    labels: ['stat'],
  },
  residentMemory: {
    kind: 'gauge',
    name: 'process_resident_memory_bytes',
    help: 'Resident set size of the process.',
    unit: 'By',
    labels: [],
  },
  heapUsed: {
    kind: 'gauge',
    name: 'process_heap_used_bytes',
    help: 'V8 heap in use.',
    unit: 'By',
    labels: [],
  },
  heapTotal: {
    kind: 'gauge',
    name: 'process_heap_total_bytes',
    help: 'V8 heap reserved: in use, garbage not collected yet, and room to grow into.',
    unit: 'By',
    labels: [],
  },
  externalMemory: {
    kind: 'gauge',
    name: 'process_external_memory_bytes',
    help: 'Memory of objects outside the V8 heap that JavaScript holds (Buffers and other ArrayBuffers).',
    unit: 'By',
    labels: [],
  },
  cpuSeconds: {
    kind: 'counter',
    name: 'process_cpu_seconds',
    help: 'CPU time of the process, user and system.',
    unit: 's',
    labels: [],
  },
  cpuUtilization: {
    kind: 'gauge',
    name: 'process_cpu_utilization_ratio',
    help: 'CPU time over wall time in the last sample interval (1 = one core busy).',
    labels: [],
  },
  // alert service
  alertsActive: {
    kind: 'gauge',
    name: 'alerts_active',
    help: 'Alerts raised now, by severity.',
    labels: ['severity'],
  },
} as const satisfies Record<string, Spec>;

export type Specs = typeof instrumentSpecs;
export type InstrumentKey = keyof Specs;
export type LabelOf<K extends InstrumentKey> = Specs[K]['labels'][number];
/** The attributes an instrument takes: one string per label; none for an unlabelled one. */
export type AttrsArg<L extends string> = [L] extends [never]
  ? []
  : [attrs: { readonly [P in L]: string }];

/** The reason label of `ws_connections_closed` for a WebSocket close code. */
export const closeReason = (code: number): string => {
  switch (code) {
    // 1005: a close frame without a status, what a browser's close() sends: a clean close.
    case 1000:
    case 1005:
      return 'normal';
    case CloseCode.GOING_AWAY:
      return 'going_away';
    // No close frame at all: the connection was cut.
    case 1006:
      return 'dropped';
    case CloseCode.TOO_LARGE:
      return 'too_large';
    case CloseCode.AUTH_FAILED:
      return 'auth_failed';
    case CloseCode.TIMEOUT:
      return 'timeout';
    case CloseCode.RATE_LIMITED:
      return 'rate_limited';
    case CloseCode.SLOW_CONSUMER:
      return 'slow_consumer';
    default:
      return 'other';
  }
};
