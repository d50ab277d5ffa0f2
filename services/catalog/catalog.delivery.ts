/**
 * How the projector orders and settles deliveries: a `Delivery` is one message
 * with its way to be settled; `Lanes` runs one room's batches in order and
 * different rooms in parallel; `Progress` knows through which stream sequence
 * every delivery is settled (the position the store saves).
 */
import type { MsgHdrs } from '@nats-io/nats-core';

/** One message to project, wherever it came from (the durable consumer or a replay). */
export interface Delivery {
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
export class Lanes {
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
export class Progress {
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
