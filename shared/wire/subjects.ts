/**
 * The only place that spells NATS subjects. Every id that goes into a subject
 * has already passed `isSubjectToken` at the edge (see protocol.ts), so none can
 * smuggle a `.`, `*` or `>` into a subject.
 */

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `value` may be used as one subject token (room ids, peer ids, service names). */
export function isSubjectToken(value: string): boolean {
  return TOKEN.test(value);
}

/** The regular expression behind `isSubjectToken`, for schemas. */
export const SUBJECT_TOKEN_PATTERN = TOKEN.source;

/** Where a NATS user's replies arrive (its connections' inbox prefix): `_INBOX_<user>`. */
const inbox = (user: string): string => `_INBOX_${user}`;

export const subjects = {
  inbox,
  /**
   * Request/reply: commands a gateway sends for a user it verified (join, kick, …).
   * Room commands go on one of three subjects by who may send them (see
   * shared/room/room.command.channels.ts), so that the server's subject permissions
   * can tell them apart: `cmd` (gateways), `svc` (the stream service), `ops` (operators).
   */
  roomCommand: (roomId: string): string => `room.${roomId}.cmd`,
  /** Wildcard the room service subscribes to for user commands. */
  roomCommandAll: 'room.*.cmd',
  /** Request/reply: commands only the stream service may send (`stream_*`). */
  roomServiceCommand: (roomId: string): string => `room.${roomId}.svc`,
  roomServiceCommandAll: 'room.*.svc',
  /** Request/reply: read-only operator queries (`state`, with the stream key). */
  roomOpsCommand: (roomId: string): string => `room.${roomId}.ops`,
  roomOpsCommandAll: 'room.*.ops',
  /** Core: a signaling frame addressed to one peer of one room. */
  roomSignal: (roomId: string, peerId: string): string => `room.${roomId}.sig.${peerId}`,
  /** Core: what every member of a room must see (peer joined/left, status). */
  roomBroadcast: (roomId: string): string => `room.${roomId}.bcast`,
  /**
   * Every peer's signals in one room: a gateway subscribes once per room it has
   * members in and delivers to its local addressee (interest per gateway, not per peer).
   */
  roomSignalAll: (roomId: string): string => `room.${roomId}.sig.*`,
  /**
   * Core: where a gateway hears that its first signal to an addressee arrived
   * (gateway.signal.acks.ts); under the gateway user's inbox prefix.
   */
  signalAck: (gatewayId: string, n: number): string =>
    `${inbox('gateway')}.sigack.${gatewayId}.${n}`,
  signalAcks: (gatewayId: string): string => `${inbox('gateway')}.sigack.${gatewayId}.*`,
  /**
   * JetStream ROOM_EVENTS: the durable log of one room. One subject per room (not
   * per event type, as first designed) because appends are fenced with the
   * expected last sequence *on the subject*, and nats-server 2.9 can only check
   * that for one exact subject. The event type is in the payload.
   */
  roomEvents: (roomId: string): string => `evt.room.${roomId}`,
  /** Filter for every room's events. */
  roomEventsAll: 'evt.room.*',
  /** The room id in a ROOM_EVENTS subject. */
  roomIdOfEvents: (subject: string): string => subject.slice('evt.room.'.length),
  /**
   * JetStream ROOM_LIVE: the index of rooms that may be open, one subject per room
   * (services/room/room.log.ts), and the index's own record that it is whole.
   */
  roomLive: (roomId: string): string => `live.room.${roomId}`,
  /** The room id in a ROOM_LIVE room subject. */
  roomIdOfLive: (subject: string): string => subject.slice('live.room.'.length),
  liveIndexBuilt: 'live.index.built',
  /** Every ROOM_LIVE subject. */
  liveAll: 'live.>',
  /** Request/reply: a room's stream status (SRS's view), answered by the stream service. */
  streamStatus: (roomId: string): string => `stream.${roomId}.status`,
  /** Wildcard the stream service answers status requests on (queue group `stream`). */
  streamStatusAll: 'stream.*.status',
  /** The room id in a stream status subject. */
  roomIdOfStreamStatus: (subject: string): string => subject.split('.')[1] ?? '',
  /** Metric samples for the alert service. */
  metric: (service: string, name: string): string => `metric.${service}.${name}`,
  /** Every metric sample of every service (core NATS). */
  metricAll: 'metric.>',
  /** Raised and resolved alerts (JetStream ALERTS). */
  alert: (severity: string, rule: string): string => `alert.${severity}.${rule}`,
  /** Filter for every alert (the ALERTS stream's subjects). */
  alertAll: 'alert.>',
  /**
   * Request/reply: the alerts raised now and the recent history (`GET /api/alerts`).
   * Not under `alert.`: the ALERTS stream captures `alert.>`, and JetStream would
   * store the request and answer it with a PubAck.
   */
  alertsQuery: 'alerts.query',
  /** Core: a gateway's liveness beacon, so the room service can clean up after a dead gateway. */
  gatewayHeartbeat: (gatewayId: string): string => `gw.${gatewayId}.alive`,
  gatewayHeartbeatAll: 'gw.*.alive',
  /** Request/reply: queries to the room catalogue (room lists, archived events); see catalog.ts. */
  catalogQuery: 'catalog.query',
} as const;

/**
 * The low-cardinality shape of a subject, for span names (`room.*.sig.*` rather
 * than one name per room and peer): every token that is an id becomes `*`.
 */
export function subjectTemplate(subject: string): string {
  const t = subject.split('.');
  switch (t[0] ?? '') {
    case 'room':
      // room.<roomId>.(cmd|svc|ops) | room.<roomId>.sig.<peerId> | room.<roomId>.bcast
      return t.length === 4 ? 'room.*.sig.*' : `room.*.${t[2] ?? ''}`;
    case 'evt':
      return 'evt.room.*';
    case 'metric':
      return `metric.${t[1] ?? '*'}.*`;
    case 'alert':
      return 'alert.*.*';
    case 'gw':
      return 'gw.*.alive';
    case '_INBOX':
      return '_INBOX';
    case 'alerts':
      return subject;
    default:
      // A subject added without a case here: never let an id into a span name.
      return t.length > 1 ? `${t[0] ?? ''}.>` : subject;
  }
}
