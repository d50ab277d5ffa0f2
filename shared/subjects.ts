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

export const subjects = {
  /** Request/reply: commands to the room's owning actor. */
  roomCommand: (roomId: string): string => `room.${roomId}.cmd`,
  /** Wildcard the room service subscribes to for commands. */
  roomCommandAll: 'room.*.cmd',
  /** Core: a signaling frame addressed to one peer of one room. */
  roomSignal: (roomId: string, peerId: string): string => `room.${roomId}.sig.${peerId}`,
  /** Core: what every member of a room must see (peer joined/left, status). */
  roomBroadcast: (roomId: string): string => `room.${roomId}.bcast`,
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
  /** Request/reply: a room's stream status (SRS's view), answered by the stream service. */
  streamStatus: (roomId: string): string => `stream.${roomId}.status`,
  /** Wildcard the stream service answers status requests on (queue group `stream`). */
  streamStatusAll: 'stream.*.status',
  /** The room id in a stream status subject. */
  roomIdOfStreamStatus: (subject: string): string => subject.split('.')[1] ?? '',
  /** Metric samples for the alert service. */
  metric: (service: string, name: string): string => `metric.${service}.${name}`,
  /** Raised and resolved alerts (JetStream ALERTS). */
  alert: (severity: string, rule: string): string => `alert.${severity}.${rule}`,
  /** Core: a gateway's liveness beacon, so the room service can clean up after a dead gateway. */
  gatewayHeartbeat: (gatewayId: string): string => `gw.${gatewayId}.alive`,
  gatewayHeartbeatAll: 'gw.*.alive',
} as const;
