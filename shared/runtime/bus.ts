/**
 * The NATS bus every service uses: a JSON codec for our messages, publishes
 * batched per event-loop turn, and W3C trace context carried in message headers.
 *
 * Why batching: the NATS client flushes its socket from a microtask after every
 * publish, and uWebSockets.js drains the microtask queue after every message
 * callback, so a plain `nc.publish()` per client frame costs one `write(2)` per
 * frame. Queueing publishes and handing them to the client once per turn
 * (`setImmediate`) lets one write carry them all: about 2.5× the throughput, measured
 * on the relay path before the bus was written. Requests leave the same way, their
 * replies coming to one inbox (reply.inbox.ts): a join storm is not a write per join.
 *
 * A caller that can wait longer than a turn (relayed signals: GATEWAY_RELAY_HOLD_MS)
 * holds its publishes for a few milliseconds instead (`publishHeld`): at low rates a
 * turn carries one message, and each message then wakes the publisher, nats-server
 * and the subscriber alone (README, "The PeerJS server as a yardstick").
 */
import { connect } from '@nats-io/transport-node';
import type { Authenticator, Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/nats-core';
import { NoRespondersError, RequestTimeoutError } from '../wire/errors.js';
import type { Logger } from './log.js';
import { subjectTemplate } from '../wire/subjects.js';
import { outgoingHeaders, traceContextOf, traceHeaders } from './bus.trace.js';
import { ReplyInbox } from './reply.inbox.js';
import { failSpan, isTracing, runReceived, startSendSpan } from './telemetry.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a message as JSON bytes. */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes JSON bytes into the type the subject carries (the inside is trusted). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the subject decides T
export function decode<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

export interface BusOptions {
  servers: string[];
  /** Connection name, shown by nats-server's monitoring. */
  name: string;
  /** Proves the process's credential (an nkey: bus.credentials.ts); none connects anonymously. */
  authenticator?: Authenticator;
  /**
   * Where replies to this connection's requests arrive (`_INBOX_<credential>`): the
   * server lets each credential subscribe to its own prefix only (bus.permissions.ts).
   */
  inboxPrefix?: string;
  /** Default timeout of `request`, in ms. */
  requestTimeoutMs: number;
  log: Logger;
}

interface Pending {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  reply?: string | undefined;
}

/** The service a request's subject names (its first token), for error messages. */
function serviceOf(subject: string): string {
  const dot = subject.indexOf('.');
  return dot === -1 ? subject : subject.slice(0, dot);
}

/** The bus: one NATS connection with the codec, batching and tracing we agreed on. */
export class Bus {
  private queue: Pending[] = [];
  private readonly replies: ReplyInbox;
  private scheduled = false;
  private readonly flushQueue = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const p of batch) {
      try {
        if (p.reply === undefined)
          this.nc.publish(
            p.subject,
            p.data,
            p.headers === undefined ? undefined : { headers: p.headers },
          );
        else
          this.nc.publish(p.subject, p.data, {
            reply: p.reply,
            ...(p.headers === undefined ? {} : { headers: p.headers }),
          });
      } catch (err) {
        // One bad publish (closed connection, bad subject) must not drop the rest of the batch.
        this.log.warn('publish failed', { subject: p.subject, err });
        // A request that could not leave is refused now, not at its timeout.
        if (p.reply !== undefined) this.replies.fail(p.reply, err);
      }
    }
  };
  /** `publishHeld`'s messages, in order, until `heldTimer` hands them to `queue`. */
  private held: Pending[] = [];
  private heldTimer: NodeJS.Timeout | undefined;
  private readonly releaseHeld = (): void => {
    this.sendHeld();
    this.flushQueue();
  };

  private constructor(
    readonly nc: NatsConnection,
    private readonly options: BusOptions,
    private readonly log: Logger,
  ) {
    this.replies = new ReplyInbox(nc);
  }

  /** Connects to NATS, retrying forever on reconnect; the first connect fails fast. */
  static async connect(options: BusOptions): Promise<Bus> {
    const nc = await connect({
      servers: options.servers,
      name: options.name,
      ...(options.authenticator === undefined ? {} : { authenticator: options.authenticator }),
      ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Error objects for async stack traces cost an allocation per request.
      noAsyncTraces: true,
    });
    const bus = new Bus(nc, options, options.log);
    void bus.watchStatus();
    return bus;
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        this.log.warn(`nats ${s.type}`, { server: 'server' in s ? s.server : undefined });
      }
    }
  }

  /**
   * Queues bytes for `subject`; they leave with the rest of this turn's publishes.
   * Without `headers`, the active trace context goes along (see `outgoingHeaders`).
   */
  publishBytes(subject: string, data: Uint8Array, headers?: MsgHdrs, reply?: string): void {
    this.enqueue(subject, data, headers ?? outgoingHeaders(subject, data.byteLength), reply);
  }

  private enqueue(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    reply?: string,
  ): void {
    this.queue.push({ subject, data, headers, reply });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushQueue);
    }
  }

  /**
   * Like `publishBytes`, but the message may wait up to `holdMs` to leave with the
   * others held meanwhile: the first held message starts the clock, and all leave
   * together, in the order held, in one write. 0 is `publishBytes`. Held messages
   * keep their order among themselves only: a `publishBytes` after one may leave
   * first. `flush` and `close` send them at once.
   */
  publishHeld(subject: string, data: Uint8Array, holdMs: number, reply?: string): void {
    if (holdMs <= 0) {
      this.publishBytes(subject, data, undefined, reply);
      return;
    }
    // The trace context is the one active now, not the timer's.
    this.held.push({ subject, data, headers: outgoingHeaders(subject, data.byteLength), reply });
    this.heldTimer ??= setTimeout(this.releaseHeld, holdMs);
  }

  /** Queues a JSON message for `subject`. */
  publish(subject: string, message: unknown): void {
    this.publishBytes(subject, encode(message));
  }

  /**
   * Answers a request (batched like any publish). A reply carries no trace
   * context: the requester's CLIENT span already spans it.
   */
  respond(msg: Msg, message: unknown): void {
    if (msg.reply !== undefined && msg.reply !== '')
      this.enqueue(msg.reply, encode(message), undefined);
  }

  /**
   * Sends a request and decodes the reply. Both failures are `UNAVAILABLE` on the
   * wire (a client only needs "try again"), but they stay apart for callers, as in
   * nats.js: `NoRespondersError` means nobody listens on the subject (try another
   * replica now), `RequestTimeoutError` means someone may still be working on it
   * (a retry may find the first attempt done).
   */
  async request<Reply>(
    subject: string,
    message: unknown,
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<Reply> {
    const data = encode(message);
    const send = isTracing()
      ? startSendSpan('request', {
          subject,
          template: subjectTemplate(subject),
          bytes: data.byteLength,
        })
      : undefined;
    const headers = send === undefined ? traceHeaders() : traceHeaders(send.ctx);
    const { subject: inbox, reply } = this.replies.expect(
      timeoutMs,
      () => new RequestTimeoutError(serviceOf(subject), timeoutMs),
    );
    // Queued behind whatever this turn published before it, so it arrives after them.
    this.enqueue(subject, data, headers, inbox);
    try {
      const msg = await reply;
      // The server's answer when nobody subscribes: a 503 status and no payload.
      if (msg.data.length === 0 && msg.headers?.code === 503)
        throw new NoRespondersError(serviceOf(subject));
      const decoded = decode<Reply>(msg.data);
      send?.span.end();
      return decoded;
    } catch (err) {
      if (send !== undefined) {
        failSpan(send.span, err);
        send.span.end();
      }
      if (err instanceof NoRespondersError || err instanceof RequestTimeoutError) throw err;
      throw new RequestTimeoutError(serviceOf(subject), timeoutMs, { cause: err });
    }
  }

  /**
   * Subscribes with a callback (no async iterator on the hot path). With tracing
   * on, a message that carries trace context is handled inside a CONSUMER span
   * (SERVER for a request), child of that context. A throwing handler is logged,
   * never fatal. `consumed`: a reply subject on these messages asks for an
   * acknowledgement, not an answer (a first signal: gateway.signal.acks.ts), so they
   * are consumed (CONSUMER) like the rest.
   */
  subscribe(
    subject: string,
    handler: (msg: Msg) => void,
    options: { queue?: string; consumed?: boolean } = {},
  ): Subscription {
    return this.nc.subscribe(subject, {
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      callback: (err, msg) => {
        if (err !== null) {
          this.log.warn('subscription error', { subject, err });
          return;
        }
        try {
          if (msg.headers === undefined || !isTracing()) handler(msg);
          else
            runReceived(
              {
                subject: msg.subject,
                template: subjectTemplate(msg.subject),
                bytes: msg.data.byteLength,
              },
              options.consumed !== true && msg.reply !== undefined && msg.reply !== '',
              traceContextOf(msg),
              () => handler(msg),
            );
        } catch (e) {
          this.log.error('handler failed', { subject: msg.subject, err: e });
        }
      },
    });
  }

  /** Moves held messages to the queue now. */
  private sendHeld(): void {
    if (this.heldTimer === undefined) return;
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.queue.push(...this.held);
    this.held = [];
  }

  /** Sends what is queued (held messages too) and waits until the server has it. */
  async flush(): Promise<void> {
    this.sendHeld();
    this.flushQueue();
    await this.nc.flush();
  }

  /** Sends what is queued, lets subscriptions finish, and closes. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.sendHeld();
    this.flushQueue();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
    this.replies.close();
  }
}
