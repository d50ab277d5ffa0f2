/**
 * WHIP and WHEP through the gateway (GATEWAY_SRS_RTC_URL): `POST` and `DELETE` of
 * `/rtc/v1/whip/` and `/rtc/v1/whep/` are forwarded to SRS's HTTP API, query string
 * and body as they came, and SRS's answer (status, SDP, `Location`) is returned.
 *
 * Why here: the rest of that API (clients, streams, kicks, reloads) must stay private,
 * yet browsers and encoders need these two paths. Forwarding exactly them lets the
 * deployment publish the gateway and keep port 1985 off the network. Nothing is
 * authorized here: SRS asks the stream service (on_publish, on_play) with the
 * `token` or `key` of the query string, as it does for RTMP and HLS.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import { Reply, queryOf, readBody, type HttpContext } from './gateway.http.js';

/** The only paths of SRS's API that are forwarded (as shared/stream/stream.urls.ts builds them). */
export const RTC_PATHS = ['/rtc/v1/whip/', '/rtc/v1/whep/'] as const;

/** Headers of SRS's answer passed on (the CORS ones are ours). */
const PASSED_ON = ['content-type', 'location'] as const;

/** Registers the forward when GATEWAY_SRS_RTC_URL is set. */
export function registerRtcForward(app: TemplatedApp, ctx: HttpContext): void {
  const base = ctx.config.gateway.srsRtcUrl?.replace(/\/+$/, '');
  if (base === undefined) return;
  for (const path of RTC_PATHS) {
    ctx.cors.preflight(app, path);
    app.post(path, (res, req) => {
      const reply = new Reply(res);
      reply.common = ctx.cors.headers(req.getHeader('origin'));
      const query = queryOf(req);
      const contentType = req.getHeader('content-type');
      // An SDP offer: bounded like the SDP of a signaling frame.
      const body = readBody(reply, ctx.config.gateway.maxSdpBytes);
      void body
        .then((sdp) => forward(ctx, reply, 'POST', `${base}${path}?${query}`, contentType, sdp))
        .catch((err: unknown) => reply.fail(err, ctx.log));
    });
    app.del(path, (res, req) => {
      const reply = new Reply(res);
      reply.common = ctx.cors.headers(req.getHeader('origin'));
      const url = `${base}${path}?${queryOf(req)}`;
      void forward(ctx, reply, 'DELETE', url, '', undefined).catch((err: unknown) =>
        reply.fail(err, ctx.log),
      );
    });
  }
  ctx.log.info('WHIP/WHEP forwarded to SRS', { paths: RTC_PATHS, to: base });
}

async function forward(
  ctx: HttpContext,
  reply: Reply,
  method: 'POST' | 'DELETE',
  url: string,
  contentType: string,
  body: Buffer | undefined,
): Promise<void> {
  let upstream: Response;
  let text: string;
  try {
    upstream = await fetch(url, {
      method,
      headers: contentType === '' ? {} : { 'content-type': contentType },
      ...(body === undefined ? {} : { body }),
      redirect: 'manual',
      signal: AbortSignal.timeout(ctx.config.gateway.srsRtcTimeoutMs),
    });
    text = await upstream.text();
  } catch (err) {
    // The query holds the credential: log what failed, not the URL.
    ctx.log.warn('SRS did not answer a WHIP/WHEP request', { method, err });
    throw new RoomcastError(ErrorCode.UNAVAILABLE, 'the media server did not answer', {
      cause: err,
    });
  }
  const headers: Record<string, string> = {};
  for (const name of PASSED_ON) {
    const value = upstream.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  // The reason phrase as SRS gave it, printable ASCII only (it goes into our status line).
  const reason = upstream.statusText.replace(/[^\x20-\x7e]/g, '') || 'Status';
  write(reply, `${upstream.status} ${reason}`, upstream.status, headers, text);
}

/** Writes SRS's answer as it came (not JSON: an SDP, or SRS's own error body). */
function write(
  reply: Reply,
  statusLine: string,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  reply.status = status;
  if (reply.aborted) return;
  const res: HttpResponse = reply.res;
  res.cork(() => {
    res.writeStatus(statusLine);
    res.writeHeader('cache-control', 'no-store');
    for (const [k, v] of Object.entries({ ...reply.common, ...headers })) res.writeHeader(k, v);
    res.end(body);
  });
}
