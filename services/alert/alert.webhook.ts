/**
 * Alerts to the configured webhook. A durable consumer of the ALERTS stream feeds
 * it, so an alert raised while the webhook (or this service) was down is still
 * sent once they are back; one alert at a time, in order, each POSTed with
 * retries and exponential backoff.
 *
 * Delivery is at least once: a receiver deduplicates on `x-roomcast-delivery`.
 * The body is signed (HMAC-SHA256 of the raw body, `x-roomcast-signature:
 * sha256=<hex>`) when ALERT_WEBHOOK_SECRET is set: a receiver checks the raw
 * body before parsing it.
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { Config } from '#config/config.js';
import type { Logger } from '#shared/runtime/log.js';
import { decodeOrTerm, ensureConsumer, streamNames } from '#shared/runtime/streams.js';
import { subjects } from '#shared/wire/subjects.js';
import { alertMsgId, type AlertEvent } from '#shared/wire/alert.events.js';

/** Durable name of the webhook's consumer of ALERTS. */
export const WEBHOOK_CONSUMER = 'alert-webhook';

export interface WebhookOptions {
  url: string;
  secret: string | undefined;
  /** Attempts per alert, the first included. */
  attempts: number;
  /** Delay before the first retry, doubled for each further one, in ms. */
  backoffMs: number;
  /** Longest delay between two attempts, in ms. */
  backoffMaxMs: number;
  /** Time one attempt may take, in ms. */
  timeoutMs: number;
  log: Logger;
}

/** The webhook options from the ALERT_WEBHOOK_* settings; `undefined` without a URL. */
export function webhookOptions(c: Config['alert'], log: Logger): WebhookOptions | undefined {
  if (c.webhookUrl === undefined) return undefined;
  return {
    url: c.webhookUrl,
    secret: c.webhookSecret,
    attempts: c.webhookAttempts,
    backoffMs: c.webhookBackoffMs,
    backoffMaxMs: c.webhookBackoffMaxMs,
    timeoutMs: c.webhookTimeoutMs,
    log,
  };
}

/** The delay before attempt `attempt + 1` (attempt counts from 1), in ms. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}

/** The signature header value of a body. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A status worth another attempt: the server's trouble or a request to slow down. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

/** How one delivery ended. */
export type Delivery = 'delivered' | 'refused' | 'given_up' | 'aborted';

/**
 * POSTs one alert event, retrying on network errors, timeouts and retryable
 * statuses. `beforeAttempt` runs before each attempt and each wait (the consumer
 * tells JetStream it is still working); `signal` stops it between attempts.
 */
export async function postAlert(
  o: WebhookOptions,
  event: AlertEvent,
  beforeAttempt: () => void = () => undefined,
  signal?: AbortSignal,
): Promise<Delivery> {
  const body = JSON.stringify(event);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'roomcast-alert',
    'x-roomcast-event': event.type,
    'x-roomcast-delivery': alertMsgId(event),
  };
  if (o.secret !== undefined) headers['x-roomcast-signature'] = signBody(o.secret, body);
  // A function, not a field read: the flag changes while we wait.
  const aborted = () => signal?.aborted === true;
  for (let attempt = 1; ; attempt++) {
    if (aborted()) return 'aborted';
    beforeAttempt();
    let failure: string;
    try {
      const timeout = AbortSignal.timeout(o.timeoutMs);
      const res = await fetch(o.url, {
        method: 'POST',
        headers,
        body,
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      });
      // The body is not needed; reading it frees the connection for the next call.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'delivered';
      failure = `HTTP ${res.status}`;
      if (!retryable(res.status)) {
        o.log.error('webhook refused the alert; not retried', {
          alert: event.alert.id,
          status: res.status,
        });
        return 'refused';
      }
    } catch (err) {
      if (aborted()) return 'aborted';
      failure = err instanceof Error ? err.message : String(err);
    }
    if (attempt >= o.attempts) {
      o.log.error('webhook did not take the alert; given up', {
        alert: event.alert.id,
        attempts: attempt,
        failure,
      });
      return 'given_up';
    }
    o.log.warn('webhook attempt failed; retrying', {
      alert: event.alert.id,
      attempt,
      failure,
    });
    beforeAttempt();
    try {
      await sleep(backoffDelay(attempt, o.backoffMs, o.backoffMaxMs), undefined, { signal });
    } catch {
      return 'aborted';
    }
  }
}

/** Feeds the webhook from the ALERTS stream. */
export class WebhookSender {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly o: WebhookOptions) {}

  async start(js: JetStreamClient, jsm: JetStreamManager): Promise<void> {
    // Each attempt and each wait is announced with working(): the ack wait only
    // has to cover the longer of the two.
    const ackWaitMs = 2 * Math.max(this.o.timeoutMs, this.o.backoffMaxMs);
    await ensureConsumer(jsm, streamNames.alerts, {
      durable_name: WEBHOOK_CONSUMER,
      filter_subject: subjects.alertAll,
      // A webhook configured today does not want last month's alerts.
      deliver_policy: DeliverPolicy.New,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_ack_pending: 1,
    });
    const consumer = await js.consumers.get(streamNames.alerts, WEBHOOK_CONSUMER);
    const messages = await consumer.consume({ max_messages: 1 });
    this.messages = messages;
    this.loop = (async () => {
      for await (const m of messages) {
        const event = decodeOrTerm<AlertEvent>(m, this.o.log);
        if (event === undefined) continue;
        const result = await postAlert(this.o, event, () => m.working(), this.stopping.signal);
        // Stopped mid-way: the next start (or another instance) delivers it again.
        if (result === 'aborted') m.nak();
        // Delivered, refused or given up (and logged): settled.
        else m.ack();
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.messages?.stop();
    await this.loop;
  }
}
