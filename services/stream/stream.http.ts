/**
 * The HTTP endpoint SRS's http_hooks call (uWebSockets.js, like the gateway):
 * `POST /api/srs/hooks/<secret>/<action>`, or `POST /api/srs/hooks/<action>` from a
 * configured source address, and `GET /healthz`.
 *
 * What must hold:
 * - SRS does not sign its callbacks: a callback is taken only with the shared secret
 *   in its path or from an allowed address. Anything else is answered 403 (SRS
 *   denies on any status but 200/201) and counted.
 * - Everything needed from `req` is copied before the first `await`; an aborted
 *   response is never written to.
 */
import { timingSafeEqual } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Config } from '#config/config.js';
import { ErrorCode } from '#shared/wire/errors.js';
import type { Logger } from '#shared/runtime/log.js';
import { LimitedLog } from '#shared/runtime/log.limit.js';
import { SpanKind, withSpan } from '#shared/runtime/telemetry.js';
import type { Uws } from '#shared/runtime/uws.js';
import { deny, isHookAction, parseHook, type HookAnswer } from './srs.hooks.js';
import type { StreamService } from './stream.service.js';

export interface HookServerOptions {
  uws: Uws;
  config: Config['stream'];
  service: StreamService;
  logger: Logger;
  now?: () => number;
}

const statusLine: Record<HookAnswer['status'] | 404, string> = {
  200: '200 OK',
  403: '403 Forbidden',
  404: '404 Not Found',
  413: '413 Payload Too Large',
};
const decoder = new TextDecoder();

/** The canonical text of an address: IPv6 compressed, IPv4-mapped IPv6 as IPv4. */
export function canonicalIp(text: string): string {
  let ip = text.trim().toLowerCase();
  if (!ip.includes(':')) return ip;
  try {
    ip = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (mapped === null) return ip;
  const hi = parseInt(mapped[1] ?? '0', 16);
  const lo = parseInt(mapped[2] ?? '0', 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class HookServer {
  private readonly app: TemplatedApp;
  private readonly allowedIps: ReadonlySet<string>;
  private readonly now: () => number;
  /** Anyone who reaches the endpoint can make it refuse: those warnings are rate-limited. */
  private readonly refusals: LimitedLog;
  private listenSocket: us_listen_socket | undefined;
  port = 0;

  constructor(private readonly o: HookServerOptions) {
    if (o.config.hookSecret === undefined && o.config.hookAllowedIps.length === 0) {
      throw new Error(
        'SRS hooks would be open to anyone: set STREAM_HOOK_SECRET or STREAM_HOOK_ALLOWED_IPS',
      );
    }
    this.allowedIps = new Set(o.config.hookAllowedIps.map(canonicalIp));
    this.now = o.now ?? Date.now;
    this.refusals = new LimitedLog(o.logger, {
      lines: o.config.hookLogLines,
      intervalMs: o.config.hookLogIntervalMs,
    });
    this.app = o.uws.App();
    this.app.post('/api/srs/hooks/:secret/:action', (res, req) => {
      this.onHook(res, req, true);
    });
    this.app.post('/api/srs/hooks/:action', (res, req) => {
      this.onHook(res, req, false);
    });
    this.app.get('/healthz', (res) => {
      const srs = o.service.srsServiceId;
      this.write(res, 200, JSON.stringify({ status: 'ok', srsService: srs }));
    });
    this.app.any('/*', (res) => {
      this.write(res, 404, deny(ErrorCode.NOT_FOUND).body);
    });
  }

  listen(): Promise<number> {
    const { host, port } = this.o.config;
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`the hook endpoint cannot listen on ${host}:${port}`));
          return;
        }
        this.listenSocket = socket;
        this.port = this.o.uws.us_socket_local_port(socket);
        resolve(this.port);
      });
    });
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.refusals.close();
    if (this.listenSocket !== undefined) this.o.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    // Missing from the package's typings; closes keep-alive connections too.
    (this.app as TemplatedApp & { close(): void }).close();
  }

  private onHook(res: HttpResponse, req: HttpRequest, withSecret: boolean): void {
    const receivedAt = this.now();
    const remote = canonicalIp(decoder.decode(res.getRemoteAddressAsText()));
    const secret = withSecret ? req.getParameter(0) : undefined;
    const pathAction = req.getParameter(withSecret ? 1 : 0);
    const expected = this.o.config.hookSecret;
    const trusted =
      secret === undefined
        ? this.allowedIps.has(remote)
        : expected !== undefined && sameSecret(secret, expected);
    if (!trusted) {
      this.o.service.rejected(isHookAction(pathAction) ? pathAction : 'unknown');
      this.refusals.warn(
        'hook-refused',
        'SRS callback refused: unknown source and no valid secret',
        { remote },
      );
      this.send(res, deny(ErrorCode.NOT_ALLOWED, 'unknown source', 403));
      return;
    }
    if (!isHookAction(pathAction)) {
      this.write(res, 404, deny(ErrorCode.NOT_FOUND, `no hook ${pathAction}`).body);
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const max = this.o.config.hookMaxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (size > max) return;
      size += chunk.byteLength;
      if (size > max) {
        this.o.service.malformed(pathAction, ErrorCode.TOO_LARGE);
        this.send(res, deny(ErrorCode.TOO_LARGE, `body over ${max} bytes`, 413));
        return;
      }
      // The chunk's memory is reused after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (!isLast) return;
      const parsed = parseHook(Buffer.concat(chunks).toString('utf8'));
      if (!parsed.ok) {
        this.o.service.malformed(pathAction);
        this.send(res, deny(ErrorCode.BAD_FRAME, parsed.reason));
        return;
      }
      const hook = parsed.hook;
      if (hook.action !== pathAction) {
        this.o.service.malformed(pathAction);
        this.send(res, deny(ErrorCode.BAD_FRAME, 'the body names another action than the path'));
        return;
      }
      // One trace per callback: SRS sends no trace context, so the hook starts it, and
      // the room commands it asks for (and the decision they record) are its children.
      void withSpan(
        `srs ${hook.action}`,
        {
          'srs.action': hook.action,
          'srs.client_id': hook.clientId,
          'roomcast.room': hook.roomId,
          ...(hook.streamId === null ? {} : { 'srs.stream_id': hook.streamId }),
        },
        () =>
          this.o.service.answer(hook, receivedAt).then((answer) => {
            if (!aborted) res.cork(() => this.send(res, answer));
          }),
        { kind: SpanKind.SERVER },
      );
    });
  }

  private send(res: HttpResponse, answer: HookAnswer): void {
    this.write(res, answer.status, answer.body);
  }

  private write(res: HttpResponse, status: HookAnswer['status'] | 404, body: string): void {
    res.writeStatus(statusLine[status]).writeHeader('Content-Type', 'application/json').end(body);
  }
}
