/**
 * JetStream publishes for a hot path: one inbox subscription for every
 * acknowledgement, instead of a request (with its own subscription token, timer
 * and error object) per publish as `jetstream().publish` does.
 *
 * Why: the room service appends a batch for nearly every command it answers. A
 * profile of the rooms benchmark had nats.js building and throwing away an Error
 * (a stack capture) for every finished request, about 5% of the service's CPU and
 * more in garbage collection. The acknowledgement protocol is small and stable
 * (JetStream's PubAck, or an API error, or a 503 status when no stream holds the
 * subject), so it is read here.
 *
 * Timeouts are swept every quarter of `timeoutMs` rather than timed one by one: an
 * acknowledgement that never comes is refused within 1.25 × `timeoutMs`.
 */
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';

/** What JetStream answers a stored (or deduplicated) publish with. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/**
 * JetStream refused the publish (`code` is the API's `err_code`, e.g. 10071 wrong last
 * sequence: `isWrongLastSequence` in streams.ts tells that one).
 */
export class JetStreamPublishError extends Error {
  override readonly name = 'JetStreamPublishError';
  constructor(
    message: string,
    readonly code: number,
    readonly status: number,
  ) {
    super(message);
  }
}

/** No acknowledgement within the deadline: the message may or may not be stored. */
export class JetStreamAckTimeoutError extends Error {
  override readonly name = 'JetStreamAckTimeoutError';
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

interface Waiting {
  resolve: (ack: PubAck) => void;
  reject: (err: Error) => void;
  deadline: number;
}

/** What a publish asks JetStream to check before it stores. */
export interface PublishExpect {
  /** Stored only into this stream. */
  stream?: string;
  /** Stored only if the subject's last message has this stream sequence (0: none yet). */
  lastSubjectSequence?: number;
}

export class JetStreamPublisher {
  private readonly prefix: string;
  private readonly waiting = new Map<string, Waiting>();
  private next = 0;
  private readonly sub: Subscription;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox(inboxPrefixOf(nc))}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (_err, msg) => this.acked(msg) });
    this.sweep = setInterval(() => this.expire(), Math.max(25, timeoutMs / 4));
    this.sweep.unref();
  }

  /** Publishes `data` to a stream's subject; resolves once JetStream has stored it. */
  publish(
    subject: string,
    data: Uint8Array,
    o: { msgId?: string; expect?: PublishExpect; headers?: MsgHdrs } = {},
  ): Promise<PubAck> {
    const h = o.headers ?? natsHeaders();
    if (o.msgId !== undefined) h.set('Nats-Msg-Id', o.msgId);
    if (o.expect?.stream !== undefined) h.set('Nats-Expected-Stream', o.expect.stream);
    if (o.expect?.lastSubjectSequence !== undefined)
      h.set('Nats-Expected-Last-Subject-Sequence', String(o.expect.lastSubjectSequence));
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers: h });
      } catch (err) {
        this.waiting.delete(token);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Refuses everything still waiting and stops listening. */
  close(): void {
    clearInterval(this.sweep);
    this.sub.unsubscribe();
    for (const w of this.waiting.values())
      w.reject(new JetStreamAckTimeoutError('publisher closed'));
    this.waiting.clear();
  }

  private acked(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    if (w === undefined) return; // late, after its timeout
    this.waiting.delete(token);
    // A status message: 503 when no stream listens on the subject.
    const status = msg.headers?.code ?? 0;
    if (status >= 300 || msg.data.length === 0) {
      w.reject(
        new JetStreamPublishError(
          msg.headers?.description || `no acknowledgement (status ${status})`,
          0,
          status,
        ),
      );
      return;
    }
    try {
      const body = JSON.parse(Buffer.from(msg.data).toString('utf8')) as {
        stream?: string;
        seq?: number;
        duplicate?: boolean;
        error?: { code?: number; err_code?: number; description?: string };
      };
      if (body.error !== undefined) {
        const e = body.error;
        w.reject(
          new JetStreamPublishError(e.description ?? 'refused', e.err_code ?? 0, e.code ?? 0),
        );
      } else if (typeof body.seq === 'number' && typeof body.stream === 'string') {
        w.resolve({ stream: body.stream, seq: body.seq, duplicate: body.duplicate === true });
      } else {
        w.reject(new JetStreamPublishError('malformed acknowledgement', 0, 0));
      }
    } catch {
      w.reject(new JetStreamPublishError('malformed acknowledgement', 0, 0));
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      // Deadlines grow with insertion order: the first one not due ends the sweep.
      if (w.deadline > now) break;
      this.waiting.delete(token);
      w.reject(new JetStreamAckTimeoutError(`no acknowledgement within ${this.timeoutMs} ms`));
    }
  }
}
