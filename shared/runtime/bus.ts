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
 */
import { connect } from '@nats-io/transport-node';
import {
  headers as natsHeaders,
  type Authenticator,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import {
  ROOT_CONTEXT,
  context,
  propagation,
  trace,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import { NoRespondersError, RequestTimeoutError } from '../wire/errors.js';
import type { Logger } from './log.js';
import { subjectTemplate } from '../wire/subjects.js';
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

const headerGetter: TextMapGetter<MsgHdrs> = {
  keys: (carrier) => carrier.keys(),
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
};

/**
 * Headers carrying the active trace context, or `undefined` when no span is active
 * (then nothing is allocated: the relay path pays nothing with tracing off).
 */
export function traceHeaders(ctx: Context = context.active()): MsgHdrs | undefined {
  if (trace.getSpanContext(ctx) === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const keys = Object.keys(carrier);
  if (keys.length === 0) return undefined;
  const h = natsHeaders();
  for (const key of keys) h.set(key, carrier[key] ?? '');
  return h;
}

/** The trace context a message (core or JetStream) carries, or the root context when it carries none. */
export function traceContextOf(msg: { readonly headers?: MsgHdrs | undefined }): Context {
  return msg.headers === undefined
    ? ROOT_CONTEXT
    : propagation.extract(ROOT_CONTEXT, msg.headers, headerGetter);
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

/**
 * The headers of a message about to leave. With tracing on and a span active, a
 * PRODUCER span stands for the send and its context goes in the headers; with
 * tracing off, only the branch on `isTracing()` and a lookup of the active span
 * run (nothing is allocated).
 */
function outgoingHeaders(subject: string, bytes: number): MsgHdrs | undefined {
  if (!isTracing()) return traceHeaders();
  const send = startSendSpan('publish', { subject, template: subjectTemplate(subject), bytes });
  if (send === undefined) return undefined;
  send.span.end();
  return traceHeaders(send.ctx);
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

  /** Sends what is queued and waits until the server has it. */
  async flush(): Promise<void> {
    this.flushQueue();
    await this.nc.flush();
  }

  /** Sends what is queued, lets subscriptions finish, and closes. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.flushQueue();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
    this.replies.close();
  }
}
