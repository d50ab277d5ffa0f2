/**
 * W3C trace context in NATS message headers: what a message about to leave
 * carries, and the context a message that arrived carries (the bus's, and the
 * JetStream appends' and consumers' that bypass it).
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import {
  ROOT_CONTEXT,
  context,
  propagation,
  trace,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import { subjectTemplate } from '../wire/subjects.js';
import { isTracing, startSendSpan } from './telemetry.js';

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

/**
 * The headers of a message about to leave. With tracing on and a span active, a
 * PRODUCER span stands for the send and its context goes in the headers; with
 * tracing off, only the branch on `isTracing()` and a lookup of the active span
 * run (nothing is allocated).
 */
export function outgoingHeaders(subject: string, bytes: number): MsgHdrs | undefined {
  if (!isTracing()) return traceHeaders();
  const send = startSendSpan('publish', { subject, template: subjectTemplate(subject), bytes });
  if (send === undefined) return undefined;
  send.span.end();
  return traceHeaders(send.ctx);
}
