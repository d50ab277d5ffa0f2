/**
 * What the engine has seen, turned into one value per key for each rule (the
 * `Signal` that the hysteresis reads). Pure: it reads the views, changes nothing.
 */
import type { RuleId } from '#shared/wire/alert.events.js';
import type { MetricPoint } from '#shared/runtime/metrics.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { PublisherRef } from '#shared/room/room.events.js';
import { StreamFailure, type Signal } from './alert.rules.js';

export type PublisherKind = PublisherRef['kind'];

/** A room not ended, as the rules see it. */
export interface RoomView {
  status: RoomStatus;
  publisher: PublisherKind | null;
  /** Room sequence of the last event applied. */
  seq: number;
}

/** srs_hook_calls totals at one time. */
export interface HookSample {
  at: number;
  total: number;
  errors: number;
}

/** One process, as its latest metric events show it. */
export interface InstanceView {
  service: string;
  instance: string;
  seenAt: number;
  /** Latest points of every metric, by name. */
  metrics: Map<string, MetricPoint[]>;
  /** srs_hook_calls totals within the window, oldest first (one older kept as baseline). */
  hooks: HookSample[];
  /** srs_stream_recv_bytes: the two latest samples, by room. */
  frames: Map<string, number> | undefined;
  framesBefore: Map<string, number> | undefined;
}

/** The sum of the points that `keep` keeps (all by default). */
export const sum = (
  points: MetricPoint[] | undefined,
  keep: (p: MetricPoint) => boolean = () => true,
) => (points ?? []).reduce((acc, p) => (keep(p) ? acc + p.value : acc), 0);

/** What the signals read: the engine's views, and the hook error rate's floor. */
export interface Views {
  instances: ReadonlyMap<string, InstanceView>;
  rooms: ReadonlyMap<string, RoomView>;
  /** hook_errors: fewer calls than this in the window is no rate (0). */
  hookMinCalls: number;
}

const of = (views: Views, service: string): InstanceView[] =>
  [...views.instances.values()].filter((i) => i.service === service);

/** The value of `rule` for every key that has one. */
export function signalsOf(rule: RuleId, views: Views): Map<string, Signal> {
  const out = new Map<string, Signal>();
  const total = (service: string, name: string, keep?: (p: MetricPoint) => boolean) => {
    const with_ = of(views, service).filter((i) => i.metrics.has(name));
    if (with_.length > 0)
      out.set('all', { value: with_.reduce((a, i) => a + sum(i.metrics.get(name), keep), 0) });
  };
  const perProcess = (
    name: string,
    scale: number,
    keep: (p: MetricPoint) => boolean = () => true,
  ) => {
    for (const i of views.instances.values()) {
      const points = i.metrics.get(name)?.filter(keep);
      if (points !== undefined && points.length > 0)
        out.set(`${i.service}/${i.instance}`, { value: sum(points) * scale });
    }
  };
  switch (rule) {
    case 'gateway_connections':
      for (const i of of(views, 'gateway')) {
        const points = i.metrics.get('ws_connections');
        if (points !== undefined) out.set(i.instance, { value: sum(points) });
      }
      break;
    case 'connections_total':
      total('gateway', 'ws_connections');
      break;
    case 'rooms_total':
      total('room', 'rooms', (p) => p.attrs.status !== 'ended');
      break;
    case 'members_total':
      total('room', 'room_members');
      break;
    case 'srs_unreachable':
      for (const i of of(views, 'stream')) {
        // srs_down is the stream service's own verdict (after STREAM_SRS_DOWN_AFTER_MS
        // without a complete poll, when it reports streams unknown): one setting times
        // both. srs_up (the last poll) only for an instance that does not report it.
        const down = i.metrics.get('srs_down');
        const up = i.metrics.get('srs_up');
        if (down !== undefined && down.length > 0)
          out.set(i.instance, { value: sum(down) > 0 ? 1 : 0 });
        else if (up !== undefined && up.length > 0)
          out.set(i.instance, { value: sum(up) > 0 ? 0 : 1 });
      }
      break;
    case 'hook_errors':
      hookErrorRate(views, out);
      break;
    case 'stream_failed':
      streamFailures(views, out);
      break;
    case 'memory':
      perProcess('process_resident_memory_bytes', 1 / (1024 * 1024));
      break;
    case 'cpu':
      perProcess('process_cpu_utilization_ratio', 100);
      break;
    case 'event_loop_lag':
      perProcess('event_loop_lag_seconds', 1000, (p) => p.attrs.stat === 'p99');
      break;
  }
  return out;
}

function hookErrorRate(views: Views, out: Map<string, Signal>): void {
  let calls = 0;
  let errors = 0;
  let seen = false;
  for (const i of of(views, 'stream')) {
    const first = i.hooks[0];
    const last = i.hooks[i.hooks.length - 1];
    if (first === undefined || last === undefined) continue;
    seen = true;
    // A total that went down is a restarted process: count from zero.
    const reset = last.total < first.total;
    calls += reset ? last.total : last.total - first.total;
    errors += reset ? last.errors : last.errors - first.errors;
  }
  if (!seen) return;
  out.set('all', { value: calls >= views.hookMinCalls ? (100 * errors) / calls : 0 });
}

function streamFailures(views: Views, out: Map<string, Signal>): void {
  const streams = of(views, 'stream').filter((i) => i.frames !== undefined);
  for (const [roomId, room] of views.rooms) {
    if (room.status !== 'live') continue;
    let reason: StreamFailure | undefined;
    if (room.publisher === null) reason = StreamFailure.publisherGone;
    else if (room.publisher === 'stream' && streams.length > 0) {
      const carried = streams.some((i) => i.frames?.has(roomId));
      // Frames move when one sample shows more than the one before on any poller.
      const compared = streams.filter((i) => i.frames?.has(roomId) && i.framesBefore?.has(roomId));
      const moving = compared.some(
        (i) => (i.frames?.get(roomId) ?? 0) > (i.framesBefore?.get(roomId) ?? 0),
      );
      if (!carried) reason = StreamFailure.notOnSrs;
      else if (compared.length > 0 && !moving) reason = StreamFailure.noMedia;
    }
    out.set(roomId, reason === undefined ? { value: 0 } : { value: 1, reason });
  }
}
