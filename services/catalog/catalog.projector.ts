/**
 * The projector: feeds the catalogue store from ROOM_EVENTS.
 *
 * What must hold:
 * - Idempotent, keyed by room and sequence: a batch whose events the room's record
 *   already reflects changes nothing (redelivery, a duplicate in the log, a replay).
 * - One room's batches apply in order: a batch that finds an earlier one of its room
 *   missing is not applied but redelivered later (`nak` with a delay), so even two
 *   projectors sharing the durable consumer converge. Different rooms apply in parallel.
 * - Every delivery is settled explicitly: ack once applied (or found applied), nak
 *   to retry, term for a batch that can never apply.
 * - It resumes where it stopped: the durable consumer remembers what was acked, and
 *   the store its position; a store that is behind the consumer (a new database, a
 *   restored backup) is caught up from the log first.
 *
 * Which batch applies and what record it makes is `projectBatch`
 * (catalog.projection.ts); this file is the JetStream side: consumers, settling,
 * the saved position.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import { traceContextOf } from '#shared/runtime/bus.trace.js';
import type { Logger } from '#shared/runtime/log.js';
import type { RoomEventBatch } from '#shared/room/room.events.js';
import { roomEventsConfig, streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { SpanKind, isTraced, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import { Lanes, Progress, type Delivery } from './catalog.delivery.js';
import { projectBatch, readBatch, type BatchOutcome } from './catalog.projection.js';
import type { CatalogStore } from './catalog.store.js';

export interface ProjectorOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: CatalogStore;
  config: Config['catalog'];
  /** Replicas of ROOM_EVENTS should the projector be the one to create it. */
  replicas: number;
  log: Logger;
}

/** What a projector has done since it was made. */
export interface ProjectorCounts {
  applied: number;
  duplicate: number;
  gap: number;
  invalid: number;
  failed: number;
}

/** Creates ROOM_EVENTS when it does not exist yet; never changes it (the room service owns it). */
async function ensureRoomEvents(jsm: JetStreamManager, replicas: number): Promise<void> {
  try {
    await jsm.streams.info(streamNames.roomEvents);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound))
      throw err;
    try {
      await jsm.streams.add(roomEventsConfig(replicas));
    } catch (e) {
      // Fine if the room service created it in the meantime.
      const created = await jsm.streams.info(streamNames.roomEvents).then(
        () => true,
        () => false,
      );
      if (!created) throw e;
    }
  }
}

export class CatalogProjector {
  readonly counts: ProjectorCounts = { applied: 0, duplicate: 0, gap: 0, invalid: 0, failed: 0 };
  private readonly lanes: Lanes;
  private readonly progress: Progress;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private saving: Promise<void> | undefined;
  private saveAgain = false;

  constructor(private readonly o: ProjectorOptions) {
    this.lanes = new Lanes(o.config.maxInFlight);
    this.progress = new Progress(() => this.persistPosition());
  }

  /** The durable consumer's name: one per store kind, so each store has its own position. */
  get durable(): string {
    return `${this.o.config.durable}-${this.o.store.kind}`;
  }

  /** The ROOM_EVENTS sequence through which everything this projector saw is settled. */
  get through(): number {
    return this.progress.through;
  }

  /** Resolves once the projector has settled ROOM_EVENTS through `streamSeq`. */
  whenProjected(streamSeq: number): Promise<void> {
    return this.progress.whenThrough(streamSeq);
  }

  /** Catches the store up if it is behind the durable consumer, then follows the log. */
  async start(): Promise<void> {
    if (this.loop !== undefined) return;
    await ensureRoomEvents(this.o.jsm, this.o.replicas);
    const position = await this.o.store.position();
    const info = await this.ensureConsumer(position);
    this.progress.reset(position);
    const acked = info.ack_floor.stream_seq;
    if (acked > position) {
      this.o.log.info('catalogue behind its consumer: catching up from the log', {
        from: position + 1,
        to: acked,
      });
      await this.replay(position + 1, acked);
    }
    const consumer = await this.o.js.consumers.get(streamNames.roomEvents, this.durable);
    const messages = await consumer.consume({ max_messages: this.o.config.maxInFlight });
    this.messages = messages;
    this.loop = this.follow(messages).catch((err: unknown) => {
      this.o.log.error('catalogue projector stopped following ROOM_EVENTS', { err });
    });
  }

  /** Stops taking deliveries, finishes those under way and saves the position. */
  async stop(): Promise<void> {
    const messages = this.messages;
    this.messages = undefined;
    if (messages !== undefined) await messages.close();
    await this.loop;
    this.loop = undefined;
    await this.lanes.idle();
    await this.flushPosition();
  }

  /**
   * Rebuilds the store from the whole log: clears it, applies every batch of
   * ROOM_EVENTS in order, and resumes following if it was. Lists are incomplete
   * while it runs. Run it in one catalogue process only (stop the others).
   */
  async rebuild(): Promise<{ through: number; counts: ProjectorCounts }> {
    const following = this.loop !== undefined;
    if (following) await this.stop();
    await ensureRoomEvents(this.o.jsm, this.o.replicas);
    await this.o.store.clear();
    this.progress.reset(0);
    const last = (await this.o.jsm.streams.info(streamNames.roomEvents)).state.last_seq;
    await this.replay(1, last);
    await this.o.store.savePosition(last);
    if (following) await this.start();
    return { through: last, counts: { ...this.counts } };
  }

  private async ensureConsumer(position: number): Promise<ConsumerInfo> {
    const { jsm, config } = this.o;
    try {
      return await jsm.consumers.info(streamNames.roomEvents, this.durable);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound))
        throw err;
    }
    return jsm.consumers.add(streamNames.roomEvents, {
      durable_name: this.durable,
      filter_subject: subjects.roomEventsAll,
      ack_policy: AckPolicy.Explicit,
      ...(position === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: position + 1 }),
      ack_wait: nanos(config.ackWaitMs),
      // Deliveries waiting for an earlier batch of their room count here: they only
      // ever wait for earlier deliveries, so this bound cannot starve them.
      max_ack_pending: config.maxInFlight,
      max_deliver: -1,
    });
  }

  private async follow(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      await this.lanes.admit();
      this.dispatch(this.deliveryOf(m, true));
    }
  }

  /** Applies ROOM_EVENTS from `from` through `to` in stream order, with an ordered consumer. */
  private async replay(from: number, to: number): Promise<void> {
    const state = (await this.o.jsm.streams.info(streamNames.roomEvents)).state;
    if (state.messages === 0 || from > Math.min(to, state.last_seq)) return;
    const consumer = await this.o.js.consumers.get(streamNames.roomEvents, {
      filter_subjects: subjects.roomEventsAll,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const messages = await consumer.consume({ max_messages: this.o.config.maxInFlight });
    for await (const m of messages) {
      await this.lanes.admit();
      this.dispatch(this.deliveryOf(m, false));
      if (m.seq >= to || m.info.pending === 0) break;
    }
    await messages.close();
    await this.lanes.idle();
  }

  /** A message as a delivery: settled on the durable consumer, or (a replay's) not at all. */
  private deliveryOf(m: JsMsg, durable: boolean): Delivery {
    const nothing = () => undefined;
    return {
      streamSeq: m.seq,
      subject: m.subject,
      data: m.data,
      headers: m.headers,
      attempt: durable ? m.info.deliveryCount : 1,
      redelivered: durable,
      done: durable ? () => m.ack() : nothing,
      retry: durable ? () => m.nak(this.o.config.retryDelayMs) : nothing,
      // No reason text: nats-server 2.9 ignores a `+TERM` that carries one.
      drop: durable ? () => m.term() : nothing,
    };
  }

  private dispatch(d: Delivery): void {
    this.progress.delivered(d.streamSeq);
    const batch = readBatch(d.subject, d.data);
    if (batch === undefined) {
      this.counts.invalid++;
      this.o.log.error('not a room event batch: dropped', { seq: d.streamSeq, subject: d.subject });
      d.drop();
      this.progress.done(d.streamSeq);
      return;
    }
    this.lanes.run(batch.roomId, () => this.traced(d, batch));
  }

  /**
   * Applies a batch the durable consumer delivered inside a CONSUMER span, child of
   * the append that recorded it: the trace of a command ends in the catalogue. A
   * replay (rebuild, catch-up) records no spans: it would add old batches to old traces.
   */
  private traced(d: Delivery, batch: RoomEventBatch): Promise<void> {
    const parent = traceContextOf(d);
    if (!d.redelivered || !isTraced(parent)) return this.apply(d, batch);
    return withSpan(
      'project ROOM_EVENTS',
      {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': d.subject,
        'roomcast.room': batch.roomId,
        'roomcast.seq': batch.seq,
        'roomcast.events': batch.events.length,
        'roomcast.attempt': d.attempt,
      },
      () => this.apply(d, batch),
      { kind: SpanKind.CONSUMER, parent },
    );
  }

  private async apply(d: Delivery, batch: RoomEventBatch): Promise<void> {
    for (;;) {
      let outcome: BatchOutcome;
      try {
        outcome = await projectBatch(this.o.store, batch);
      } catch (err) {
        this.counts.failed++;
        this.o.log.warn('catalogue write failed; will retry', { seq: d.streamSeq, err });
        if (d.redelivered) {
          d.retry();
          return;
        }
        await new Promise((r) => setTimeout(r, this.o.config.retryDelayMs));
        continue;
      }
      this.counts[outcome]++;
      setSpanAttributes({ 'roomcast.outcome': outcome });
      switch (outcome) {
        case 'applied':
        case 'duplicate':
          d.done();
          break;
        case 'gap':
          if (d.redelivered) {
            // Worth a look when it keeps coming back: the log may miss a batch of that room.
            if (d.attempt % 10 === 0)
              this.o.log.warn('batch still waits for an earlier one of its room', {
                roomId: batch.roomId,
                seq: batch.seq,
                attempt: d.attempt,
              });
            d.retry();
            return;
          }
          this.o.log.error('replay: an earlier batch of this room is missing; skipped', {
            roomId: batch.roomId,
            seq: batch.seq,
          });
          break;
        case 'invalid':
          this.o.log.error('batch cannot apply: dropped', { roomId: batch.roomId, seq: batch.seq });
          d.drop();
          break;
      }
      this.progress.done(d.streamSeq);
      return;
    }
  }

  /** Saves the position in the background, one write at a time, the latest value last. */
  private persistPosition(): void {
    if (this.saving !== undefined) {
      this.saveAgain = true;
      return;
    }
    const through = this.progress.through;
    this.saving = this.o.store
      .savePosition(through)
      .catch((err: unknown) => this.o.log.warn('saving the catalogue position failed', { err }))
      .finally(() => {
        this.saving = undefined;
        if (this.saveAgain) {
          this.saveAgain = false;
          this.persistPosition();
        }
      });
  }

  private async flushPosition(): Promise<void> {
    while (this.saving !== undefined) await this.saving;
    if (this.progress.through > 0) await this.o.store.savePosition(this.progress.through);
  }
}
