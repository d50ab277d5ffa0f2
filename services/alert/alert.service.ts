/**
 * The alert service: takes in metric events (core NATS `metric.>`) and the room
 * log (ROOM_EVENTS, through a durable consumer), evaluates the rules
 * (alert.engine.ts, with the rules of alert.rules.ts), appends every raised and
 * resolved alert to the ALERTS stream, hands them to the webhook
 * (alert.webhook.ts), and answers `alerts.query`.
 *
 * What must hold:
 * - A room event is acknowledged only once the state it changed is saved (KV
 *   `alert-state`): a crash loses nothing, and the redelivery that follows is a
 *   duplicate the engine recognises by the room's sequence.
 * - Every alert change reaches ALERTS once: it waits in an outbox (saved with the
 *   state) until JetStream has it, with a `Nats-Msg-Id` that makes a retried
 *   append a duplicate.
 * - One active alert service per deployment (alert.leader.ts): it owns the durable
 *   consumers and the state. Its state is written by compare-and-set on the
 *   revision it last read or wrote, so a deposed instance that has not yet noticed
 *   cannot overwrite its successor's: its save fails, and it is told (`onDeposed`).
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos, type Subscription } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import {
  alertMsgId,
  type AlertEvent,
  type AlertsQuery,
  type AlertsReply,
} from '#shared/wire/alert.events.js';
import { decode, encode, type Bus } from '#shared/runtime/bus.js';
import type { Logger } from '#shared/runtime/log.js';
import type { MetricEvent, Metrics } from '#shared/runtime/metrics.js';
import type { RoomEventBatch } from '#shared/room/room.events.js';
import {
  alertsConfig,
  bucketNames,
  decodeOrTerm,
  ensureConsumer,
  ensureStream,
  isWrongLastSequence,
  roomEventsConfig,
  streamNames,
} from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { AlertEngine, engineOptions, type EngineSnapshot } from './alert.engine.js';
import { rulesFromConfig } from './alert.rules.js';
import { WebhookSender, webhookOptions } from './alert.webhook.js';

/** Durable name of the alert service's consumer of ROOM_EVENTS. */
export const ROOM_EVENTS_CONSUMER = 'alert-room-events';
/** The KV key of the saved state. */
const STATE_KEY = 'engine';

/** What is saved in KV. */
interface SavedState {
  v: 1;
  engine: EngineSnapshot;
  /** Alert changes not yet in ALERTS. */
  outbox: AlertEvent[];
}

export interface AlertServiceOptions {
  bus: Bus;
  config: Config['alert'];
  log: Logger;
  /** Replicas of ALERTS and the alert-state bucket (NATS_REPLICAS). */
  replicas: number;
  /** How long to wait for JetStream when reading the history, in ms (NATS_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** Where `alerts_active` is set; none by default. */
  metrics?: Metrics;
  /** Wall clock, ms since the epoch (tests drive it). */
  now?: () => number;
  /** Evaluate and save on timers (default); tests call `evaluate()` and `save()`. */
  timers?: boolean;
  /** False once this instance may no longer act (its lease lapsed): nothing is evaluated or saved. */
  leading?: () => boolean;
  /** Another instance wrote the state since we last did: we are not the active one any more. */
  onDeposed?: () => void;
}

export class AlertService {
  private readonly engine: AlertEngine;
  private readonly now: () => number;
  private readonly cfg: Config['alert'];
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private kv!: KV;
  /** Revision of the saved state we last read or wrote (0: none yet): the fence of the next save. */
  private stateRevision = 0;
  private deposed = false;
  /** The latest alert changes, oldest first, at most ALERT_HISTORY_SIZE. */
  private history: AlertEvent[] = [];
  private outbox: AlertEvent[] = [];
  /** Room events applied and not yet acknowledged: they wait for the next save. */
  private unacked: JsMsg[] = [];
  private dirty = false;
  private saving: Promise<void> | undefined;
  private appending: Promise<void> = Promise.resolve();
  private roomMessages: ConsumerMessages | undefined;
  private webhook: WebhookSender | undefined;
  private readonly subs: Subscription[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: AlertServiceOptions) {
    this.cfg = o.config;
    this.now = o.now ?? Date.now;
    this.engine = new AlertEngine(rulesFromConfig(o.config), engineOptions(o.config));
  }

  /** Streams, saved state and history first; then the subscriptions and consumers. */
  async start(): Promise<void> {
    const { bus, log } = this.o;
    this.jsm = await jetstreamManager(bus.nc);
    this.js = jetstream(bus.nc);
    await ensureStream(this.jsm, alertsConfig(this.o.replicas));
    // ROOM_EVENTS belongs to the room service: create it if missing, never change it.
    await ensureStream(this.jsm, roomEventsConfig(this.o.replicas), { update: false });
    this.kv = await new Kvm(this.js).create(bucketNames.alertState, {
      replicas: this.o.replicas,
      history: 1,
    });
    const saved = await this.kv.get(STATE_KEY);
    if (saved?.operation === 'PUT') {
      // The fence of our first save, whatever the value: the key exists at this revision.
      this.stateRevision = saved.revision;
      if (saved.value.length > 0) {
        const state = saved.json<SavedState>();
        this.engine.restore(state.engine);
        this.outbox = state.outbox;
      }
    }
    await this.loadHistory();

    this.subs.push(
      bus.subscribe(subjects.metricAll, (msg) => {
        const e = decode<MetricEvent>(msg.data);
        // Inside the system, but one malformed sample must not break evaluation.
        if (typeof e.name === 'string' && typeof e.instance === 'string' && Array.isArray(e.points))
          this.engine.observeMetric(e, this.now());
      }),
      bus.subscribe(subjects.alertsQuery, (msg) => {
        bus.respond(msg, this.query(msg.data.length > 0 ? decode<AlertsQuery>(msg.data) : {}));
      }),
    );
    await this.consumeRoomEvents();

    const webhook = webhookOptions(this.cfg, log);
    if (webhook !== undefined) {
      this.webhook = new WebhookSender(webhook);
      await this.webhook.start(this.js, this.jsm);
    }
    if (this.o.timers !== false) {
      this.timers.push(
        setInterval(() => void this.evaluate(), this.cfg.evaluateIntervalMs),
        setInterval(() => void this.save(), this.cfg.snapshotIntervalMs),
      );
    }
    log.info('alert rules loaded', {
      rules: this.engine.rules.map((r) => r.id),
      raised: this.engine.active().length,
      webhook: webhook !== undefined,
    });
  }

  /** Evaluates the rules now and appends what changed; the changes. */
  async evaluate(): Promise<AlertEvent[]> {
    if (!this.mayAct()) return [];
    const events = this.engine.evaluate(this.now());
    if (events.length > 0) {
      this.outbox.push(...events);
      this.dirty = true;
    }
    this.reportActive();
    await this.flushOutbox();
    // A change is saved at once: a restart must not raise it a second time.
    if (events.length > 0) await this.save();
    return events;
  }

  /** Saves the state, then acknowledges the room events it covers. */
  async save(): Promise<void> {
    while (this.saving !== undefined) await this.saving;
    if (!this.mayAct()) return;
    if (!this.dirty && this.unacked.length === 0) return;
    const acks = this.unacked;
    this.unacked = [];
    this.dirty = false;
    const state: SavedState = { v: 1, engine: this.engine.snapshot(), outbox: this.outbox };
    this.saving = (async () => {
      try {
        const data = encode(state);
        this.stateRevision =
          this.stateRevision === 0
            ? await this.kv.create(STATE_KEY, data)
            : await this.kv.update(STATE_KEY, data, this.stateRevision);
        for (const m of acks) m.ack();
      } catch (err) {
        // Not acknowledged: they come again after the ack wait, and are duplicates then.
        this.dirty = true;
        if (isWrongLastSequence(err)) {
          // Someone else saved since we last did: another instance is the active one.
          this.deposed = true;
          this.o.log.error('alert state written by another instance: standing down', { err });
          this.o.onDeposed?.();
        } else {
          this.o.log.warn('alert state not saved', { err });
        }
      }
    })();
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
  }

  /** Alerts raised now, and the latest changes (newest first). */
  query(q: AlertsQuery): AlertsReply {
    const limit =
      typeof q.limit === 'number' && Number.isInteger(q.limit) && q.limit > 0
        ? Math.min(q.limit, this.cfg.historySize)
        : this.cfg.historySize;
    return {
      ok: true,
      active: this.engine.active(),
      recent: this.history.slice(-limit).reverse(),
    };
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    for (const sub of this.subs) sub.unsubscribe();
    this.subs.length = 0;
    this.roomMessages?.stop();
    await this.webhook?.stop();
    await this.appending;
    await this.save();
  }

  private async consumeRoomEvents(): Promise<void> {
    await ensureConsumer(this.jsm, streamNames.roomEvents, {
      durable_name: ROOM_EVENTS_CONSUMER,
      filter_subject: subjects.roomEventsAll,
      // First start: the whole log, so that rooms live before this service are known.
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.cfg.ackWaitMs),
      max_ack_pending: this.cfg.maxAckPending,
    });
    const consumer = await this.js.consumers.get(streamNames.roomEvents, ROOM_EVENTS_CONSUMER);
    this.roomMessages = await consumer.consume({
      callback: (m) => {
        const batch = decodeOrTerm<RoomEventBatch>(m, this.o.log);
        if (batch === undefined) return;
        if (this.engine.applyRoomBatch(batch, this.now())) {
          this.dirty = true;
          this.unacked.push(m);
        } else {
          // Seen before: nothing to save first.
          m.ack();
        }
      },
    });
  }

  /** Appends the outbox to ALERTS in order; what fails stays for the next evaluation. */
  private flushOutbox(): Promise<void> {
    this.appending = this.appending.then(async () => {
      while (this.outbox.length > 0) {
        const e = this.outbox[0];
        if (e === undefined) break;
        try {
          await this.js.publish(subjects.alert(e.alert.severity, e.alert.rule), encode(e), {
            msgID: alertMsgId(e),
          });
        } catch (err) {
          this.o.log.warn('alert not appended yet; retried at the next evaluation', {
            alert: e.alert.id,
            err,
          });
          return;
        }
        this.outbox.shift();
        this.dirty = true;
        this.remember(e);
        this.o.log[e.type === 'alert_raised' ? 'warn' : 'info'](e.type, {
          alert: e.alert.id,
          summary: e.alert.summary,
        });
      }
    });
    return this.appending;
  }

  /** Whether this instance may still evaluate and write (not deposed, lease held). */
  private mayAct(): boolean {
    return !this.deposed && (this.o.leading?.() ?? true);
  }

  private remember(e: AlertEvent): void {
    this.history.push(e);
    if (this.history.length > this.cfg.historySize)
      this.history.splice(0, this.history.length - this.cfg.historySize);
  }

  private reportActive(): void {
    const m = this.o.metrics;
    if (m === undefined) return;
    const active = this.engine.active();
    for (const severity of ['warning', 'critical'] as const)
      m.alertsActive.set(active.filter((a) => a.severity === severity).length, { severity });
  }

  /** The tail of ALERTS, for `recent` after a restart. */
  private async loadHistory(): Promise<void> {
    const { state } = await this.jsm.streams.info(streamNames.alerts);
    if (state.messages === 0) return;
    const start = Math.max(state.first_seq, state.last_seq - this.cfg.historySize + 1);
    const consumer = await this.js.consumers.get(streamNames.alerts, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
    });
    const messages = await consumer.fetch({
      max_messages: state.last_seq - start + 1,
      expires: this.o.requestTimeoutMs,
    });
    for await (const m of messages) {
      this.remember(decode<AlertEvent>(m.data));
      if (m.seq >= state.last_seq) break;
    }
  }
}
