/**
 * What the stream service says to the rest of the system: a room's stream status
 * (request/reply on `stream.<roomId>.status`, served by the gateway as
 * `GET /api/rooms/:roomId/stream`) and the metric events it publishes on
 * `metric.stream.<name>` for the alert service.
 */
import type { RoomStatus } from '../wire/protocol.js';
import type { RoomReply } from '../room/room.commands.js';

/** A room's stream as SRS carries it, joined with what the room recorded. */
export interface StreamStatus {
  roomId: string;
  status: RoomStatus;
  /**
   * What SRS carries for the room: `active` as below, `inactive`, or `unknown` while
   * SRS counts as down (no complete poll of its API for STREAM_SRS_DOWN_AFTER_MS;
   * `srsDownSince` says since when). Read this, not `active`, to tell "not
   * publishing" from "cannot tell".
   */
  state: 'active' | 'inactive' | 'unknown';
  /** True when SRS carries the room's granted publisher, active (false while `unknown`). */
  active: boolean;
  /** When the SRS API first showed the current publisher active, ms since the epoch. */
  since: number | null;
  /** The stream publisher holding the room's slot (SRS client id and user). */
  publisher: { clientId: string; userId: string } | null;
  video: { codec: string; profile: string; level: string; width: number; height: number } | null;
  audio: { codec: string; sampleRate: number; channels: number; profile: string } | null;
  /** SRS's 30-second averages, in kbit/s. */
  kbps: { recv: number; send: number } | null;
  /** Clients SRS counts on the stream (the publisher included). */
  srsClients: number | null;
  /** After the stream stopped: the publisher did not come back within the grace. */
  gone: boolean;
  /** Viewer seats: signaling viewers and SRS players together, and the SRS players alone. */
  viewers: number;
  streamViewers: number;
  maxViewers: number;
  /**
   * Whether the SRS API answered this request; when not, the SRS fields are null.
   * `down`: SRS counts as down (see `state`), it was not asked.
   */
  srs: 'ok' | 'unreachable' | 'down';
  /** While `srs` is `down`: the last complete poll of the SRS API (or the service's start), ms since the epoch. */
  srsDownSince: number | null;
}

export interface StreamStatusRequest {
  roomId: string;
}
export type StreamStatusReply = RoomReply<{ stream: StreamStatus }>;

/** A stream state change, as the stream service learns it. */
export const StreamStateName = {
  /** on_publish granted: the encoder holds the slot, not live yet. */
  granted: 'granted',
  /** The SRS API confirmed the stream active. */
  live: 'live',
  /** The publisher stopped (see `reason`). */
  stopped: 'stopped',
  /** No publisher returned within the grace. */
  gone: 'gone',
  /** The room ended. */
  ended: 'ended',
} as const;
export type StreamStateName = (typeof StreamStateName)[keyof typeof StreamStateName];

interface MetricBase {
  v: 1;
  /** When the stream service observed it, ms since the epoch. */
  at: number;
}

/** Metric events of the stream service; `metricNames` gives each its subject name. */
export type StreamMetric =
  | (MetricBase & {
      type: 'stream_state';
      roomId: string;
      state: StreamStateName;
      clientId: string | null;
      reason?: string;
    })
  /** One reconcile round against the SRS API. */
  | (MetricBase & {
      type: 'srs_api';
      ok: boolean;
      latencyMs: number;
      streams: number;
      clients: number;
      error?: string;
    })
  | (MetricBase & { type: 'srs_restarted'; previous: string; current: string })
  /** An SRS client disconnected through `DELETE /api/v1/clients/{id}`. */
  | (MetricBase & {
      type: 'srs_kick';
      roomId: string;
      clientId: string;
      reason: 'unknown_room' | 'room_ended' | 'not_admitted' | 'revoked';
      ok: boolean;
    })
  /** Hook answers since the previous sample. */
  | (MetricBase & {
      type: 'hooks';
      periodMs: number;
      allowed: number;
      denied: number;
      /** Denied because the room service did not answer within the deadline. */
      timedOut: number;
      /** Refused for their source or secret. */
      rejected: number;
      maxLatencyMs: number;
    });

/** The `<name>` of `metric.stream.<name>` for each metric type. */
export const metricNames: Record<StreamMetric['type'], string> = {
  stream_state: 'state',
  srs_api: 'srs_api',
  srs_restarted: 'srs_restart',
  srs_kick: 'kick',
  hooks: 'hooks',
};
