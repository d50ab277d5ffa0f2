/**
 * A load process of the `audience` scenario, forked by scenario.audience.ts: holds
 * up to about 19,000 viewer connections (under the 20,000 open-file limit), joins
 * them to one room with a bounded number in flight, makes them all leave at once,
 * and counts every byte and frame the gateway sends them.
 *
 * Frames are told apart by the type at the start of their JSON (the gateway writes
 * `type` first); only replies (`joined`, `left`, `error`, ...) are parsed, so the
 * N² `peer_joined` broadcasts of today's gateway cost a client a byte comparison.
 */
import { performance } from 'node:perf_hooks';
import { RawWs } from './bench.client.js';
import { pool } from '#shared/runtime/task.pool.js';
import { serveCommands } from './load.channel.js';
import { tokenFor, type Target } from './load.messages.js';
import type { AudienceCommand, AudienceReply, Counters, Tally } from './audience.messages.js';

const TYPE_PREFIX = Buffer.from('{"type":"');
const QUOTE = 0x22;
/** Frames whose content matters to the client; the rest are only counted. */
const PARSED = new Set(['joined', 'left', 'error', 'authenticated', 'kicked']);

interface Pending {
  resolve: (f: Record<string, unknown>, bytes: number) => void;
}

class Viewer {
  ws!: RawWs;
  joined = false;
  readonly pending = new Map<string, Pending>();
  authenticated: (() => void) | undefined;
}

const counters: Counters = { bytes: 0, frames: 0, byType: {}, errors: {}, closed: {} };
const viewers: Viewer[] = [];
/** The publisher, when this process holds it (not one of `viewers`). */
let publisher: Viewer | undefined;
let closing = false;
let seq = 0;

const bump = (t: Tally, k: string, n = 1) => {
  t[k] = (t[k] ?? 0) + n;
};

function frameType(buf: Buffer, start: number, end: number): string {
  const at = start + TYPE_PREFIX.length;
  if (end > at && buf.compare(TYPE_PREFIX, 0, TYPE_PREFIX.length, start, at) === 0) {
    const quote = buf.indexOf(QUOTE, at);
    if (quote >= at && quote < end) return buf.toString('latin1', at, quote);
  }
  try {
    const f = JSON.parse(buf.toString('utf8', start, end)) as { type?: unknown };
    return String(f.type);
  } catch {
    return 'unparsable';
  }
}

function onText(v: Viewer, buf: Buffer, start: number, end: number): void {
  counters.frames++;
  const type = frameType(buf, start, end);
  bump(counters.byType, type);
  if (!PARSED.has(type)) return;
  const f = JSON.parse(buf.toString('utf8', start, end)) as Record<string, unknown>;
  if (type === 'error') bump(counters.errors, String(f.code));
  if (type === 'authenticated') {
    v.authenticated?.();
    v.authenticated = undefined;
    return;
  }
  const id = typeof f.id === 'string' ? f.id : undefined;
  const p = id === undefined ? undefined : v.pending.get(id);
  if (p === undefined || id === undefined) return;
  v.pending.delete(id);
  p.resolve(f, end - start);
}

async function open(target: Target, user: string, localAddress: string): Promise<Viewer> {
  const token = await tokenFor(target, user);
  const v = new Viewer();
  const authenticated = new Promise<void>((resolve, reject) => {
    v.authenticated = resolve;
    setTimeout(() => reject(new Error(`${user}: not authenticated in 30 s`)), 30_000).unref();
  });
  v.ws = await RawWs.open({
    host: target.host,
    port: target.port,
    path: `/signaling?access_token=${token}`,
    localAddress,
    onText: (buf, start, end) => onText(v, buf, start, end),
    onClose: (ws) => {
      if (!closing) bump(counters.closed, String(ws.closeCode ?? 1006));
      // A request the connection took with it is answered, so no phase waits for it.
      for (const p of v.pending.values())
        p.resolve({ type: 'error', code: 'CONNECTION_CLOSED' }, 0);
      v.pending.clear();
    },
  });
  v.ws.socket.on('data', (chunk: Buffer) => {
    counters.bytes += chunk.length;
  });
  await authenticated;
  return v;
}

/** Sends `frame` with a fresh id and resolves with its reply (`error` included) and the reply's size. */
function request(
  v: Viewer,
  frame: Record<string, unknown>,
): Promise<{ f: Record<string, unknown>; bytes: number }> {
  const id = `a${++seq}`;
  return new Promise((resolve) => {
    v.pending.set(id, { resolve: (f, bytes) => resolve({ f, bytes }) });
    v.ws.sendText(JSON.stringify({ ...frame, id }));
  });
}

/** `promise`, or `undefined` once `ms` have passed. */
function capped<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function handle(c: AudienceCommand): Promise<AudienceReply> {
  switch (c.cmd) {
    case 'connect': {
      let failed = 0;
      let lastFailure: string | undefined;
      const tag = `v${process.pid}`;
      const end = performance.now() + c.capMs;
      const indexes = Array.from({ length: c.count }, (_, i) => i);
      await capped(
        pool(indexes, c.concurrency, async (i) => {
          if (performance.now() > end) return;
          try {
            viewers.push(
              await open(
                c.target,
                `${tag}-${i}`,
                c.localAddresses[i % c.localAddresses.length] ?? '127.0.0.1',
              ),
            );
          } catch (err) {
            failed++;
            lastFailure = err instanceof Error ? err.message : String(err);
          }
        }),
        c.capMs + 5000,
      );
      return { ok: 'connected', connected: viewers.length, failed, lastFailure };
    }
    case 'publisher': {
      const v = await open(c.target, `pub${process.pid}`, c.localAddress);
      publisher = v;
      const t0 = performance.now();
      const { f, bytes } = await request(v, { type: 'join', room: c.room, role: 'publisher' });
      if (f.type !== 'joined') throw new Error(`publisher join: ${JSON.stringify(f)}`);
      return { ok: 'publisher', latencyMs: performance.now() - t0, joinedBytes: bytes };
    }
    case 'mark':
      counters.bytes = 0;
      counters.frames = 0;
      counters.byType = {};
      counters.errors = {};
      return { ok: 'done' };
    case 'counters':
      return { ok: 'counters', ...counters };
    case 'join': {
      const latenciesMs: number[] = [];
      const joinedBytes: number[] = [];
      const refused: Tally = {};
      let answered = 0;
      const live = viewers.filter((v) => !v.ws.closed);
      await capped(
        pool(live, c.concurrency, async (v) => {
          if (v.ws.closed) return;
          const t0 = performance.now();
          const { f, bytes } = await request(v, { type: 'join', room: c.room, role: 'viewer' });
          answered++;
          if (f.type === 'joined') {
            v.joined = true;
            latenciesMs.push(performance.now() - t0);
            joinedBytes.push(bytes);
          } else bump(refused, String(f.code));
        }),
        c.capMs,
      );
      return {
        ok: 'joined',
        joined: latenciesMs.length,
        refused,
        pending: live.length - answered,
        latenciesMs,
        joinedBytes,
      };
    }
    case 'leave': {
      const members = viewers.filter((v) => v.joined && !v.ws.closed);
      const refused: Tally = {};
      let left = 0;
      let lastMs = 0;
      const t0 = performance.now();
      await capped(
        Promise.all(
          members.map(async (v) => {
            const { f } = await request(v, { type: 'leave', room: c.room });
            lastMs = performance.now() - t0;
            if (f.type === 'left') {
              left++;
              v.joined = false;
            } else bump(refused, String(f.code));
          }),
        ),
        c.capMs,
      );
      const answered = left + Object.values(refused).reduce((a, b) => a + b, 0);
      return { ok: 'left', left, refused, pending: members.length - answered, lastMs };
    }
    case 'close': {
      closing = true;
      const all = publisher === undefined ? viewers : [...viewers, publisher];
      const open = all.filter((v) => !v.ws.closed);
      const gone = Promise.all(
        open.map((v) => new Promise<void>((r) => v.ws.socket.once('close', () => r()))),
      );
      for (const v of open) v.ws.close();
      await capped(gone, 5000);
      for (const v of all) v.ws.socket.destroy();
      return { ok: 'done' };
    }
  }
}

serveCommands('load.audience.js is forked by the audience scenario, not run on its own', handle);
