/**
 * Replies to a connection's requests, all on one subscription: the bus's requests
 * (bus.ts) and JetStream's acknowledgements (jetstream.publisher.ts) each keep one.
 *
 * Why not nats.js `request`: for every request it finishes, nats-core 3.4 builds an
 * Error it then throws away (`RequestOne.cancel` rejects a settled promise with a
 * new `RequestError`: a stack capture), and arms a timer and promises of its own.
 * In the audience benchmark's join storm that Error alone was about 4% of a
 * gateway's CPU, and the room service's appends paid it too before they moved here.
 * A request is a publish with a reply subject under this inbox, so it can also
 * leave with the rest of its turn's publishes (one write for many).
 *
 * Timeouts are swept, not timed one by one: the waiting are kept per timeout in the
 * order they came, so a sweep stops at the first one not due. The sweep runs only
 * while something waits, every quarter of the shortest timeout waiting and at least
 * every 50 ms: a reply that never comes is refused within `timeoutMs` plus that.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';

interface Waiting {
  resolve: (msg: Msg) => void;
  reject: (err: Error) => void;
  deadline: number;
  expired: () => Error;
  /** The waiting with the same timeout, in the order they came (deadline order). */
  queue: Map<string, Waiting>;
}

/** The longest a due reply waits for the sweep, ms. */
const SWEEP_AT_MOST_MS = 50;
/** The shortest sweep period, ms, whatever the timeout. */
const SWEEP_AT_LEAST_MS = 5;

export class ReplyInbox {
  private readonly prefix: string;
  private readonly waiting = new Map<string, Waiting>();
  private readonly byTimeout = new Map<number, Map<string, Waiting>>();
  private next = 0;
  private readonly sub: Subscription;
  private sweep: NodeJS.Timeout | undefined;
  private sweepEveryMs = Infinity;

  /** `inboxPrefix`: the connection's own (a NATS user may subscribe under it only). */
  constructor(nc: NatsConnection, inboxPrefix: string | undefined) {
    this.prefix = `${createInbox(inboxPrefix)}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (_err, msg) => this.arrived(msg) });
  }

  /** How many replies are awaited. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * A new reply subject and the message that will come to it; rejected with
   * `expired()` when none came within `timeoutMs`.
   */
  expect(timeoutMs: number, expired: () => Error): { subject: string; reply: Promise<Msg> } {
    const token = (this.next++).toString(36);
    let queue = this.byTimeout.get(timeoutMs);
    if (queue === undefined) this.byTimeout.set(timeoutMs, (queue = new Map<string, Waiting>()));
    const q = queue;
    const reply = new Promise<Msg>((resolve, reject) => {
      const w: Waiting = { resolve, reject, deadline: Date.now() + timeoutMs, expired, queue: q };
      this.waiting.set(token, w);
      q.set(token, w);
    });
    this.armSweep(timeoutMs);
    return { subject: this.prefix + token, reply };
  }

  /** Refuses the reply awaited on `subject` now (its request could not be sent); others are ignored. */
  fail(subject: string, err: Error): void {
    if (!subject.startsWith(this.prefix)) return;
    this.settle(subject.slice(this.prefix.length))?.reject(err);
  }

  /** Refuses everything awaited (with `err()`, else as if it expired) and stops listening. */
  close(err?: () => Error): void {
    this.stopSweep();
    this.sub.unsubscribe();
    const all = [...this.waiting.values()];
    this.waiting.clear();
    this.byTimeout.clear();
    for (const w of all) w.reject(err?.() ?? w.expired());
  }

  private arrived(msg: Msg | undefined): void {
    if (msg === undefined) return;
    // Late (after its timeout) or not ours: dropped.
    this.settle(msg.subject.slice(this.prefix.length))?.resolve(msg);
  }

  private settle(token: string): Waiting | undefined {
    const w = this.waiting.get(token);
    if (w === undefined) return undefined;
    this.waiting.delete(token);
    w.queue.delete(token);
    return w;
  }

  private armSweep(timeoutMs: number): void {
    const every = Math.max(SWEEP_AT_LEAST_MS, Math.min(SWEEP_AT_MOST_MS, timeoutMs / 4));
    if (this.sweep !== undefined && every >= this.sweepEveryMs) return;
    this.stopSweep();
    this.sweepEveryMs = every;
    this.sweep = setInterval(() => this.expire(), every);
    this.sweep.unref();
  }

  private stopSweep(): void {
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
    this.sweepEveryMs = Infinity;
  }

  private expire(): void {
    const now = Date.now();
    for (const [timeoutMs, queue] of this.byTimeout) {
      for (const [token, w] of queue) {
        // Same timeout, so deadlines grow with the order they came: the first not due ends it.
        if (w.deadline > now) break;
        queue.delete(token);
        this.waiting.delete(token);
        w.reject(w.expired());
      }
      if (queue.size === 0) this.byTimeout.delete(timeoutMs);
    }
    if (this.waiting.size === 0) this.stopSweep();
  }
}
