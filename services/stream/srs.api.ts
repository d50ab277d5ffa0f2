/**
 * The SRS HTTP API, as SRS 6 answers it (see test/srs/fixtures/srs-6.0.157):
 * stream and client lists (paged with `start` and `count`), one stream, one client,
 * and the kick (`DELETE /api/v1/clients/{id}`).
 *
 * What must hold:
 * - Every request has a timeout; a slow or stalled SRS costs at most that.
 * - What SRS answers is checked tolerantly (unknown fields ignored), but a list with
 *   one malformed entry is refused whole: judging streams by half a list would end
 *   rooms that are fine.
 * - SRS reports its errors as HTTP 200 with a non-zero `code`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** SRS's "no such stream" / "no such client" codes. */
export const SRS_STREAM_NOT_FOUND = 2048;
export const SRS_CLIENT_NOT_FOUND = 2049;

const Num = Type.Number();
const Str = Type.String();
const Nullable = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));

const Stream = Type.Object({
  id: Str,
  name: Str,
  app: Str,
  vhost: Type.Optional(Str),
  clients: Type.Optional(Num),
  /** Video frames SRS counted on the stream. Not a liveness signal: the recorded SRS 6 reports 0 while publishing. */
  frames: Type.Optional(Num),
  /** Bytes SRS received on the stream: grows while media arrives. */
  recv_bytes: Type.Optional(Num),
  kbps: Type.Optional(Type.Object({ recv_30s: Num, send_30s: Num })),
  publish: Type.Object({ active: Type.Boolean(), cid: Type.Optional(Str) }),
  video: Nullable(
    Type.Object({
      codec: Str,
      profile: Type.Optional(Str),
      level: Type.Optional(Str),
      width: Type.Optional(Num),
      height: Type.Optional(Num),
    }),
  ),
  audio: Nullable(
    Type.Object({
      codec: Str,
      sample_rate: Type.Optional(Num),
      channel: Type.Optional(Num),
      profile: Type.Optional(Str),
    }),
  ),
});
export type SrsStream = Static<typeof Stream>;

const Client = Type.Object({
  id: Str,
  /** The SRS stream id (`id` in /api/v1/streams) the client publishes or plays. */
  stream: Str,
  type: Str,
  publish: Type.Boolean(),
  name: Type.Optional(Str),
  url: Type.Optional(Str),
  alive: Type.Optional(Num),
});
export type SrsClient = Static<typeof Client>;

const Envelope = Type.Object({ code: Type.Integer(), service: Type.Optional(Str) });
const StreamList = Type.Object({ code: Type.Integer(), service: Str, streams: Type.Array(Stream) });
const ClientList = Type.Object({ code: Type.Integer(), service: Str, clients: Type.Array(Client) });
const OneStream = Type.Object({ code: Type.Integer(), service: Str, stream: Stream });
const OneClient = Type.Object({ code: Type.Integer(), service: Str, client: Client });

const checks = {
  envelope: TypeCompiler.Compile(Envelope),
  streams: TypeCompiler.Compile(StreamList),
  clients: TypeCompiler.Compile(ClientList),
  stream: TypeCompiler.Compile(OneStream),
  client: TypeCompiler.Compile(OneClient),
};

/** Why the SRS API could not be used. */
export type SrsApiFailure = 'timeout' | 'network' | 'http' | 'garbage' | 'srs_error' | 'incomplete';

/** The SRS API did not answer usably; `failure` says how. */
export class SrsApiError extends Error {
  override readonly name = 'SrsApiError';
  constructor(
    readonly failure: SrsApiFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SrsApiOptions {
  baseUrl: string;
  /** Timeout of one request, in ms. */
  timeoutMs: number;
  /** Entries asked per page. */
  pageSize: number;
  /** Pages read per list at most. */
  maxPages: number;
}

/** Everything SRS carries, read page by page. `service` is the SRS process's id. */
export interface SrsLists {
  service: string;
  streams: SrsStream[];
  clients: SrsClient[];
}

export class SrsApi {
  private readonly base: string;

  constructor(private readonly o: SrsApiOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
  }

  /** Every stream and every client. Throws `SrsApiError` (and judges nothing) on any doubt. */
  async lists(): Promise<SrsLists> {
    const [streams, clients] = await Promise.all([
      this.pages('/api/v1/streams/', checks.streams, (b) => b.streams),
      this.pages('/api/v1/clients/', checks.clients, (b) => b.clients),
    ]);
    // Both lists must come from one SRS process, or they describe different worlds.
    if (streams.service !== clients.service) {
      throw new SrsApiError('incomplete', 'SRS restarted between the stream and client lists');
    }
    return { service: streams.service, streams: streams.items, clients: clients.items };
  }

  /** One stream by SRS stream id; null when SRS does not know it. */
  async stream(
    id: string,
    timeoutMs = this.o.timeoutMs,
  ): Promise<{ service: string; stream: SrsStream | null }> {
    const body = await this.get(`/api/v1/streams/${encodeURIComponent(id)}`, timeoutMs);
    if (codeOf(body) === SRS_STREAM_NOT_FOUND) return { service: serviceOf(body), stream: null };
    const b = this.expect(body, checks.stream);
    return { service: b.service, stream: b.stream };
  }

  /** Whether SRS still has a client (a connection) with this id. */
  async hasClient(id: string, timeoutMs = this.o.timeoutMs): Promise<boolean> {
    const body = await this.get(`/api/v1/clients/${encodeURIComponent(id)}`, timeoutMs);
    if (codeOf(body) === SRS_CLIENT_NOT_FOUND) return false;
    this.expect(body, checks.client);
    return true;
  }

  /** Disconnects a client; 'absent' when SRS no longer had it. */
  async kick(id: string): Promise<'kicked' | 'absent'> {
    const body = await this.request('DELETE', `/api/v1/clients/${encodeURIComponent(id)}`);
    const code = codeOf(body);
    if (code === 0) return 'kicked';
    if (code === SRS_CLIENT_NOT_FOUND) return 'absent';
    throw new SrsApiError('srs_error', `SRS refused the kick with code ${String(code)}`);
  }

  private async pages<T, I>(
    path: string,
    check: { Check(v: unknown): v is T },
    items: (body: T) => I[],
  ): Promise<{ service: string; items: I[] }> {
    const size = this.o.pageSize;
    // Pages overlap: an entry that SRS drops meanwhile shifts the rest back, and the
    // overlap keeps the shifted ones from falling between two pages.
    const step = Math.max(1, size - Math.ceil(size / 10));
    const seen = new Map<string, I>();
    let service: string | undefined;
    for (let page = 0, start = 0; page < this.o.maxPages; page++, start += step) {
      const body = this.expect(await this.get(`${path}?start=${start}&count=${size}`), check);
      const s = (body as { service: string }).service;
      if (service !== undefined && s !== service)
        throw new SrsApiError('incomplete', 'SRS restarted while its list was read');
      service = s;
      const got = items(body);
      for (const item of got) seen.set((item as { id: string }).id, item);
      if (got.length < size) return { service, items: [...seen.values()] };
    }
    throw new SrsApiError('incomplete', `${path}: more than ${this.o.maxPages} pages`);
  }

  private expect<T>(body: unknown, check: { Check(v: unknown): v is T }): T {
    const code = codeOf(body);
    if (code !== 0) throw new SrsApiError('srs_error', `SRS answered code ${String(code)}`);
    if (!check.Check(body)) throw new SrsApiError('garbage', 'SRS answered an unexpected shape');
    return body;
  }

  private get(path: string, timeoutMs = this.o.timeoutMs): Promise<unknown> {
    return this.request('GET', path, timeoutMs);
  }

  private async request(
    method: string,
    path: string,
    timeoutMs = this.o.timeoutMs,
  ): Promise<unknown> {
    let text: string;
    try {
      const res = await fetch(this.base + path, {
        method,
        signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
      });
      text = await res.text();
      if (res.status !== 200)
        throw new SrsApiError('http', `${method} ${path}: HTTP ${res.status}`);
    } catch (err) {
      if (err instanceof SrsApiError) throw err;
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
      throw new SrsApiError(
        timedOut ? 'timeout' : 'network',
        `${method} ${path}: ${timedOut ? `no answer within ${timeoutMs} ms` : 'unreachable'}`,
        { cause: err },
      );
    }
    try {
      const body: unknown = JSON.parse(text);
      if (!checks.envelope.Check(body)) throw new Error('no integer code');
      return body;
    } catch (err) {
      throw new SrsApiError('garbage', `${method} ${path}: not an SRS answer`, { cause: err });
    }
  }
}

const codeOf = (body: unknown): number | undefined =>
  checks.envelope.Check(body) ? body.code : undefined;
const serviceOf = (body: unknown): string =>
  checks.envelope.Check(body) ? (body.service ?? '') : '';
