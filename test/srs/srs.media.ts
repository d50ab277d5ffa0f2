/**
 * The media HTTP of the SRS stand-in, as recorded-2026-12 shows SRS 6.0.157 serving
 * it (README there, "HLS sessions", "HTTP-FLV", "WHIP/WHEP"): what a player or an
 * encoder that speaks HTTP really sends, turned into the stand-in's sessions.
 *
 * - `GET /<app>/<room>.m3u8?<q>`: a new session (on_play) answers the master playlist
 *   naming `/<app>/<room>.m3u8?hls_ctx=<id>&<q>` (only `?hls_ctx=<id>` when the
 *   request already carried one); a session SRS holds gets its media playlist, or
 *   404 `HLS stream <id> is EOF` once kicked. `GET /<app>/<room>-N.ts` is served.
 * - `GET /<app>/<room>.flv?<q>`: on_play, then 200 chunked until the client goes
 *   (then on_stop).
 * - `POST /rtc/v1/whip/?app=..&stream=..&<q>` (and `/rtc/v1/whep/`): the hook during
 *   the POST, then 201 with an SDP answer and a `Location` on `/rtc/v1/whip/` whose
 *   DELETE ends the session (200, empty body; on_unpublish or on_stop).
 * Every refusal closes the connection without an HTTP response, as SRS does.
 * Header names, order and case are the recorded ones; Node adds no `Date`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Outcome = { ok: boolean; clientId: string; error?: number };

/** What of the stand-in the media routes drive. */
export interface MediaSessions {
  readonly app: string;
  playHls(name: string, param: string): Promise<Outcome>;
  /** True while SRS holds the HLS session `ctx` (listed, or kicked and not yet expired). */
  holdsHls(ctx: string): boolean;
  hlsRequest(ctx: string): boolean;
  play(name: string, param: string, type: 'flv-play'): Promise<Outcome>;
  whip(name: string, query: string): Promise<Outcome>;
  whep(name: string, query: string): Promise<Outcome>;
  disconnect(clientId: string): void;
}

const SERVER = 'SRS/6.0.157(Hang)';
/** The recorded FLV header (audio and video), what a player reads first. */
const FLV_HEAD = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 0x09, 0, 0, 0, 0]);
/** A stand-in segment: one MPEG-TS null packet (SRS serves the real file). */
const TS_PACKET = Buffer.concat([Buffer.from([0x47, 0x1f, 0xff, 0x10]), Buffer.alloc(184, 0xff)]);
const SEGMENT_S = 2;

const rid = (n: number) => randomBytes(n).toString('hex').slice(0, n);

/** Writes a complete answer with the recorded header order; `Connection: Close` as SRS. */
function answer(
  res: ServerResponse,
  status: number,
  headers: [string, string][],
  body: string | Buffer = '',
): void {
  res.sendDate = false;
  res.writeHead(status, ['Connection', 'Close', ...headers.flat(), 'Server', SERVER]);
  res.end(body);
}

export class SrsMedia {
  /** WHIP/WHEP sessions by the token of their `Location`. */
  private readonly rtc = new Map<string, string>();
  /** HTTP-FLV players' responses by client id: a kick closes the connection. */
  private readonly flvPlayers = new Map<string, ServerResponse>();

  constructor(private readonly srs: MediaSessions) {}

  /** SRS let `clientId` go (a kick, a restart): its HTTP-FLV connection closes. */
  gone(clientId: string): void {
    this.flvPlayers.get(clientId)?.destroy();
  }

  /** Serves a media request; false when `url` is not a media path (the API's then). */
  handles(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const p = url.pathname;
    const app = `/${this.srs.app}/`;
    if (p === '/rtc/v1/whip/' || p === '/rtc/v1/whep/') {
      void this.rtcRequest(req, res, url, p === '/rtc/v1/whip/' ? 'whip' : 'whep');
      return true;
    }
    if (!p.startsWith(app) || req.method !== 'GET') return false;
    const file = p.slice(app.length);
    const m3u8 = /^([A-Za-z0-9_-]+)\.m3u8$/.exec(file);
    if (m3u8 !== null) void this.hls(req, res, m3u8[1]!, url);
    else if (/^[A-Za-z0-9_-]+-\d+\.ts$/.test(file)) this.segment(res, url);
    else if (/^[A-Za-z0-9_-]+\.flv$/.test(file)) void this.flv(req, res, file.slice(0, -4), url);
    else return false;
    return true;
  }

  private async hls(req: IncomingMessage, res: ServerResponse, name: string, url: URL) {
    const ctx = url.searchParams.get('hls_ctx');
    const type: [string, string] = ['Content-Type', 'application/vnd.apple.mpegurl'];
    if (ctx !== null && this.srs.holdsHls(ctx)) {
      if (!this.srs.hlsRequest(ctx)) {
        const eof = `HLS stream ${ctx} is EOF`;
        const text: [string, string] = ['Content-Type', 'text/plain; charset=utf-8'];
        answer(res, 404, [text, ['Content-Length', String(Buffer.byteLength(eof))]], eof);
        return;
      }
      const body = mediaPlaylist(name, ctx);
      answer(res, 200, [type, ['Content-Length', String(Buffer.byteLength(body))]], body);
      return;
    }
    const s = await this.srs.playHls(name, url.search);
    if (!s.ok) return void req.socket.destroy();
    // SRS appends the request's query to a new session's URL, unless it named a session.
    const rest = ctx === null && url.search !== '' ? `&${url.search.slice(1)}` : '';
    const body = `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\n${url.pathname}?hls_ctx=${s.clientId}${rest}\n`;
    answer(res, 200, [['Content-Length', String(Buffer.byteLength(body))], type], body);
  }

  /** Segments are served to anyone, a kicked session's too (as recorded). */
  private segment(res: ServerResponse, url: URL): void {
    const ctx = url.searchParams.get('hls_ctx');
    if (ctx !== null) this.srs.hlsRequest(ctx);
    answer(
      res,
      200,
      [
        ['Content-Length', String(TS_PACKET.length)],
        ['Content-Type', 'video/MP2T'],
      ],
      TS_PACKET,
    );
  }

  private async flv(req: IncomingMessage, res: ServerResponse, name: string, url: URL) {
    const s = await this.srs.play(name, url.search, 'flv-play');
    if (!s.ok) return void req.socket.destroy();
    // The player leaving is the session's end: on_stop at once.
    this.flvPlayers.set(s.clientId, res);
    res.once('close', () => {
      this.flvPlayers.delete(s.clientId);
      this.srs.disconnect(s.clientId);
    });
    res.sendDate = false;
    res.writeHead(200, [
      'Connection',
      'Close',
      'Content-Type',
      'video/x-flv',
      'Server',
      SERVER,
      'Transfer-Encoding',
      'chunked',
    ]);
    res.write(FLV_HEAD);
  }

  private async rtcRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    kind: 'whip' | 'whep',
  ): Promise<void> {
    if (req.method === 'DELETE' && url.searchParams.get('action') === 'delete') {
      const token = url.searchParams.get('token') ?? '';
      const clientId = this.rtc.get(token);
      this.rtc.delete(token);
      answer(res, clientId === undefined ? 404 : 200, [['Content-Length', '0']]);
      if (clientId !== undefined) this.srs.disconnect(clientId);
      return;
    }
    if (req.method !== 'POST') {
      answer(res, 405, [['Content-Length', '0']]);
      return;
    }
    // The offer is read (and ignored): the stand-in carries no media.
    for await (const _ of req);
    const name = url.searchParams.get('stream') ?? '';
    const query = url.search
      .slice(1)
      .split('&')
      .filter((kv) => !kv.startsWith('app=') && !kv.startsWith('stream='))
      .join('&');
    const s = kind === 'whip' ? await this.srs.whip(name, query) : await this.srs.whep(name, query);
    if (!s.ok) return void req.socket.destroy();
    const token = rid(9);
    this.rtc.set(token, s.clientId);
    const q = new URLSearchParams({ action: 'delete', token, app: this.srs.app, stream: name });
    const location = `/rtc/v1/whip/?${q.toString()}&session=${rid(8)}:${rid(4)}`;
    const sdp = answerSdp(this.srs.app, name, kind);
    answer(
      res,
      201,
      [
        ['Content-Type', 'application/sdp'],
        ['Location', location],
        ['Content-Length', String(Buffer.byteLength(sdp))],
      ],
      sdp,
    );
  }
}

/** A media playlist of the last five segments, named as SRS names them. */
function mediaPlaylist(name: string, ctx: string): string {
  const first = Math.floor(Date.now() / 1000 / SEGMENT_S) % 100_000;
  let out = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:${first}\n#EXT-X-TARGETDURATION:${SEGMENT_S}\n`;
  for (let i = 0; i < 5; i++)
    out += `#EXTINF:2.000, no desc\n${name}-${first + i}.ts?hls_ctx=${ctx}\n`;
  return out;
}

/** The head of SRS's answer SDP (ice-lite, the session named after the stream). */
function answerSdp(app: string, name: string, kind: 'whip' | 'whep'): string {
  const session = kind === 'whip' ? 'SRSPublishSession' : 'SRSPlaySession';
  return [
    'v=0',
    `o=${SERVER} ${Date.now()} 2 IN IP4 0.0.0.0`,
    `s=${session}`,
    't=0 0',
    'a=ice-lite',
    'a=group:BUNDLE 0 1',
    `a=msid-semantic: WMS ${app}/${name}`,
    '',
  ].join('\r\n');
}
