/**
 * Tracing: the one setup every service calls from its main.ts, and the span
 * helpers every service (and the bus) uses.
 *
 * What must hold:
 * - Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Off means no SDK is loaded or
 *   started: `@opentelemetry/api` stays its no-op self and every helper here
 *   checks one variable before doing anything else, so the relay path allocates
 *   nothing for tracing.
 * - On means: the OpenTelemetry Node SDK with the service's name, version and
 *   instance, the W3C trace-context propagator, spans batched to OTLP/HTTP, and a
 *   `shutdown()` that flushes them (bounded in time) on SIGTERM.
 * - A message sent outside any traced work starts no trace (heartbeats and metric
 *   events would bury the traces that matter); a message received with no trace
 *   context gets no span either.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Config } from '#config/config.js';
import type { Logger } from './log.js';
import { packageVersion } from './service.identity.js';

export { SpanKind };
// Re-exported: the services' main.ts files import them from here.
export { packageVersion, processInstanceId } from './service.identity.js';

/** The tracer while tracing is on; `undefined` is the whole "off" switch. */
let tracer: Tracer | undefined;

/** True while a tracing SDK started by this module is running. */
export function isTracing(): boolean {
  return tracer !== undefined;
}

/** Options of `withSpan`. */
export interface SpanOptions {
  /** Defaults to INTERNAL; SERVER for an HTTP hook or a client frame arriving. */
  kind?: SpanKind;
  /**
   * The parent: a context, or a W3C `traceparent` a client sent (the trace it
   * started continues here). Defaults to the active context.
   */
  parent?: Context | string;
}

/**
 * Runs `fn` inside a new span named `name` (the active span while it runs). A
 * returned promise ends the span when it settles; a throw or a rejection marks
 * the span as an error and is passed on. With tracing off this is `fn()`.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: () => T,
  options: SpanOptions = {},
): T {
  const t = tracer;
  if (t === undefined) return fn();
  const parent =
    options.parent === undefined
      ? context.active()
      : typeof options.parent === 'string'
        ? contextFromTraceparent(options.parent)
        : options.parent;
  const span = t.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes }, parent);
  let result: T;
  try {
    result = context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    failSpan(span, err);
    span.end();
    throw err;
  }
  if (!isPromiseLike(result)) {
    span.end();
    return result;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      failSpan(span, err);
      span.end();
      throw err;
    },
  ) as T;
}

/** True when tracing is on and `ctx` holds a span: work received with it belongs to a trace. */
export function isTraced(ctx: Context): boolean {
  return tracer !== undefined && trace.getSpan(ctx) !== undefined;
}

/** Sets attributes on the active span (no-op without one). */
export function setSpanAttributes(attributes: Attributes): void {
  if (tracer !== undefined) trace.getActiveSpan()?.setAttributes(attributes);
}

/** The context a W3C `traceparent` header names (the root context when it is malformed). */
export function contextFromTraceparent(traceparent: string): Context {
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** Marks a span as failed, with the error's stable code when it has one. */
export function failSpan(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') span.setAttribute('roomcast.error.code', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** What a messaging span is about: the subject and its low-cardinality template. */
export interface MessageRef {
  subject: string;
  /** The subject with ids replaced by `*` (`subjectTemplate`): the span name. */
  template: string;
  bytes: number;
}

function messageAttributes(m: MessageRef, operation: string): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': operation,
    'messaging.destination.name': m.subject,
    'messaging.destination.template': m.template,
    'messaging.message.body.size': m.bytes,
  };
}

/**
 * Starts the span of a message about to leave: PRODUCER for a publish, CLIENT for
 * a request. `undefined` when tracing is off or no span is active. The caller
 * injects `ctx` into the message headers and ends the span (at once for a
 * publish, when the reply comes for a request).
 */
export function startSendSpan(
  operation: 'publish' | 'request',
  m: MessageRef,
): { span: Span; ctx: Context } | undefined {
  const t = tracer;
  if (t === undefined) return undefined;
  const parent = context.active();
  if (trace.getSpan(parent) === undefined) return undefined;
  const span = t.startSpan(
    `${operation} ${m.template}`,
    {
      kind: operation === 'publish' ? SpanKind.PRODUCER : SpanKind.CLIENT,
      attributes: messageAttributes(m, operation === 'publish' ? 'send' : 'request'),
    },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/**
 * Runs the handler of a received message inside a CONSUMER span (SERVER when the
 * message is a request awaiting a reply), child of the context the message
 * carried. The span ends when the handler returns: work it started carries on in
 * the span's context and its spans still link to it.
 */
export function runReceived(
  m: MessageRef,
  isRequest: boolean,
  parent: Context,
  fn: () => void,
): void {
  const t = tracer;
  if (t === undefined || trace.getSpan(parent) === undefined) {
    fn();
    return;
  }
  const span = t.startSpan(
    `process ${m.template}`,
    {
      kind: isRequest ? SpanKind.SERVER : SpanKind.CONSUMER,
      attributes: messageAttributes(m, 'process'),
    },
    parent,
  );
  try {
    context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** A running telemetry setup. */
export interface Telemetry {
  /** True when spans are recorded and exported. */
  readonly tracing: boolean;
  /** Exports the spans still buffered (within the configured time) and stops tracing. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** `service.name`: gateway, room, stream, alert. */
  service: string;
  /** `service.version`; defaults to the package version. */
  version?: string;
  /** `service.instance.id`: the gateway id, or host-pid. */
  instance: string;
  config: Config['telemetry'];
  log: Logger;
}

const off: Telemetry = { tracing: false, shutdown: () => Promise.resolve() };

/**
 * The setup every service's main.ts calls first. Without an OTLP endpoint it
 * returns at once and loads nothing.
 */
export async function setupTelemetry(o: TelemetryOptions): Promise<Telemetry> {
  const endpoint = o.config.otlpEndpoint;
  if (endpoint === undefined) return off;
  const [{ OTLPTraceExporter }, { BatchSpanProcessor }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/sdk-trace'),
  ]);
  const url = `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  const telemetry = await startTracing({
    service: o.service,
    version: o.version ?? packageVersion(),
    instance: o.instance,
    samplePercent: o.config.traceSamplePercent,
    flushTimeoutMs: o.config.flushTimeoutMs,
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) })],
    log: o.log,
  });
  o.log.info('tracing on', { otlp: url, samplePercent: o.config.traceSamplePercent });
  return telemetry;
}

export interface TracingOptions {
  service: string;
  version: string;
  instance: string;
  /** Where spans go: a batch processor with the OTLP exporter, or an in-memory one in tests. */
  spanProcessors: SpanProcessor[];
  /** Share of new (root) traces recorded, 0–100. Defaults to 100. */
  samplePercent?: number;
  /** Time given to export on shutdown, in ms. Defaults to 3000. */
  flushTimeoutMs?: number;
  log?: Logger;
}

/**
 * Starts the Node SDK with the given span processors and turns the helpers on.
 * One at a time per process: `shutdown()` before starting another (tests do).
 */
export async function startTracing(o: TracingOptions): Promise<Telemetry> {
  if (tracer !== undefined) throw new Error('tracing is already started in this process');
  const [{ NodeSDK }, { ParentBasedSampler, TraceIdRatioBasedSampler }, core, resources, semconv] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/semantic-conventions'),
    ]);
  const sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: o.service,
      [semconv.ATTR_SERVICE_VERSION]: o.version,
      'service.namespace': 'roomcast',
      'service.instance.id': o.instance,
    }),
    autoDetectResources: false,
    spanProcessors: o.spanProcessors,
    textMapPropagator: new core.W3CTraceContextPropagator(),
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler((o.samplePercent ?? 100) / 100),
    }),
    // Metrics have their own provider (metrics.prometheus.ts): they work with tracing off.
    metricReaders: [],
    // Without this the SDK would build an OTLP log exporter from OTEL_* defaults.
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  tracer = trace.getTracer('roomcast', o.version);
  const flushTimeoutMs = o.flushTimeoutMs ?? 3000;
  let stopped = false;
  return {
    tracing: true,
    async shutdown() {
      if (stopped) return;
      stopped = true;
      tracer = undefined;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), flushTimeoutMs);
      });
      try {
        // An unreachable collector must not hold SIGTERM hostage.
        const result = await Promise.race([sdk.shutdown(), timeout]);
        if (result === 'timeout')
          o.log?.warn('spans not flushed in time', { timeoutMs: flushTimeoutMs });
      } catch (err) {
        o.log?.warn('span flush failed', { err });
      } finally {
        clearTimeout(timer);
        trace.disable();
        propagation.disable();
        context.disable();
      }
    },
  };
}
