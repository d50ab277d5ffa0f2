/**
 * The rule engine, pure: metric events and room event batches go in, alert
 * events come out of `evaluate(now)`. No I/O and no clock: time is an argument,
 * so tests drive it.
 *
 * Every rule turns what it has seen into one number per key (a gateway, a room,
 * a process; alert.signals.ts) and runs it through the same hysteresis (`step`,
 * alert.hysteresis.ts).
 */
import type { Config } from '#config/config.js';
import type { Alert, AlertEvent, RuleId } from '#shared/wire/alert.events.js';
import type { MetricEvent } from '#shared/runtime/metrics.js';
import type { RoomStatus } from '#shared/wire/protocol.js';
import type { RoomEventBatch } from '#shared/room/room.events.js';
import { idleTracker, step, type Tracker } from './alert.hysteresis.js';
import type { Rule } from './alert.rules.js';
import {
  signalsOf,
  sum,
  type InstanceView,
  type PublisherKind,
  type RoomView,
} from './alert.signals.js';

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
        case 'member_promoted':
        case 'member_demoted':
        case 'hand_raised':
        case 'hand_lowered':
        case 'publisher_refused':
        // The stream side's own bookkeeping: publisher_granted/released already say who publishes.
        case 'stream_confirmed':
        case 'stream_stopped':
        case 'publisher_gone':
        case 'stream_viewer_joined':
        case 'stream_viewer_left':
        // SRS outages are alerted from the stream service's srs_down gauge.
        case 'stream_unknown':
        case 'stream_known':
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
    const views = {
      instances: this.instances,
      rooms: this.rooms,
      hookMinCalls: this.o.hookMinCalls,
    };
    for (const rule of this.rules) {
      const trackers = this.trackers.get(rule.id) ?? new Map<string, Tracker>();
      const signals = signalsOf(rule.id, views);
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
}
