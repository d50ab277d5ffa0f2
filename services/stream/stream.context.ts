/**
 * What every part of the stream service shares: its configuration, clock, clients
 * (rooms, SRS API), log and metrics. The composition root (stream.service.ts) builds
 * one and is the only one to set `stopped`.
 */
import type { Config } from '#config/config.js';
import type { RoomClient } from '#shared/room/room.client.js';
import type { Logger } from '#shared/runtime/log.js';
import type { Metrics } from '#shared/runtime/metrics.js';
import type { StreamMetric } from '#shared/stream/stream.protocol.js';
import type { SrsApi } from './srs.api.js';

export interface StreamContext {
  readonly cfg: Config['stream'];
  /** The clock, ms since the epoch. */
  readonly now: () => number;
  readonly rooms: RoomClient;
  readonly srs: SrsApi;
  readonly logger: Logger;
  /** The registry hook calls and SRS polls are counted in. */
  readonly metrics: Metrics;
  /** Publishes one metric event on `metric.stream.<name>`. */
  metric(m: StreamMetric): void;
  /** True once the service stops: no confirmation loop, look or round starts any more. */
  stopped: boolean;
}
