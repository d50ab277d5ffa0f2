/**
 * The alert rules, pure: metric events and room event batches go in, alert
 * events come out of `evaluate(now)`. No I/O and no clock: time is an argument,
 * so tests drive it.
 *
 * Every rule turns what it has seen into one number per key (a gateway, a room,
 * a process) and runs it through the same hysteresis (`step`):
 * - raised once the value has stayed above `threshold` for `forMs`;
 * - resolved once it has stayed at or below `clearAt` (≤ threshold) for `clearForMs`;
 * - a value between the two changes nothing, and a value that crosses back before
 *   its time is up resets the clock: a flapping value cannot make a storm.
 * So for one key, raised and resolved strictly alternate, starting with raised.
 * No data (an instance gone stale, a room no longer live) counts as clear.
 */
import { ConfigError, type Config } from '#config/config.js';
import { RuleId, Severity, type Alert, type AlertEvent } from '#shared/wire/alert.events.js';
import type { MetricEvent, MetricPoint } from '#shared/runtime/metrics.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { PublisherRef, RoomEventBatch } from '#shared/room/room.events.js';

const ruleIds = new Set<string>(Object.values(RuleId));

/** One rule with its limits. */
export interface Rule {
  id: RuleId;
  severity: Severity;
  /** Raised when the value is above this. */
  threshold: number;
  /** Resolved when the value is at or below this; `clearAt ≤ threshold`, the gap is the hysteresis band. */
  clearAt: number;
  /** How long the value must stay above `threshold` before the alert is raised, in ms. */
  forMs: number;
  /** How long it must stay at or below `clearAt` before the alert is resolved, in ms. */
  clearForMs: number;
  /** Unit of the value, for people. */
  unit: string;
}

/** Why a live room's stream counts as failed. */
export const StreamFailure = {
  publisherGone: 'publisher_gone',
  notOnSrs: 'not_on_srs',
  noMedia: 'no_media',
} as const;
export type StreamFailure = (typeof StreamFailure)[keyof typeof StreamFailure];

/** The value of a rule for one key, and what it is (for the summary). */
export interface Signal {
  value: number;
  reason?: string;
}

/** Hysteresis state of one rule for one key. */
export interface Tracker {
  /** The alert while raised. */
  alert: Alert | undefined;
  /** Since when the value has been past the level that would change the state. */
  since: number | undefined;
}

export const idleTracker: Tracker = { alert: undefined, since: undefined };

const round = (v: number): number => Math.round(v * 100) / 100;

function summary(rule: Rule, key: string, s: Signal): string {
  const v = round(s.value);
  const limit = `(limit ${rule.threshold}${rule.unit === '' ? '' : ` ${rule.unit}`})`;
  switch (rule.id) {
    case 'gateway_connections':
      return `gateway ${key}: ${v} WebSocket connections ${limit}`;
    case 'connections_total':
      return `${v} WebSocket connections over all gateways ${limit}`;
    case 'rooms_total':
      return `${v} open rooms ${limit}`;
    case 'members_total':
      return `${v} room members ${limit}`;
    case 'stream_failed':
      return `live room ${key}: ${
        s.reason === StreamFailure.publisherGone
          ? 'its publisher is gone'
          : s.reason === StreamFailure.notOnSrs
            ? 'SRS does not carry its stream'
            : 'no media arrives on its stream'
      }`;
    case 'srs_unreachable':
      return `stream service ${key} cannot reach the SRS API`;
    case 'hook_errors':
      return `${v}% of SRS hook calls failed ${limit}`;
    case 'memory':
      return `${key}: resident memory ${v} MiB ${limit}`;
    case 'cpu':
      return `${key}: CPU ${v}% of one core ${limit}`;
    case 'event_loop_lag':
      return `${key}: event-loop lag p99 ${v} ms ${limit}`;
  }
}

/**
 * One step of the hysteresis for one key: the next tracker, and the alert event
 * when the state changed. `signal` undefined (no data) counts as clear.
 */
export function step(
  rule: Rule,
  key: string,
  tracker: Tracker,
  signal: Signal | undefined,
  now: number,
): { tracker: Tracker; event?: AlertEvent } {
  const value = signal?.value ?? Number.NEGATIVE_INFINITY;
  const raised = tracker.alert;
  if (raised === undefined) {
    if (!(value > rule.threshold)) return { tracker: idleTracker };
    const since = tracker.since ?? now;
    if (now - since < rule.forMs) return { tracker: { alert: undefined, since } };
    const alert: Alert = {
      id: `${rule.id}:${key}:${now}`,
      rule: rule.id,
      severity: rule.severity,
      key,
      state: 'raised',
      raisedAt: now,
      resolvedAt: null,
      value: round(value),
      threshold: rule.threshold,
      unit: rule.unit,
      // `signal` is defined: an undefined one is never above the threshold.
      summary: summary(rule, key, signal ?? { value }),
      ...(signal?.reason === undefined ? {} : { reason: signal.reason }),
    };
    return {
      tracker: { alert, since: undefined },
      event: { v: 1, type: 'alert_raised', at: now, alert },
    };
  }
  if (!(value <= rule.clearAt)) return { tracker: { alert: raised, since: undefined } };
  const since = tracker.since ?? now;
  if (now - since < rule.clearForMs) return { tracker: { alert: raised, since } };
  const alert: Alert = { ...raised, state: 'resolved', resolvedAt: now };
  return { tracker: idleTracker, event: { v: 1, type: 'alert_resolved', at: now, alert } };
}

/** The rules as configured (ALERT_* settings), without the disabled ones. */
export function rulesFromConfig(c: Config['alert']): Rule[] {
  for (const id of c.disabledRules) {
    if (!ruleIds.has(id))
      throw new ConfigError(
        `ALERT_RULES_DISABLED: unknown rule ${JSON.stringify(id)}; rules: ${[...ruleIds].join(', ')}`,
      );
  }
  const band = (threshold: number) => threshold * (1 - c.hysteresisPercent / 100);
  const level = (
    id: RuleId,
    severity: Severity,
    threshold: number,
    unit: string,
    forMs = c.forMs,
  ): Rule => ({
    id,
    severity,
    threshold,
    clearAt: band(threshold),
    forMs,
    clearForMs: c.clearForMs,
    unit,
  });
  // A condition that holds or not (1 or 0): raised above 0, resolved at 0.
  const condition = (id: RuleId, forMs: number): Rule => ({
    id,
    severity: Severity.critical,
    threshold: 0,
    clearAt: 0,
    forMs,
    clearForMs: c.clearForMs,
    unit: '',
  });
  const all: Rule[] = [
    level(RuleId.gatewayConnections, Severity.warning, c.gatewayConnectionsMax, ''),
    level(RuleId.connectionsTotal, Severity.warning, c.connectionsTotalMax, ''),
    level(RuleId.roomsTotal, Severity.warning, c.roomsMax, ''),
    level(RuleId.membersTotal, Severity.warning, c.membersMax, ''),
    condition(RuleId.streamFailed, c.streamFailedForMs),
    condition(RuleId.srsUnreachable, c.srsUnreachableForMs),
    level(RuleId.hookErrors, Severity.warning, c.hookErrorPercent, '%'),
    level(RuleId.memory, Severity.warning, c.memoryMb, 'MiB'),
    level(RuleId.cpu, Severity.warning, c.cpuPercent, '%'),
    level(RuleId.eventLoopLag, Severity.warning, c.eventLoopLagMs, 'ms'),
  ];
  return all.filter((r) => !c.disabledRules.includes(r.id));
}

/** Limits of the engine that are not rules. */
export interface EngineOptions {
  /** Samples of an instance older than this are ignored, in ms. */
  metricStaleMs: number;
  /** hook_errors: the window of the error rate, in ms. */
  hookErrorWindowMs: number;
  /** hook_errors: fewer calls than this in the window is no rate (0). */
  hookMinCalls: number;
  /**
   * How long an ended room is remembered, so that a batch delivered again after
   * the room ended is known for a duplicate, in ms. Redelivery comes within the
   * consumer's ack wait: a few of those is plenty.
   */
  tombstoneMs: number;
}

/** `rulesFromConfig` and the engine options from the same settings. */
export function engineOptions(c: Config['alert']): EngineOptions {
  return {
    metricStaleMs: c.metricStaleMs,
    hookErrorWindowMs: c.hookErrorWindowMs,
    hookMinCalls: c.hookMinCalls,
    tombstoneMs: 4 * c.ackWaitMs,
  };
}

type PublisherKind = PublisherRef['kind'];

interface RoomView {
  status: RoomStatus;
  publisher: PublisherKind | null;
  /** Room sequence of the last event applied. */
  seq: number;
}

interface HookSample {
  at: number;
  total: number;
  errors: number;
}

interface InstanceView {
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

/** What survives a restart of the alert service (saved in KV). */
export interface EngineSnapshot {
  v: 1;
  /** Rooms not ended: id, status, publisher kind, last applied room sequence. */
  rooms: [string, RoomStatus, PublisherKind | null, number][];
  /** Rooms ended lately: id, last room sequence, when it ended. */
  ended: [string, number, number][];
  /** Alerts raised now. */
  raised: Alert[];
}

const sum = (points: MetricPoint[] | undefined, keep: (p: MetricPoint) => boolean = () => true) =>
  (points ?? []).reduce((acc, p) => (keep(p) ? acc + p.value : acc), 0);

/** The rule engine: what it has seen, and a tracker per rule and key. */
export class AlertEngine {
  private readonly instances = new Map<string, InstanceView>();
  private readonly rooms = new Map<string, RoomView>();
  private readonly ended = new Map<string, { seq: number; at: number }>();
  private readonly trackers = new Map<RuleId, Map<string, Tracker>>();
  /** Alerts restored for a rule that is now disabled: resolved at the next evaluation. */
  private orphans: Alert[] = [];

  constructor(
    readonly rules: readonly Rule[],
    private readonly o: EngineOptions,
  ) {
    for (const r of rules) this.trackers.set(r.id, new Map());
  }

  /** Takes in one metric event (received at `now`). */
  observeMetric(e: MetricEvent, now: number): void {
    const id = `${e.service}/${e.instance}`;
    let inst = this.instances.get(id);
    if (inst === undefined) {
      inst = {
        service: e.service,
        instance: e.instance,
        seenAt: now,
        metrics: new Map(),
        hooks: [],
        frames: undefined,
        framesBefore: undefined,
      };
      this.instances.set(id, inst);
    }
    inst.seenAt = now;
    switch (e.name) {
      case 'srs_hook_calls': {
        inst.hooks.push({
          at: now,
          total: sum(e.points),
          errors: sum(e.points, (p) => p.attrs.result === 'error'),
        });
        // Keep one sample at or before the window's start as the baseline.
        const start = now - this.o.hookErrorWindowMs;
        while ((inst.hooks[1]?.at ?? now) <= start) inst.hooks.shift();
        return;
      }
      case 'srs_stream_recv_bytes':
        inst.framesBefore = inst.frames;
        inst.frames = new Map(e.points.map((p) => [p.attrs.room ?? '', p.value]));
        return;
      default:
        inst.metrics.set(e.name, e.points);
    }
  }

  /**
   * Applies one ROOM_EVENTS batch. `false` when it was applied before (a
   * redelivery): applying is idempotent by the room's sequence.
   */
  applyRoomBatch(batch: RoomEventBatch, now: number): boolean {
    const { roomId } = batch;
    let room = this.rooms.get(roomId);
    const last = room?.seq ?? this.ended.get(roomId)?.seq ?? 0;
    if (batch.seq <= last) return false;
    const lastSeq = batch.seq + batch.events.length - 1;
    for (const e of batch.events) {
      if (this.ended.has(roomId)) break;
      // A room first seen after its creation (an old log trimmed) is taken as it comes.
      room ??= { status: 'preparing', publisher: null, seq: 0 };
      switch (e.type) {
        case 'room_created':
          room.status = 'preparing';
          room.publisher = null;
          break;
        case 'publisher_granted':
          room.publisher = e.publisher.kind;
          break;
        case 'publisher_released':
          room.publisher = null;
          break;
        case 'status_changed':
          room.status = e.to;
          if (e.to === 'ended') this.ended.set(roomId, { seq: lastSeq, at: now });
          break;
        // Members come from the room service's metrics; these change nothing here.
        case 'member_joined':
        case 'member_left':
        case 'member_disconnected':
        case 'member_resumed':
        case 'member_timed_out':
        case 'member_kicked':
        case 'publisher_refused':
        // The stream side's own bookkeeping: publisher_granted/released already say who publishes.
        case 'stream_confirmed':
        case 'stream_stopped':
        case 'publisher_gone':
        case 'stream_viewer_joined':
        case 'stream_viewer_left':
          break;
      }
    }
    if (this.ended.has(roomId)) {
      this.rooms.delete(roomId);
      const tomb = this.ended.get(roomId);
      if (tomb !== undefined) tomb.seq = Math.max(tomb.seq, lastSeq);
    } else if (room !== undefined) {
      room.seq = lastSeq;
      this.rooms.set(roomId, room);
    }
    return true;
  }

  /** Evaluates every rule at `now`; the alerts raised and resolved by it, in order. */
  evaluate(now: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const alert of this.orphans) {
      events.push({
        v: 1,
        type: 'alert_resolved',
        at: now,
        alert: { ...alert, state: 'resolved', resolvedAt: now },
      });
    }
    this.orphans = [];
    this.prune(now);
    for (const rule of this.rules) {
      const trackers = this.trackers.get(rule.id) ?? new Map<string, Tracker>();
      const signals = this.signals(rule.id);
      const keys = new Set([...trackers.keys(), ...signals.keys()]);
      for (const key of keys) {
        const r = step(rule, key, trackers.get(key) ?? idleTracker, signals.get(key), now);
        // Only trackers that hold something are kept: keys come and go (rooms, instances).
        if (r.tracker.alert === undefined && r.tracker.since === undefined) trackers.delete(key);
        else trackers.set(key, r.tracker);
        if (r.event !== undefined) events.push(r.event);
      }
    }
    return events;
  }

  /** Alerts raised now, oldest first. */
  active(): Alert[] {
    const out: Alert[] = [];
    for (const trackers of this.trackers.values())
      for (const t of trackers.values()) if (t.alert !== undefined) out.push(t.alert);
    return out.sort((a, b) => a.raisedAt - b.raisedAt || a.id.localeCompare(b.id));
  }

  snapshot(): EngineSnapshot {
    return {
      v: 1,
      rooms: [...this.rooms].map(([id, r]) => [id, r.status, r.publisher, r.seq]),
      ended: [...this.ended].map(([id, e]) => [id, e.seq, e.at]),
      raised: this.active(),
    };
  }

  /** Takes back a saved state (on start, before anything else). */
  restore(s: EngineSnapshot): void {
    for (const [id, status, publisher, seq] of s.rooms)
      this.rooms.set(id, { status, publisher, seq });
    for (const [id, seq, at] of s.ended) this.ended.set(id, { seq, at });
    for (const alert of s.raised) {
      const trackers = this.trackers.get(alert.rule);
      if (trackers === undefined) this.orphans.push(alert);
      else trackers.set(alert.key, { alert, since: undefined });
    }
  }

  private prune(now: number): void {
    for (const [id, inst] of this.instances)
      if (now - inst.seenAt > this.o.metricStaleMs) this.instances.delete(id);
    for (const [id, e] of this.ended) if (now - e.at > this.o.tombstoneMs) this.ended.delete(id);
  }

  private of(service: string): InstanceView[] {
    return [...this.instances.values()].filter((i) => i.service === service);
  }

  private signals(rule: RuleId): Map<string, Signal> {
    const out = new Map<string, Signal>();
    const total = (service: string, name: string, keep?: (p: MetricPoint) => boolean) => {
      const with_ = this.of(service).filter((i) => i.metrics.has(name));
      if (with_.length > 0)
        out.set('all', { value: with_.reduce((a, i) => a + sum(i.metrics.get(name), keep), 0) });
    };
    const perProcess = (
      name: string,
      scale: number,
      keep: (p: MetricPoint) => boolean = () => true,
    ) => {
      for (const i of this.instances.values()) {
        const points = i.metrics.get(name)?.filter(keep);
        if (points !== undefined && points.length > 0)
          out.set(`${i.service}/${i.instance}`, { value: sum(points) * scale });
      }
    };
    switch (rule) {
      case 'gateway_connections':
        for (const i of this.of('gateway')) {
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
        for (const i of this.of('stream')) {
          const up = i.metrics.get('srs_up');
          if (up !== undefined && up.length > 0)
            out.set(i.instance, { value: sum(up) > 0 ? 0 : 1 });
        }
        break;
      case 'hook_errors':
        this.hookErrorRate(out);
        break;
      case 'stream_failed':
        this.streamFailures(out);
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

  private hookErrorRate(out: Map<string, Signal>): void {
    let calls = 0;
    let errors = 0;
    let seen = false;
    for (const i of this.of('stream')) {
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
    out.set('all', { value: calls >= this.o.hookMinCalls ? (100 * errors) / calls : 0 });
  }

  private streamFailures(out: Map<string, Signal>): void {
    const streams = this.of('stream').filter((i) => i.frames !== undefined);
    for (const [roomId, room] of this.rooms) {
      if (room.status !== 'live') continue;
      let reason: StreamFailure | undefined;
      if (room.publisher === null) reason = StreamFailure.publisherGone;
      else if (room.publisher === 'stream' && streams.length > 0) {
        const carried = streams.some((i) => i.frames?.has(roomId));
        // Frames move when one sample shows more than the one before on any poller.
        const compared = streams.filter(
          (i) => i.frames?.has(roomId) && i.framesBefore?.has(roomId),
        );
        const moving = compared.some(
          (i) => (i.frames?.get(roomId) ?? 0) > (i.framesBefore?.get(roomId) ?? 0),
        );
        if (!carried) reason = StreamFailure.notOnSrs;
        else if (compared.length > 0 && !moving) reason = StreamFailure.noMedia;
      }
      out.set(roomId, reason === undefined ? { value: 0 } : { value: 1, reason });
    }
  }
}
