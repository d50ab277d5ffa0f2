/**
 * SRS's http_hooks as they arrive (see test/srs/fixtures/srs-6.0.157): validated
 * tolerantly, because SRS versions add fields; what we need is required, the rest
 * is ignored. And the answers SRS accepts: it allows only on HTTP 200/201 with a
 * body of `0` or a JSON object whose integer `code` is 0; anything else denies.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { errorTable, type ErrorCode } from '#shared/wire/errors.js';

export const HookAction = {
  onPublish: 'on_publish',
  onUnpublish: 'on_unpublish',
  onPlay: 'on_play',
  onStop: 'on_stop',
} as const;
export type HookAction = (typeof HookAction)[keyof typeof HookAction];

const hookActions: readonly string[] = Object.values(HookAction);

/** True for an action we answer. */
export function isHookAction(value: string): value is HookAction {
  return hookActions.includes(value);
}

const Text = (maxLength: number) => Type.String({ maxLength });
const Required = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** The body SRS posts: unknown fields are allowed (and ignored). */
const HookBody = Type.Object({
  action: Type.Union(Object.values(HookAction).map((a) => Type.Literal(a))),
  client_id: Required(128),
  app: Text(256),
  stream: Required(256),
  param: Type.Optional(Text(8192)),
  service_id: Type.Optional(Text(128)),
  server_id: Type.Optional(Text(128)),
  stream_id: Type.Optional(Text(128)),
  stream_url: Type.Optional(Text(512)),
  ip: Type.Optional(Text(64)),
  vhost: Type.Optional(Text(256)),
});
type HookBody = Static<typeof HookBody>;
const hookCheck = TypeCompiler.Compile(HookBody);

/** One callback, in our names; optional fields SRS did not send are null. */
export interface SrsHook {
  action: HookAction;
  clientId: string;
  app: string;
  /** The stream name as SRS sent it (`<room>.m3u8` for an HLS session). */
  stream: string;
  /** The room: the stream name without SRS's HLS suffix (see `roomOf`). */
  roomId: string;
  /** An HLS session (`hls_ctx`): its client id is the session, which outlives any request. */
  hls: boolean;
  /** The query string of the client's URL, with its leading `?` (may be empty). */
  param: string;
  /** The SRS process (changes on every SRS start). */
  serviceId: string | null;
  /** The SRS stream (new for every publish session), as `id` in /api/v1/streams. */
  streamId: string | null;
  ip: string | null;
}

export type HookParse = { ok: true; hook: SrsHook } | { ok: false; reason: string };

/** Reads a hook body; a missing or mistyped required field refuses it. */
export function parseHook(raw: string): HookParse {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  if (!hookCheck.Check(value)) {
    const first = hookCheck.Errors(value).First();
    return {
      ok: false,
      reason: first === undefined ? 'not a hook' : `${first.path || '/'}: ${first.message}`,
    };
  }
  return { ok: true, hook: toHook(value) };
}

/** SRS 6 names an HLS session's stream `<room>.m3u8` (its `stream_url` is `/<app>/<room>`). */
const hlsSuffix = '.m3u8';

/**
 * The room a hook is about. HLS: `stream` is `<room>.m3u8` while `stream_url` says
 * `/<app>/<room>`; both must agree, or the name is taken as it is (and refused as
 * no such room), so that `stream_url` alone can never redirect a hook elsewhere.
 */
function roomOf(b: HookBody): { roomId: string; hls: boolean } {
  if (!b.stream.endsWith(hlsSuffix)) return { roomId: b.stream, hls: false };
  const roomId = b.stream.slice(0, -hlsSuffix.length);
  const url = b.stream_url;
  if (url !== undefined && url !== '' && url !== `/${b.app}/${roomId}`)
    return { roomId: b.stream, hls: false };
  return { roomId, hls: true };
}

function toHook(b: HookBody): SrsHook {
  return {
    action: b.action,
    clientId: b.client_id,
    app: b.app,
    stream: b.stream,
    ...roomOf(b),
    param: b.param ?? '',
    serviceId: b.service_id || null,
    streamId: b.stream_id || null,
    ip: b.ip || null,
  };
}

/**
 * Credentials in a stream URL's query: `key` (the stream key) and `token` (a JWT).
 * RTMP/FLV/HLS hooks carry `?key=..`; WHIP/WHEP hooks the whole query without `?`
 * (`app=live&stream=r2&key=k2`).
 */
export function readParam(param: string): { key: string | null; token: string | null } {
  const q = new URLSearchParams(param.startsWith('?') ? param.slice(1) : param);
  return { key: q.get('key'), token: q.get('token') };
}

/** What a hook answers: HTTP status and body, and whether SRS will take it as "allow". */
export interface HookAnswer {
  status: 200 | 403 | 413;
  body: string;
  allow: boolean;
  /** Why it denied. */
  code?: ErrorCode;
}

/** Allow: the one body every SRS version accepts. */
export const allow: HookAnswer = { status: 200, body: '{"code":0}', allow: true };

/**
 * Deny: HTTP 200 with a non-zero integer `code` (the code's HTTP status), so SRS
 * logs a readable reason rather than a transport error.
 */
export function deny(code: ErrorCode, message?: string, status: 200 | 403 | 413 = 200): HookAnswer {
  const spec = errorTable[code];
  return {
    status,
    body: JSON.stringify({ code: spec.httpStatus, error: code, msg: message ?? spec.message }),
    allow: false,
    code,
  };
}
