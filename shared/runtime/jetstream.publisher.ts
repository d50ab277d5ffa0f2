/**
 * JetStream publishes for a hot path: the acknowledgements come to one inbox
 * (reply.inbox.ts), instead of a request per publish as `jetstream().publish` does.
 *
 * Why: the room service appends a batch for nearly every command it answers. A
 * profile of the rooms benchmark had nats.js building and throwing away an Error
 * (a stack capture) for every finished request, about 5% of the service's CPU and
 * more in garbage collection. The acknowledgement protocol is small and stable
 * (JetStream's PubAck, or an API error, or a 503 status when no stream holds the
 * subject), so it is read here.
 */
import {
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/nats-core';
import { ReplyInbox } from './reply.inbox.js';

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

/** What a publish asks JetStream to check before it stores. */
export interface PublishExpect {
  /** Stored only into this stream. */
  stream?: string;
  /** Stored only if the subject's last message has this stream sequence (0: none yet). */
  lastSubjectSequence?: number;
}

export class JetStreamPublisher {
  private readonly inbox: ReplyInbox;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.inbox = new ReplyInbox(nc);
  }

  /** Publishes `data` to a stream's subject; resolves once JetStream has stored it. */
  async publish(
    subject: string,
    data: Uint8Array,
    o: { msgId?: string; expect?: PublishExpect; headers?: MsgHdrs } = {},
  ): Promise<PubAck> {
    const h = o.headers ?? natsHeaders();
    if (o.msgId !== undefined) h.set('Nats-Msg-Id', o.msgId);
    if (o.expect?.stream !== undefined) h.set('Nats-Expected-Stream', o.expect.stream);
    if (o.expect?.lastSubjectSequence !== undefined)
      h.set('Nats-Expected-Last-Subject-Sequence', String(o.expect.lastSubjectSequence));
    const { subject: reply, reply: ack } = this.inbox.expect(
      this.timeoutMs,
      () => new JetStreamAckTimeoutError(`no acknowledgement within ${this.timeoutMs} ms`),
    );
    try {
      this.nc.publish(subject, data, { reply, headers: h });
    } catch (err) {
      this.inbox.fail(reply, err);
    }
    return pubAckOf(await ack);
  }

  /** Refuses everything still waiting and stops listening. */
  close(): void {
    this.inbox.close(() => new JetStreamAckTimeoutError('publisher closed'));
  }
}

/** The acknowledgement in `msg`, or JetStream's refusal thrown. */
function pubAckOf(msg: Msg): PubAck {
  // A status message: 503 when no stream listens on the subject.
  const status = msg.headers?.code ?? 0;
  if (status >= 300 || msg.data.length === 0) {
    throw new JetStreamPublishError(
      msg.headers?.description || `no acknowledgement (status ${status})`,
      0,
      status,
    );
  }
  let body: {
    stream?: string;
    seq?: number;
    duplicate?: boolean;
    error?: { code?: number; err_code?: number; description?: string };
  };
  try {
    body = JSON.parse(Buffer.from(msg.data).toString('utf8')) as typeof body;
  } catch {
    throw new JetStreamPublishError('malformed acknowledgement', 0, 0);
  }
  if (body.error !== undefined) {
    const e = body.error;
    throw new JetStreamPublishError(e.description ?? 'refused', e.err_code ?? 0, e.code ?? 0);
  }
  if (typeof body.seq === 'number' && typeof body.stream === 'string')
    return { stream: body.stream, seq: body.seq, duplicate: body.duplicate === true };
  throw new JetStreamPublishError('malformed acknowledgement', 0, 0);
}
