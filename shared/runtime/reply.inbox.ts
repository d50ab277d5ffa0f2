/**
 * Replies to a connection's requests, all on one subscription: the bus's requests
 * (bus.ts) and JetStream's acknowledgements (jetstream.publisher.ts) each keep one.
 *
 * Why not nats.js `request`: for every request it finishes, nats-core 3.4 builds an
 * Error it then throws away (`RequestOne.cancel` rejects a settled promise with a
 * new `RequestError`: a stack capture), and arms promises of its own. In the
 * audience benchmark's join storm that Error alone was about 4% of a gateway's CPU,
 * and the room service's appends paid it too before they moved here. A request is
 * a publish with a reply subject under this inbox, so it can also leave with the
 * rest of its turn's publishes (one write for many).
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';

interface Waiting {
  resolve: (msg: Msg) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  expired: () => Error;
}

/**
 * The connection's own inbox prefix: a NATS user may subscribe under its prefix
 * only (bus.permissions.ts). nats.js keeps its connect options on the connection
 * object but does not type them on `NatsConnection`.
 */
function inboxPrefixOf(nc: NatsConnection): string | undefined {
  if (!('options' in nc)) return undefined;
  const options: unknown = nc.options;
  if (typeof options !== 'object' || options === null || !('inboxPrefix' in options)) {
    return undefined;
  }
  return typeof options.inboxPrefix === 'string' ? options.inboxPrefix : undefined;
}

export class ReplyInbox {
  private readonly prefix: string;
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;
  private readonly sub: Subscription;

  constructor(nc: NatsConnection) {
    this.prefix = `${createInbox(inboxPrefixOf(nc))}.`;
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
    const reply = new Promise<Msg>((resolve, reject) => {
      // A timer per request: Node keeps the timers of one duration in one list, so
      // arming and clearing one is O(1) (about 1 µs measured, against the tens of µs
      // a request costs).
      const timer = setTimeout(() => this.settle(token)?.reject(expired()), timeoutMs);
      this.waiting.set(token, { resolve, reject, timer, expired });
    });
    return { subject: this.prefix + token, reply };
  }

  /** Refuses the reply awaited on `subject` now (its request could not be sent); others are ignored. */
  fail(subject: string, err: unknown): void {
    if (!subject.startsWith(this.prefix)) return;
    const w = this.settle(subject.slice(this.prefix.length));
    w?.reject(err instanceof Error ? err : new Error(String(err)));
  }

  /** Refuses everything awaited (with `err()`, else as if it expired) and stops listening. */
  close(err?: () => Error): void {
    this.sub.unsubscribe();
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(err?.() ?? w.expired());
    }
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
    clearTimeout(w.timer);
    return w;
  }
}
