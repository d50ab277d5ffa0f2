/**
 * An SRS 6 stand-in for tests and benchmarks: behaves as the recordings in
 * fixtures/srs-6.0.157 (beside this file) show a real SRS 6.0.157 does, byte for
 * byte where it matters.
 *
 * - Hooks: posts the recorded bodies (same keys, same order, fresh ids) with SRS's
 *   headers, and applies SRS's rule to the answer: allowed only on HTTP 200/201 with
 *   a body of exactly `0` or a JSON object whose integer `code` is 0.
 * - A second publisher of a busy stream is still asked with on_publish, then refused
 *   by SRS itself (1028 StreamBusy) with no on_unpublish.
 * - HTTP API: /api/v1/streams, /api/v1/clients (paged with start/count, 10 by
 *   default), one stream or client by id, /api/v1/summaries, and the kick
 *   (DELETE /api/v1/clients/{id}: on_unpublish, then on_stop for each player).
 * - HLS (`playHls`, recorded-2026-12): a session (`hls-play`, `<room>.m3u8`) listed
 *   before its on_play, allowed or not; it lingers ~20 s after its last request
 *   (`hlsRequest`), expired one per 5 s tick with an on_stop, denied ones included;
 *   a kicked one leaves the list at once and gets its on_stop when it expires.
 * - WebRTC (`whip`, `whep`, `vanish`): hook `param` is the whole query without `?`,
 *   `tcUrl` is empty; a WHIP publisher is `publish.active:false` until its DTLS
 *   completes; a denied WHIP stays listed ~34 s, then an on_unpublish without
 *   `stream_id`; a peer that vanishes is noticed at once over TCP, after ~30.5 s
 *   over UDP. SRS's timings (SrsTiming) are scaled by `timeScale`.
 * - Media HTTP (srs.media.ts, on the API's port): HLS master and media playlists,
 *   HTTP-FLV, WHIP/WHEP POST with the 201 and its delete `Location`.
 * - Faults: hooks lost, duplicated, delayed, held back and released in another
 *   order; the API stalled, down, answering garbage or HTTP 500; a restart with a
 *   new service id.
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { SrsMedia } from './srs.media.js';

export type Action = 'on_publish' | 'on_unpublish' | 'on_play' | 'on_stop';
export type ClientType =
  'fmle-publish' | 'rtc-publish' | 'rtmp-play' | 'flv-play' | 'rtc-play' | 'hls-play';

/** How a WebRTC peer reached SRS: over ICE-TCP a vanished peer is noticed at once, over UDP after the STUN timeout. */
export type RtcTransport = 'tcp' | 'udp';

/**
 * SRS 6.0.157's timings as recorded (fixtures/srs-6.0.157/recorded-2026-12/README.md),
 * in ms; the stand-in multiplies each by its `timeScale`.
 */
export const SrsTiming = {
  /** An HLS session expires this long after its last request (2 x hls_window)... */
  hlsLingerMs: 20_000,
  /** ...checked on a timer of this period, one session per tick. */
  hlsTickMs: 5_000,
  /** A WebRTC peer that vanished over UDP: on_unpublish / on_stop this long after (stun_timeout). */
  stunTimeoutMs: 30_500,
  /** A denied WHIP publish stays listed (`active:false`) this long, then gets an on_unpublish. */
  deniedWhipMs: 34_000,
  /** DTLS completes this long after the WHIP answer when the peer applies it at once. */
  dtlsMs: 600,
} as const;

/** SRS error codes the stand-in reproduces. */
export const SrsError = {
  /** Hook server refused the connection. */
  hookConnect: 1018,
  /** The hook did not answer within SRS's hook timeout. */
  hookTimeout: 1011,
  /** The stream already has a publisher. */
  streamBusy: 1028,
  /** Hook answered an empty or non-JSON body (other than `0`). */
  hookData: 3008,
  /** Hook answered an object without an integer `code` of 0. */
  hookCode: 3064,
  /** Hook answered an HTTP status other than 200/201. */
  hookStatus: 4005,
  streamNotFound: 2048,
  clientNotFound: 2049,
} as const;

/** A hook as posted and what came of it. */
export interface HookRecord {
  action: Action;
  path: string;
  headers: Record<string, string>;
  raw: string;
  body: Record<string, string>;
  /** What SRS concluded: allowed, or the SRS error code that denied. */
  allowed: boolean;
  error?: number;
  status?: number;
  reply?: string;
  /** ms from post to answer. */
  latencyMs: number;
}

export interface StandInOptions {
  /** Base URL of the hooks: each action posts to `<hookBase>/<action>`. */
  hookBase: string;
  /** Source address hooks are posted from (a "foreign address" test binds another one). */
  hookLocalAddress?: string;
  /** How long SRS waits for a hook (SRS: 30 s; tests scale it down), in ms. */
  hookTimeoutMs?: number;
  /** Factor applied to every SrsTiming (HLS linger, STUN timeout, ...): 1 = as recorded. */
  timeScale?: number;
  app?: string;
}

interface Stream {
  id: string;
  name: string;
  app: string;
  publisher: string | null;
  /** The publisher that left while players stayed: SRS still names it (`active:false`). */
  lastPublisher: string | null;
  since: number;
  /** When the WebRTC publisher's DTLS completes: until then `publish.active` is false. */
  activeAt: number;
  /** Video frames counted so far, up to `framesAt` (see `framesOf`). */
  frames: number;
  framesAt: number;
}

/** Bytes one frame of the stand-in's encoders adds to the stream's `recv_bytes`. */
const BYTES_PER_FRAME = 1200;
/** Frame rate of the stand-in's encoders: `recv_bytes` in the API grows with it while publishing. */
const FRAMES_PER_S = 25;

interface Client {
  id: string;
  streamId: string;
  name: string;
  type: ClientType;
  publish: boolean;
  param: string;
  tcUrl: string;
  since: number;
  /** The stream's name (`stream_url` `/<app>/<room>`), also once the stream is gone. */
  room: string;
  /** The name in hooks (`<room>.m3u8` for HLS). */
  hookStream: string;
  /** HLS: the last request of the session; listed: false once kicked (it lingers unlisted). */
  lastRequest?: number;
  listed: boolean;
  /** A denied HLS or WHIP session SRS keeps all the same (no stream_id in a zombie WHIP's on_unpublish). */
  zombie?: boolean;
}

/** Faults to inject; every field can be changed while running. */
export interface Faults {
  /** Hooks of these actions are not posted (lost on the network). on_publish/on_play then fail with 1018. */
  lose: Set<Action>;
  /** Hooks of these actions are posted twice (SRS with the URL configured twice: both must allow). */
  duplicate: Set<Action>;
  /** Delay before posting hooks of an action, in ms. */
  delayMs: Partial<Record<Action, number>>;
  /** While true, fire-and-forget hooks (on_unpublish, on_stop) are held back until `releaseHeld`. */
  hold: boolean;
  /** The API answers after this many ms (a stall), or never when Infinity. */
  apiStallMs: number;
  /** The API answers bytes that are not an SRS answer. */
  apiGarbage: boolean;
  /** The API answers HTTP 500. */
  apiHttp500: boolean;
  /** Streams (by name) whose frame count stands still: the encoder is connected but sends nothing. */
  mediaStalled: Set<string>;
}

/** A map that counts its changes (so sorted copies of it can be cached). */
class Versioned<V> extends Map<string, V> {
  version = 0;
  override set(key: string, value: V): this {
    this.version++;
    return super.set(key, value);
  }
  override delete(key: string): boolean {
    this.version++;
    return super.delete(key);
  }
  override clear(): void {
    this.version++;
    super.clear();
  }
}

const idChars = '0123456789abcdefghijklmnopqrstuvwxyz';
const rid = (n: number) =>
  Array.from(randomBytes(n), (b) => idChars[b % idChars.length] ?? '0').join('');

/** `data` of /api/v1/summaries as recorded (fixtures/api-v1-summaries.json), with live figures. */
function summariesData(pid: number, startedAt: number) {
  const now = Date.now();
  return {
    ok: true,
    now_ms: now,
    self: {
      version: '6.0.157',
      pid,
      ppid: 1,
      argv: './objs/srs -c conf/srs.conf',
      cwd: '/srs/trunk',
      mem_kbyte: 46_220,
      mem_percent: 0,
      cpu_percent: 0.02,
      srs_uptime: Math.floor((now - startedAt) / 1000),
    },
    system: {
      cpu_percent: 0.13,
      disk_read_KBps: 0,
      disk_write_KBps: 0,
      disk_busy_percent: 0,
      mem_ram_kbyte: 24_683_620,
      mem_ram_percent: 0.01,
      mem_swap_kbyte: 0,
      mem_swap_percent: 0,
      cpus: 2,
      cpus_online: 2,
      uptime: 1026.8,
      ilde_time: 1070.37,
      load_1m: 0.89,
      load_5m: 1.56,
      load_15m: 1.14,
      net_sample_time: now,
      net_recv_bytes: 0,
      net_send_bytes: 0,
      net_recvi_bytes: 0,
      net_sendi_bytes: 0,
      srs_sample_time: now,
      srs_recv_bytes: 0,
      srs_send_bytes: 0,
      conn_sys: 0,
      conn_sys_et: 0,
      conn_sys_tw: 0,
      conn_sys_udp: 0,
      conn_srs: 0,
    },
  };
}

export class SrsStandIn {
  readonly serverId = 'vid-7x7780x';
  serviceId = rid(8);
  pid = String(10_000 + Math.floor(Math.random() * 50_000));
  readonly vhostId = 'vid-8og1909';
  readonly faults: Faults = {
    lose: new Set(),
    duplicate: new Set(),
    delayMs: {},
    hold: false,
    apiStallMs: 0,
    apiGarbage: false,
    apiHttp500: false,
    mediaStalled: new Set(),
  };
  /** Every hook posted, in order. */
  readonly hooks: HookRecord[] = [];
  /** API requests seen (method and path with query). */
  readonly apiRequests: string[] = [];
  private readonly streams = new Versioned<Stream>();
  private readonly clients = new Versioned<Client>();
  /** HLS sessions (listed or kicked), expired by `hlsTick`. */
  private readonly hlsSessions = new Map<string, Client>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private hlsTicker: NodeJS.Timeout | undefined;
  private readonly timeScale: number;
  private readonly sortCache = new Map<string, { key: string; items: (Stream | Client)[] }>();
  private readonly held: (() => Promise<void>)[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private apiPort = 0;
  readonly app: string;
  private readonly hookTimeoutMs: number;
  /** Base URL of the hooks (may be set after construction, once the hook server listens). */
  hookBase: string;
  /** SRS with http_hooks off: publishes and plays are never asked about (a hook bypass). */
  bypassHooks = false;
  private startedAt = Date.now();
  /** HLS, HTTP-FLV and WHIP/WHEP over HTTP, on the API's port (srs.media.ts). */
  private readonly media = new SrsMedia(this);

  constructor(private readonly o: StandInOptions) {
    this.app = o.app ?? 'live';
    this.hookBase = o.hookBase;
    this.hookTimeoutMs = o.hookTimeoutMs ?? 30_000;
    this.timeScale = o.timeScale ?? 1;
  }

  /** An SrsTiming as this stand-in runs it (scaled). */
  timing(name: keyof typeof SrsTiming): number {
    return SrsTiming[name] * this.timeScale;
  }

  private later(ms: number, f: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      f();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    clearInterval(this.hlsTicker);
    this.hlsTicker = undefined;
    this.hlsSessions.clear();
  }

  /** Base URL of the HTTP API. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** Starts the HTTP API on a free port (the same port again after `apiDown`). */
  async start(port = this.apiPort): Promise<void> {
    const server = createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 1000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.apiPort = typeof address === 'object' && address !== null ? address.port : 0;
    this.server = server;
  }

  /** The API stops answering: connections are refused. */
  async apiDown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Stops the API and waits for the hooks under way. */
  async stop(): Promise<void> {
    this.clearTimers();
    await this.apiDown();
    await this.settled();
  }

  /** SRS restarts: a new service id and pid, every stream and client gone, no hooks. */
  restart(): void {
    this.startedAt = Date.now();
    this.serviceId = rid(8);
    this.pid = String(Number(this.pid) + 1);
    this.streams.clear();
    this.clients.clear();
    this.held.length = 0;
    this.clearTimers();
  }

  /** Waits until every hook posted so far has been answered. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Posts the held fire-and-forget hooks, in `order`. */
  async releaseHeld(order: 'fifo' | 'reverse' = 'fifo'): Promise<void> {
    const batch = this.held.splice(0);
    if (order === 'reverse') batch.reverse();
    for (const post of batch) await post();
  }

  /** Clients SRS holds now. */
  clientIds(): string[] {
    return [...this.clients.keys()];
  }

  hasClient(id: string): boolean {
    return this.clients.has(id);
  }

  /** The active publisher of stream `name`, if any. */
  publisherOf(name: string): string | null {
    for (const s of this.streams.values()) if (s.name === name) return s.publisher;
    return null;
  }

  /** The SRS stream id (`id` in /api/v1/streams) of stream `name`, if SRS has it. */
  streamIdOf(name: string): string | null {
    for (const s of this.streams.values()) if (s.name === name) return s.id;
    return null;
  }

  /** Hooks of `action` posted so far. */
  hooksOf(action: Action): HookRecord[] {
    return this.hooks.filter((h) => h.action === action);
  }

  /**
   * An encoder connects and publishes `name` with `param` (`?key=...`): on_publish is
   * asked first; a busy stream is refused by SRS itself afterwards.
   */
  async publish(
    name: string,
    param: string,
    type: Extract<ClientType, 'fmle-publish' | 'rtc-publish'> = 'fmle-publish',
  ): Promise<{ ok: boolean; clientId: string; error?: number }> {
    const c = this.connect(name, param, type, true);
    const verdict = await this.ask(c, 'on_publish');
    if (!verdict.allowed) {
      this.clients.delete(c.id);
      this.dropStreamIfEmpty(c.streamId);
      return { ok: false, clientId: c.id, error: verdict.error };
    }
    return this.takePublisherSlot(c, 0);
  }

  /**
   * Gives an allowed publisher the stream, active (and sending frames) `activeAfterMs`
   * from now; SRS asked the hook before checking, so a busy stream refuses now, with
   * no on_unpublish.
   */
  private takePublisherSlot(
    c: Client,
    activeAfterMs: number,
  ): { ok: boolean; clientId: string; error?: number } {
    const stream = this.streams.get(c.streamId);
    if (stream === undefined || stream.publisher !== null || !this.clients.has(c.id)) {
      this.clients.delete(c.id);
      return { ok: false, clientId: c.id, error: SrsError.streamBusy };
    }
    stream.publisher = c.id;
    stream.lastPublisher = null;
    stream.since = Date.now();
    stream.activeAt = stream.since + activeAfterMs;
    stream.framesAt = stream.activeAt;
    return { ok: true, clientId: c.id };
  }

  /**
   * A WHIP publish (POST /rtc/v1/whip/?app=live&stream=<name>&key=...): on_publish
   * during the POST with the whole query as `param` (no `?`). Allowed: listed at
   * once, `publish.active:false` until DTLS completes `dtlsDelayMs` later. Denied:
   * no answer to the POST, yet a zombie stays listed `active:false` for ~34 s and
   * then gets an on_unpublish (without `stream_id`).
   */
  async whip(
    name: string,
    query: string,
    o: { dtlsDelayMs?: number } = {},
  ): Promise<{ ok: boolean; clientId: string; error?: number }> {
    const c = this.connect(name, `app=${this.app}&stream=${name}&${query}`, 'rtc-publish', true);
    const verdict = await this.ask(c, 'on_publish');
    if (!verdict.allowed) {
      c.zombie = true;
      this.later(this.timing('deniedWhipMs'), () => this.disconnect(c.id));
      return {
        ok: false,
        clientId: c.id,
        ...(verdict.error === undefined ? {} : { error: verdict.error }),
      };
    }
    return this.takePublisherSlot(c, o.dtlsDelayMs ?? this.timing('dtlsMs'));
  }

  /** A WHEP play: on_play during the POST; denied means not listed and no on_stop. */
  whep(name: string, query: string): Promise<{ ok: boolean; clientId: string; error?: number }> {
    return this.play(name, `app=${this.app}&stream=${name}&${query}`, 'rtc-play');
  }

  /**
   * A WebRTC peer vanishes without closing (browser killed, page closed): over
   * ICE-TCP SRS notices at once, over UDP after the STUN timeout (~30.5 s).
   */
  vanish(clientId: string, transport: RtcTransport): void {
    if (transport === 'tcp') this.disconnect(clientId);
    else this.later(this.timing('stunTimeoutMs'), () => this.disconnect(clientId));
  }

  /**
   * The first GET of `/live/<name>.m3u8<param>`: SRS registers the session
   * (`hls-play`, named `<name>.m3u8`) before asking on_play with `stream`
   * `<name>.m3u8`. Allowed or denied, the session lingers until ~20 s after its last
   * request (see `hlsRequest`) and then gets an on_stop. A `hls_ctx` in `param` that
   * SRS does not hold is adopted as the session id; one it holds is only a request.
   */
  async playHls(
    name: string,
    param: string,
  ): Promise<{ ok: boolean; clientId: string; error?: number }> {
    const ctx = new URLSearchParams(param.replace(/^\?/, '')).get('hls_ctx');
    // A session SRS still holds: just another request (no hook); a kicked one is EOF.
    if (ctx !== null && this.hlsSessions.has(ctx))
      return { ok: this.hlsRequest(ctx), clientId: ctx };
    const c = this.connect(name, param, 'hls-play', false, ctx ?? undefined);
    c.lastRequest = Date.now();
    this.hlsSessions.set(c.id, c);
    this.hlsTicker ??= setInterval(() => this.hlsTick(), this.timing('hlsTickMs'));
    this.hlsTicker.unref();
    const verdict = await this.ask(c, 'on_play');
    if (!verdict.allowed) {
      c.zombie = true;
      return {
        ok: false,
        clientId: c.id,
        ...(verdict.error === undefined ? {} : { error: verdict.error }),
      };
    }
    return { ok: true, clientId: c.id };
  }

  /** True while SRS holds HLS session `ctx`: listed, or kicked and not expired yet. */
  holdsHls(ctx: string): boolean {
    return this.hlsSessions.has(ctx);
  }

  /**
   * A later request of an HLS session (playlist or segment): keeps it alive. False
   * when SRS answers 404 "HLS stream <ctx> is EOF" (kicked, or unknown).
   */
  hlsRequest(clientId: string): boolean {
    const c = this.hlsSessions.get(clientId);
    if (c === undefined || !c.listed) return false;
    c.lastRequest = Date.now();
    return true;
  }

  /** SRS's HLS expiry: on each tick, at most one session idle for the linger time goes. */
  private hlsTick(): void {
    const now = Date.now();
    for (const c of this.hlsSessions.values()) {
      if (now - (c.lastRequest ?? 0) < this.timing('hlsLingerMs')) continue;
      this.hlsSessions.delete(c.id);
      if (c.listed) {
        this.clients.delete(c.id);
        this.dropStreamIfEmpty(c.streamId);
      }
      this.notify(c, 'on_stop');
      break;
    }
    if (this.hlsSessions.size === 0) {
      clearInterval(this.hlsTicker);
      this.hlsTicker = undefined;
    }
  }

  /** A player connects to `name` with `param` (`?token=...`). */
  async play(
    name: string,
    param = '',
    type: Extract<ClientType, 'rtmp-play' | 'flv-play' | 'rtc-play'> = 'rtmp-play',
  ): Promise<{ ok: boolean; clientId: string; error?: number }> {
    const c = this.connect(name, param, type, false);
    const verdict = await this.ask(c, 'on_play');
    // A denied WHEP/RTMP/FLV play is dropped at once, with no on_stop.
    if (!verdict.allowed || !this.clients.has(c.id)) {
      this.clients.delete(c.id);
      this.dropStreamIfEmpty(c.streamId);
      return { ok: false, clientId: c.id, error: verdict.error };
    }
    return { ok: true, clientId: c.id };
  }

  /**
   * Adds a client without asking any hook (as SRS with hooks off would): for a load
   * generator that posts the hooks itself and only needs the API to agree.
   */
  register(
    name: string,
    clientId: string,
    type: Exclude<ClientType, 'hls-play'>,
    streamId = `vid-${name}`,
  ): void {
    let stream = this.streams.get(streamId);
    if (stream === undefined) {
      stream = this.newStream(streamId, name);
      this.streams.set(streamId, stream);
    }
    const publish = type === 'fmle-publish' || type === 'rtc-publish';
    this.clients.set(clientId, {
      id: clientId,
      streamId,
      name,
      type,
      publish,
      param: '',
      tcUrl: `rtmp://127.0.0.1:1935/${this.app}`,
      since: Date.now(),
      room: name,
      hookStream: name,
      listed: true,
    });
    if (publish) {
      stream.publisher = clientId;
      stream.framesAt = Date.now();
      stream.activeAt = stream.framesAt;
    }
  }

  /** The client disconnects: on_unpublish for a publisher, on_stop for a player. */
  disconnect(clientId: string): void {
    const c = this.clients.get(clientId);
    if (c === undefined) return;
    // An HLS session has no connection to lose: it expires (hlsTick).
    if (c.type === 'hls-play') return;
    this.clients.delete(clientId);
    this.media.gone(clientId);
    const stream = this.streams.get(c.streamId);
    if (c.publish && stream?.publisher === clientId) {
      stream.publisher = null;
      stream.lastPublisher = clientId;
    }
    this.notify(c, c.publish ? 'on_unpublish' : 'on_stop');
    this.dropStreamIfEmpty(c.streamId);
  }

  /** What `DELETE /api/v1/clients/{id}` does: false when no such client. */
  kick(clientId: string): boolean {
    const c = this.clients.get(clientId);
    if (c === undefined) return false;
    if (c.type === 'hls-play') {
      // Gone from the list at once; its playlist is EOF; on_stop when the session expires.
      c.listed = false;
      c.lastRequest = Date.now();
      this.clients.delete(clientId);
      this.dropStreamIfEmpty(c.streamId);
      return true;
    }
    const stream = this.streams.get(c.streamId);
    if (c.publish && stream?.publisher === clientId) {
      this.disconnect(clientId);
      // Kicking the publisher ends the session of every player of the stream too.
      for (const p of [...this.clients.values()])
        if (p.streamId === c.streamId && !p.publish) this.disconnect(p.id);
      return true;
    }
    this.disconnect(clientId);
    return true;
  }

  private connect(
    name: string,
    param: string,
    type: ClientType,
    publish: boolean,
    id = rid(8),
  ): Client {
    let stream = [...this.streams.values()].find((s) => s.name === name && s.app === this.app);
    if (stream === undefined) {
      stream = this.newStream(`vid-${rid(7)}`, name);
      this.streams.set(stream.id, stream);
    }
    const http = type === 'flv-play';
    const hls = type === 'hls-play';
    const rtc = type === 'rtc-play' || type === 'rtc-publish';
    const c: Client = {
      id,
      streamId: stream.id,
      name: http ? `${name}.flv` : hls ? `${name}.m3u8` : name,
      type,
      publish,
      param,
      tcUrl: rtc
        ? ''
        : hls
          ? `http://127.0.0.1/${this.app}`
          : `${http ? 'http' : 'rtmp'}://127.0.0.1:1935/${this.app}`,
      since: Date.now(),
      room: name,
      hookStream: hls ? `${name}.m3u8` : name,
      listed: true,
    };
    // SRS counts the connection before it asks the hook.
    this.clients.set(c.id, c);
    return c;
  }

  private newStream(id: string, name: string): Stream {
    const since = Date.now();
    return {
      id,
      name,
      app: this.app,
      publisher: null,
      lastPublisher: null,
      since,
      activeAt: since,
      frames: 0,
      framesAt: 0,
    };
  }

  private dropStreamIfEmpty(streamId: string): void {
    const s = this.streams.get(streamId);
    if (s === undefined || s.publisher !== null) return;
    for (const c of this.clients.values()) if (c.streamId === streamId) return;
    this.streams.delete(streamId);
  }

  /** The hook body exactly as SRS 6.0.157 lays it out for `action`. */
  hookBody(c: Client, action: Action): string {
    const name = c.room;
    const head = {
      server_id: this.serverId,
      service_id: this.serviceId,
      action,
      client_id: c.id,
      ip: '127.0.0.1',
      vhost: '__defaultVhost__',
      app: this.app,
    };
    // A zombie WHIP session's on_unpublish names no stream (SRS never attached it).
    const tail =
      c.zombie === true && action === 'on_unpublish'
        ? { stream_url: `/${this.app}/${name}` }
        : { stream_url: `/${this.app}/${name}`, stream_id: c.streamId };
    const stream = c.hookStream;
    // An HTTP-FLV player's hooks name the vhost, not the host its API entry shows (flv-play-api).
    const tcUrl = c.type === 'flv-play' ? `rtmp://__defaultVhost__/${this.app}` : c.tcUrl;
    const body =
      action === 'on_play'
        ? { ...head, stream, tcUrl, param: c.param, pageUrl: '', ...tail }
        : { ...head, tcUrl, stream, param: c.param, ...tail };
    return JSON.stringify(body);
  }

  /** on_publish / on_play: SRS waits for the answer (no retry). */
  private async ask(c: Client, action: Action): Promise<{ allowed: boolean; error?: number }> {
    if (this.bypassHooks) return { allowed: true };
    const times = this.faults.duplicate.has(action) ? 2 : 1;
    for (let i = 0; i < times; i++) {
      const r = await this.track(this.post(c, action));
      if (!r.allowed) return r;
    }
    return { allowed: true };
  }

  /** on_unpublish / on_stop: fire and forget (the answer is only logged). */
  private notify(c: Client, action: Action): void {
    if (this.bypassHooks) return;
    const raw = this.hookBody(c, action);
    const times = this.faults.duplicate.has(action) ? 2 : 1;
    const post = async () => {
      for (let i = 0; i < times; i++) await this.post(c, action, raw);
    };
    if (this.faults.hold) this.held.push(post);
    else void this.track(post());
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private async post(
    c: Client,
    action: Action,
    raw: string = this.hookBody(c, action),
  ): Promise<{ allowed: boolean; error?: number }> {
    const delay = this.faults.delayMs[action] ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const url = new URL(`${this.hookBase.replace(/\/+$/, '')}/${action}`);
    const headers = {
      Connection: 'Keep-Alive',
      'Content-Length': String(Buffer.byteLength(raw)),
      'Content-Type': 'application/json',
      Host: url.host,
      'User-Agent': 'SRS/6.0.157(Hang)',
    };
    const rec: HookRecord = {
      action,
      path: url.pathname,
      headers,
      raw,
      body: JSON.parse(raw) as Record<string, string>,
      allowed: false,
      latencyMs: 0,
    };
    this.hooks.push(rec);
    const t0 = performance.now();
    const done = (r: { allowed: boolean; error?: number; status?: number; reply?: string }) => {
      Object.assign(rec, r, { latencyMs: performance.now() - t0 });
      return { allowed: r.allowed, ...(r.error === undefined ? {} : { error: r.error }) };
    };
    if (this.faults.lose.has(action)) return done({ allowed: false, error: SrsError.hookConnect });
    return new Promise((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: 'POST',
          headers,
          timeout: this.hookTimeoutMs,
          ...(this.o.hookLocalAddress === undefined
            ? {}
            : { localAddress: this.o.hookLocalAddress }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const reply = Buffer.concat(chunks).toString();
            resolve(
              done({ ...verdict(res.statusCode ?? 0, reply), status: res.statusCode, reply }),
            );
          });
          res.on('error', () => resolve(done({ allowed: false, error: SrsError.hookConnect })));
        },
      );
      req.on('timeout', () => {
        req.destroy();
        resolve(done({ allowed: false, error: SrsError.hookTimeout }));
      });
      req.on('error', () => resolve(done({ allowed: false, error: SrsError.hookConnect })));
      req.end(raw);
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://srs');
    if (this.media.handles(req, res, url)) return;
    this.apiRequests.push(`${req.method ?? 'GET'} ${url.pathname}${url.search}`);
    const stall = this.faults.apiStallMs;
    if (stall === Infinity) return; // never answers; the client's timeout must end it
    if (stall > 0) await new Promise((r) => setTimeout(r, stall));
    if (this.faults.apiHttp500) {
      res.writeHead(500, { 'Content-Type': 'text/html' }).end('<h1>500</h1>');
      return;
    }
    if (this.faults.apiGarbage) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":0,"streams":[{"id":');
      return;
    }
    const answer = (body: object) => {
      const text = JSON.stringify(body);
      res.writeHead(200, {
        Connection: 'Keep-Alive',
        'Content-Length': String(Buffer.byteLength(text)),
        'Content-Type': 'application/json',
        Server: 'SRS/6.0.157(Hang)',
      });
      res.end(text);
    };
    const head = { code: 0, server: this.serverId, service: this.serviceId, pid: this.pid };
    const parts = url.pathname.split('/').filter((p) => p !== '');
    const [api, v1, kind, id] = parts;
    if (api !== 'api' || v1 !== 'v1') {
      res.writeHead(404).end();
      return;
    }
    const start = Number(url.searchParams.get('start') ?? 0);
    const count = Number(url.searchParams.get('count') ?? 10);
    const page = <T>(items: T[]) => items.slice(start, start + count);
    if (kind === 'summaries') {
      const data = summariesData(Number(this.pid), this.startedAt);
      data.system.conn_srs = this.clients.size;
      answer({ ...head, data });
      return;
    }
    if (kind === 'streams') {
      const all = this.sorted('streams');
      if (id === undefined) answer({ ...head, streams: page(all).map((s) => this.streamJson(s)) });
      else {
        const s = this.streams.get(id);
        answer(
          s === undefined
            ? { code: SrsError.streamNotFound }
            : { ...head, stream: this.streamJson(s) },
        );
      }
      return;
    }
    if (kind === 'clients') {
      if (req.method === 'DELETE' && id !== undefined) {
        answer(this.kick(id) ? head : { code: SrsError.clientNotFound });
        return;
      }
      const all = this.sorted('clients');
      if (id === undefined) answer({ ...head, clients: page(all).map((c) => this.clientJson(c)) });
      else {
        const c = this.clients.get(id);
        answer(
          c === undefined
            ? { code: SrsError.clientNotFound }
            : { ...head, client: this.clientJson(c) },
        );
      }
      return;
    }
    res.writeHead(404).end();
  }

  /** SRS lists by id (a std::map in SRS); sorted again only after a change. */
  private sorted<K extends 'streams' | 'clients'>(
    kind: K,
  ): (K extends 'streams' ? Stream : Client)[] {
    const map = kind === 'streams' ? this.streams : this.clients;
    const key = `${kind}:${String(map.version)}`;
    const cached = this.sortCache.get(kind);
    if (cached?.key === key) return cached.items as (K extends 'streams' ? Stream : Client)[];
    const items = [...map.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    this.sortCache.set(kind, { key, items });
    return items as (K extends 'streams' ? Stream : Client)[];
  }

  private streamJson(s: Stream) {
    const clients = [...this.clients.values()].filter((c) => c.streamId === s.id).length;
    const active = s.publisher !== null && Date.now() >= s.activeAt;
    return {
      id: s.id,
      name: s.name,
      vhost: this.vhostId,
      app: s.app,
      tcUrl:
        this.clients.get(s.publisher ?? '')?.type === 'rtc-publish'
          ? ''
          : `rtmp://127.0.0.1:1935/${s.app}`,
      url: `/${s.app}/${s.name}`,
      live_ms: Date.now(),
      clients,
      // As the recorded SRS 6 does: `frames` stays 0, the received bytes grow with the media.
      frames: 0,
      send_bytes: 4386,
      recv_bytes: 43_142 + this.framesOf(s) * BYTES_PER_FRAME,
      kbps: { recv_30s: active ? 1200 : 0, send_30s: 0 },
      publish: active
        ? { active: true, cid: s.publisher }
        : s.publisher === null && s.lastPublisher !== null
          ? { active: false, cid: s.lastPublisher }
          : { active: false },
      video: active
        ? { codec: 'H264', profile: 'Other', level: '1.2', width: 320, height: 240 }
        : null,
      audio: active ? { codec: 'AAC', sample_rate: 44_100, channel: 2, profile: 'LC' } : null,
    };
  }

  /**
   * Video frames received on the stream: growing at FRAMES_PER_S while it has a
   * publisher, standing still while stalled (`faults.mediaStalled`); the API shows
   * them as received bytes.
   */
  private framesOf(s: Stream): number {
    if (s.publisher === null || Date.now() < s.activeAt) return s.frames;
    const now = Date.now();
    const frameMs = 1000 / FRAMES_PER_S;
    const elapsed = Math.floor((now - s.framesAt) / frameMs);
    s.framesAt += elapsed * frameMs;
    if (!this.faults.mediaStalled.has(s.name)) s.frames += elapsed;
    return s.frames;
  }

  private clientJson(c: Client) {
    const s = this.streams.get(c.streamId);
    return {
      id: c.id,
      vhost: this.vhostId,
      stream: c.streamId,
      ip: '127.0.0.1',
      pageUrl: '',
      swfUrl: '',
      tcUrl: c.tcUrl,
      url: `/${this.app}/${s?.name ?? c.name}`,
      name: c.name,
      type: c.type,
      publish: c.publish,
      alive: Math.round((Date.now() - c.since) / 10) / 100,
      send_bytes: 4386,
      recv_bytes: 163,
      kbps: { recv_30s: 0, send_30s: 0 },
    };
  }
}

/** SRS's rule for a hook answer (SrsHttpHooks::do_post in SRS 6). */
export function verdict(status: number, body: string): { allowed: boolean; error?: number } {
  if (status !== 200 && status !== 201) return { allowed: false, error: SrsError.hookStatus };
  if (body === '') return { allowed: false, error: SrsError.hookData };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { allowed: false, error: SrsError.hookData };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return body === '0' ? { allowed: true } : { allowed: false, error: SrsError.hookData };
  }
  const code = (value as { code?: unknown }).code;
  if (typeof code !== 'number' || !Number.isInteger(code) || code !== 0)
    return { allowed: false, error: SrsError.hookCode };
  return { allowed: true };
}
