/**
 * An OTLP/HTTP trace receiver of the test's own: services export to it as they
 * would to Jaeger (OTEL_EXPORTER_OTLP_ENDPOINT), it decodes what they send. Our
 * exporter (@opentelemetry/exporter-trace-otlp-http) posts OTLP JSON to
 * `/v1/traces`, ids in hex, gzip only when OTEL_EXPORTER_OTLP_COMPRESSION asks.
 */
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Test } from 'tap';
import { listenLoopback } from './net.js';

/** OTLP span kinds (the wire enum: the API's SpanKind plus one). */
export const OtlpKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: KeyValue[];
}
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** A span as received, with its service and attributes read out. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  service: string;
  instance: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
}

function valueOf(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue ?? '';
}

function attributesOf(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

/** Reads one OTLP JSON export request into spans. */
export function decodeTraces(body: ExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId:
            s.parentSpanId === undefined || s.parentSpanId === '' ? undefined : s.parentSpanId,
          name: s.name,
          kind: s.kind,
          service: String(resource['service.name'] ?? ''),
          instance: String(resource['service.instance.id'] ?? ''),
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: attributesOf(s.attributes),
        });
      }
    }
  }
  return out;
}

export interface OtlpReceiver {
  /** The base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  /** Every span received so far. */
  spans: ReceivedSpan[];
  /** Content types of the requests received (what the exporter really sent). */
  contentTypes: string[];
}

/** Starts a receiver on a free port, closed in teardown. */
export async function startOtlpReceiver(t: Test): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = { endpoint: '', spans: [], contentTypes: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const type = req.headers['content-type'] ?? '';
      receiver.contentTypes.push(type);
      if (!type.startsWith('application/json')) {
        // Protobuf is not what our exporter sends; refuse it loudly rather than guess.
        res.writeHead(415).end();
        return;
      }
      receiver.spans.push(...decodeTraces(JSON.parse(raw.toString('utf8')) as ExportRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await listenLoopback(t, server);
  receiver.endpoint = `http://127.0.0.1:${port}`;
  return receiver;
}
