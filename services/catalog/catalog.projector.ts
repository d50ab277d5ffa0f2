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
 * - The archive is written before the room record: the record's `seq` is the mark
 *   that a batch is applied, so a crash between the two writes only repeats the first.
 *
 * The room's record is computed with the room service's own reducer (`applyEvent`),
 * so the catalogue cannot drift from what the room actor holds.
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
import { nanos, type MsgHdrs } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import { decode, traceContextOf } from '#shared/runtime/bus.js';
import type { Logger } from '#shared/runtime/log.js';
import type { Role } from '#shared/wire/protocol.js';
import type { RoomEvent, RoomEventBatch } from '#shared/room/room.events.js';
import { roomEventsConfig, streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { SpanKind, isTraced, setSpanAttributes, withSpan } from '#shared/runtime/telemetry.js';
import {
  applyEvent,
  initialState,
  noStream,
  toLiveRoom,
  type Member,
  type RoomState,
} from '#shared/room/room.state.js';
import type { CatalogRoom, CatalogStore } from './catalog.store.js';

/** The room state a record stands for. Members keep only their role; the rest is not projected. */
export function stateOf(r: CatalogRoom): RoomState {
  const members: Record<string, Member> = {};
  for (const [peerId, role] of Object.entries(r.members)) {
    members[peerId] = {
      peerId,
      role,
      userId: '',
      gateway: '',
      conn: '',
      resumeHash: '',
      joinedAt: 0,
      awayUntil: null,
    };
  }
  const { room } = r;
  return {
    roomId: room.id,
    ownerId: room.userId,
    settings: { title: room.title, isPrivate: room.isPrivate, maxViewers: room.maxViewers },
    streamKey: room.streamKey,
    status: room.status,
    createdAt: room.createdAt,
    startTime: room.startTime,
    endTime: room.endTime,
    members,
    viewers: room.viewers,
    peakViewers: room.peakViewers,
    publisher: null,
    stream: noStream,
    streamViewers: Object.fromEntries(
      (r.streamViewers ?? []).map((clientId) => [
        clientId,
        { clientId, userId: null, serviceId: null, at: 0 },
      ]),
    ),
    seq: r.seq,
  };
}

/** The record of a room state. */
export function recordOf(s: RoomState): CatalogRoom {
  const members: Record<string, Role> = {};
  for (const m of Object.values(s.members)) members[m.peerId] = m.role;
  return {
    room: { ...toLiveRoom(s, false), streamKey: s.streamKey },
    seq: s.seq,
    members,
    streamViewers: Object.keys(s.streamViewers),
  };
}

/**
 * What applying a batch did: `applied`; `duplicate` (the record already reflects
 * it); `gap` (an earlier batch of the room is not applied yet: retry later);
 * `invalid` (it can never apply: not a batch, or a room that does not start with
 * `room_created`).
 */
export type BatchOutcome = 'applied' | 'duplicate' | 'gap' | 'invalid';

/** Reads a ROOM_EVENTS message as a batch, or undefined when it is not one. */
export function readBatch(subject: string, data: Uint8Array): RoomEventBatch | undefined {
  let value: unknown;
  try {
    value = decode<unknown>(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const b = value as Partial<RoomEventBatch>;
  const ok =
    b.v === 1 &&
    b.roomId === subjects.roomIdOfEvents(subject) &&
    Number.isSafeInteger(b.seq) &&
    (b.seq ?? 0) >= 1 &&
    Array.isArray(b.events) &&
    b.events.length > 0;
  return ok ? (b as RoomEventBatch) : undefined;
}

/** Applies one batch to the store, idempotently (see `BatchOutcome`). */
export async function projectBatch(
  store: CatalogStore,
  batch: RoomEventBatch,
): Promise<BatchOutcome> {
  const stored = await store.getRoom(batch.roomId);
  const last = stored?.seq ?? 0;
  if (batch.seq + batch.events.length - 1 <= last) return 'duplicate';
  if (batch.seq > last + 1) return 'gap';
  let state = stored === undefined ? undefined : stateOf(stored);
  batch.events.forEach((e: RoomEvent, i) => {
    if (batch.seq + i <= last) return;
    if (state !== undefined) state = applyEvent(state, e);
    else if (e.type === 'room_created' && batch.seq + i === 1) state = initialState(e);
  });
  if (state === undefined) return 'invalid';
  await store.appendEvents(batch.roomId, batch.seq, batch.events);
  return (await store.putRoom(recordOf(state))) ? 'applied' : 'duplicate';
}

/** One message to project, wherever it came from (the durable consumer or a replay). */
interface Delivery {
  streamSeq: number;
  subject: string;
  data: Uint8Array;
  /** The message headers: the trace context of the append that recorded the batch. */
  headers: MsgHdrs | undefined;
  /** How many times it has been delivered (1 the first time). */
  attempt: number;
  /**
   * From the durable consumer: it comes again after `retry`. From a replay it does
   * not: a failed write is retried in place, and a gap is a hole in the log.
   */
  redelivered: boolean;
  /** Applied, or found applied: acknowledge. */
  done(): void;
  /** Not applied now: deliver again later. */
  retry(): void;
  /** Can never apply: stop delivering it. */
  drop(): void;
}

/**
 * Runs tasks in lanes: one lane per room, in order within a lane, lanes in
 * parallel, at most `max` tasks admitted at once.
 */
class Lanes {
  private readonly tails = new Map<string, Promise<void>>();
  private admitted = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /** Resolves when one more task may be admitted. */
  async admit(): Promise<void> {
    while (this.admitted >= this.max) await new Promise<void>((r) => this.waiters.push(r));
  }

  run(lane: string, task: () => Promise<void>): void {
    this.admitted++;
    const next = (this.tails.get(lane) ?? Promise.resolve()).then(task).finally(() => {
      this.admitted--;
      this.waiters.shift()?.();
      if (this.tails.get(lane) === next) this.tails.delete(lane);
    });
    this.tails.set(lane, next);
  }

  /** Resolves when every admitted task has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.allSettled([...this.tails.values()]);
  }
}

/**
 * The stream sequence through which every delivery seen is settled. Deliveries
 * arrive in stream order (redeliveries aside), so that is the last delivered
 * sequence once all before it are done.
 */
class Progress {
  through = 0;
  private readonly open = new Map<number, boolean>();
  private readonly order: number[] = [];
  private head = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];

  constructor(private readonly onAdvance: (through: number) => void) {}

  reset(through: number): void {
    this.through = through;
    this.open.clear();
    this.order.length = 0;
    this.head = 0;
    this.wake();
  }

  delivered(seq: number): void {
    if (seq <= this.through || this.open.has(seq)) return;
    this.open.set(seq, false);
    this.order.push(seq);
  }

  done(seq: number): void {
    if (!this.open.has(seq)) return;
    this.open.set(seq, true);
    const before = this.through;
    while (this.head < this.order.length) {
      const s = this.order[this.head] as number;
      if (this.open.get(s) !== true) break;
      this.open.delete(s);
      this.through = Math.max(this.through, s);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
    if (this.through > before) {
      this.wake();
      this.onAdvance(this.through);
    }
  }

  /** Resolves once everything through `seq` is settled. */
  whenThrough(seq: number): Promise<void> {
    if (this.through >= seq) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.seq > this.through) return true;
      w.resolve();
      return false;
    });
  }
}

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
