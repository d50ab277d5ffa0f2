/**
 * The chaos run's mixed load: sessions that each create a room over REST on one
 * gateway, join its host there and a viewer on the other gateway (WebSocket), relay
 * an offer between them, publish through the SRS stand-in's hooks, let the viewer
 * leave and end the room. Every acknowledged step is recorded (what it must have left
 * in ROOM_EVENTS); every refusal with its code and time. A client whose gateway dies
 * resumes on the other gateway with its resume token.
 */
import { mintToken } from '#shared/auth/tokens.js';
import { loadConfig } from '#config/config.js';
import { Client, type Frame } from '../../test/helpers/client.js';
import { TEST_SECRET } from '../../test/helpers/system.js';
import type { ChaosSystem } from './chaos.system.js';

/**
 * A client on `url` once the gateway said `authenticated` (whatever else happens is the
 * step's to see). A socket that closed with 1006 first is listed with what the client saw.
 */
async function connectAuthenticated(url: string, rec: LoadRecord): Promise<Client> {
  const c = await Client.connect(url);
  const closed = await Promise.race([
    c.nextOf('authenticated', 10_000).then(
      () => undefined,
      () => ({ code: 0 }),
    ),
    c.whenClosed,
  ]);
  if (closed?.code === 1006) rec.closes1006.push({ at: Date.now(), cause: c.closeCause() });
  return c;
}

/** One step a session tried. */
export interface Op {
  op: 'create' | 'join' | 'relay' | 'publish' | 'leave' | 'end' | 'resume';
  start: number;
  end: number;
  ok: boolean;
  /** The refusal's code, or what went wrong. */
  code?: string;
}

/** A transition the system acknowledged, and what ROOM_EVENTS must hold for it. */
type AckOf =
  | { type: 'room_created'; roomId: string }
  | { type: 'member_joined'; roomId: string; peerId: string }
  | { type: 'member_left'; roomId: string; peerId: string }
  | { type: 'ended'; roomId: string };

export type Ack = AckOf & {
  /** What the check looks for in ROOM_EVENTS: `room type [peer]`. */
  key: string;
  /** When the answer came. */
  at: number;
};

export interface Resume {
  ok: boolean;
  samePeer: boolean;
  ms: number;
}

export interface LoadRecord {
  ops: Op[];
  acks: Ack[];
  resumes: Resume[];
  rooms: Set<string>;
  /**
   * Sockets a step saw close with 1006 (a killed gateway's, or any other without a
   * close frame), with what the client saw (`Client.closeCause`).
   */
  closes1006: { at: number; cause: string }[];
}

/** How often a probe room is created (and ended), in ms. */
const PROBE_EVERY_MS = 100;

const config = loadConfig({ AUTH_JWT_SECRET: TEST_SECRET });
const token = (sub: string, grants?: Record<string, unknown>) =>
  mintToken({
    secret: TEST_SECRET,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    sub,
    ...(grants === undefined ? {} : { grants }),
  });

interface Member {
  c: Client;
  user: string;
  peerId: string;
  resume: string;
  gw: number;
}

class Refused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Runs sessions on `workers` loops until `stopped()`; returns what happened. */
export async function runLoad(
  sys: ChaosSystem,
  o: { workers: number; stopped: () => boolean },
): Promise<LoadRecord> {
  const rec: LoadRecord = { ops: [], acks: [], resumes: [], rooms: new Set(), closes1006: [] };
  const acked = (a: AckOf) => {
    const key =
      a.type === 'room_created' || a.type === 'ended'
        ? `${a.roomId} ${a.type}`
        : `${a.roomId} ${a.type} ${a.peerId}`;
    rec.acks.push({ ...a, key, at: Date.now() });
  };
  let n = 0;
  const step = async <T>(op: Op['op'], f: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    try {
      const v = await f();
      rec.ops.push({ op, start, end: Date.now(), ok: true });
      return v;
    } catch (err) {
      // A timeout's details (the stall figures) would make every one its own code.
      const code = err instanceof Refused ? err.code : String(err).split(' (')[0]?.slice(0, 80);
      rec.ops.push({ op, start, end: Date.now(), ok: false, code });
      throw err;
    }
  };
  const gwUrl = (i: number) => sys.gateways()[i]?.proc.url ?? '';
  const api = (i: number, path: string) =>
    `http://127.0.0.1:${sys.gateways()[i]?.proc.port ?? 0}/api/rooms${path}`;
  const rest = async (i: number, method: string, path: string, sub: string, body?: unknown) => {
    const r = await fetch(api(i, path), {
      method,
      headers: {
        authorization: `Bearer ${await token(sub, { create: true })}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    if (r.status >= 300) {
      const error = json.error as { code?: string } | undefined;
      throw new Refused(error?.code ?? `HTTP ${r.status}`);
    }
    return json;
  };
  /**
   * A frame, or a refusal as soon as the socket closes (its gateway died): a real
   * client hears of a dead socket at once, and the failure is dated by its cause.
   */
  const orClosed = (c: Client, wait: Promise<Frame>): Promise<Frame> => {
    // Only while the step waits: the session's own `drop()` at its end closes (1006) too.
    let waiting = true;
    return Promise.race([
      wait.finally(() => (waiting = false)),
      c.whenClosed.then((x) => {
        if (x.code === 1006 && waiting)
          rec.closes1006.push({ at: Date.now(), cause: c.closeCause() });
        throw new Refused(`closed ${x.code}`);
      }),
    ]);
  };
  const reply = (f: Frame, want: string) => {
    if (f.type !== want) throw new Refused(f.type === 'error' ? f.code : f.type);
    return f;
  };
  /** The member again, on the other gateway, when its socket closed (its gateway died). */
  const alive = async (m: Member, roomId: string): Promise<void> => {
    if (m.c.closed === undefined) return;
    const other = 1 - m.gw;
    const start = Date.now();
    let c: Client | undefined;
    const r = await step('resume', async () => {
      c = await connectAuthenticated(`${gwUrl(other)}?access_token=${await token(m.user)}`, rec);
      return reply(
        await orClosed(c, c.call({ type: 'resume', room: roomId, resume: m.resume }, 10_000)),
        'resumed',
      );
    }).catch((err: unknown) => {
      c?.drop();
      rec.resumes.push({ ok: false, samePeer: false, ms: Date.now() - start });
      throw err;
    });
    if (c === undefined) throw new Error('unreachable');
    rec.resumes.push({ ok: true, samePeer: r.peerId === m.peerId, ms: Date.now() - start });
    m.c = c;
    m.gw = other;
    if (typeof r.resume === 'string') m.resume = r.resume;
  };
  const join = async (gw: number, roomId: string, user: string, role: string) => {
    const c = await connectAuthenticated(
      `${gwUrl(gw)}?access_token=${await token(user, { view: [roomId], publish: [roomId] })}`,
      rec,
    );
    const j = await step('join', async () =>
      reply(await orClosed(c, c.call({ type: 'join', room: roomId, role }, 10_000)), 'joined'),
    );
    const m: Member = { c, user, peerId: String(j.peerId), resume: String(j.resume), gw };
    acked({ type: 'member_joined', roomId, peerId: m.peerId });
    return m;
  };

  const session = async (w: number) => {
    const roomId = `x${w}-${n++}`;
    const gw = n % 2;
    const owner = `owner${w}`;
    const members: Member[] = [];
    try {
      await step('create', () =>
        rest(gw, 'POST', '', owner, { roomId, title: roomId, isPrivate: false }),
      );
      rec.rooms.add(roomId);
      acked({ type: 'room_created', roomId });
      const host = await join(gw, roomId, owner, 'publisher');
      members.push(host);
      const viewer = await join(1 - gw, roomId, `viewer${w}`, 'viewer');
      members.push(viewer);
      await alive(host, roomId);
      await alive(viewer, roomId);
      await step('relay', async () => {
        const sdp = `v=0 chaos ${roomId}`;
        const sent = host.c.frames.length;
        host.c.send({ type: 'offer', room: roomId, to: viewer.peerId, sdp });
        await orClosed(
          viewer.c,
          viewer.c.next((f) => f.type === 'offer' && f.sdp === sdp, 5000),
        ).catch((err: unknown) => {
          // Refused at the sender's gateway, or lost on the way: which one, in the code.
          const refusal = host.c.frames.slice(sent).find((f) => f.type === 'error');
          throw refusal === undefined ? err : new Refused(`relay refused ${refusal.code}`);
        });
      });
      // The host steps off the stage: the stream published over RTMP takes it.
      await alive(host, roomId);
      await step('leave', async () =>
        reply(await orClosed(host.c, host.c.call({ type: 'leave', room: roomId }, 10_000)), 'left'),
      );
      acked({ type: 'member_left', roomId, peerId: host.peerId });
      const urls = await rest(gw, 'GET', `/${roomId}/urls`, owner);
      const rtmp = (urls.publish as { rtmp?: string } | undefined)?.rtmp ?? '';
      await step('publish', async () => {
        const p = await sys.srs.publish(roomId, new URL(rtmp).search);
        if (!p.ok) throw new Refused(`publish ${p.error ?? 'refused'}`);
      });
      await alive(viewer, roomId);
      await step('leave', async () =>
        reply(
          await orClosed(viewer.c, viewer.c.call({ type: 'leave', room: roomId }, 10_000)),
          'left',
        ),
      );
      acked({ type: 'member_left', roomId, peerId: viewer.peerId });
      await step('end', () => rest(gw, 'DELETE', `/${roomId}`, owner));
      acked({ type: 'ended', roomId });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      for (const m of members) m.c.drop();
    }
  };
  /**
   * A room that lives through the whole run: host on one gateway, viewer on the
   * other, an offer relayed every 200 ms; a member whose gateway dies resumes on the
   * other one.
   */
  const resident = async (r: number) => {
    const roomId = `resident${r}`;
    const owner = `resident-owner${r}`;
    const members: Member[] = [];
    let created = false;
    while (members.length < 2 && !o.stopped()) {
      try {
        if (!created) {
          await step('create', () =>
            rest(0, 'POST', '', owner, { roomId, title: roomId, isPrivate: false }),
          );
          created = true;
          rec.rooms.add(roomId);
          acked({ type: 'room_created', roomId });
        }
        if (members.length === 0) members.push(await join(0, roomId, owner, 'publisher'));
        members.push(await join(1, roomId, `rv${r}`, 'viewer'));
      } catch {
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    let k = 0;
    while (!o.stopped()) {
      await new Promise((res) => setTimeout(res, 200));
      const [host, viewer] = members;
      if (host === undefined || viewer === undefined) return;
      try {
        await alive(host, roomId);
        await alive(viewer, roomId);
        await step('relay', async () => {
          const sdp = `v=0 resident ${roomId} ${k++}`;
          host.c.send({ type: 'offer', room: roomId, to: viewer.peerId, sdp });
          await orClosed(
            viewer.c,
            viewer.c.next((f) => f.type === 'offer' && f.sdp === sdp, 3000),
          );
        });
      } catch {
        // Recorded by `step`; the next tick tries again.
      }
    }
    for (const m of members) m.c.drop();
  };
  /**
   * Commands at a steady beat whatever the others wait for: a room created and ended
   * every `PROBE_EVERY_MS`, each on its own. The sessions wait out a refused step's
   * timeout one after the other, so on their own they would date the end of a failover
   * window only to within a request timeout.
   */
  const probes = async () => {
    const running = new Set<Promise<void>>();
    for (let k = 0; !o.stopped(); k++) {
      const roomId = `probe-${k}`;
      const gw = k % 2;
      const probe = (async () => {
        await step('create', () =>
          rest(gw, 'POST', '', 'prober', { roomId, title: roomId, isPrivate: false }),
        );
        rec.rooms.add(roomId);
        acked({ type: 'room_created', roomId });
        await step('end', () => rest(gw, 'DELETE', `/${roomId}`, 'prober'));
        acked({ type: 'ended', roomId });
      })()
        .catch(() => undefined)
        .finally(() => running.delete(probe));
      running.add(probe);
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
    await Promise.all([...running]);
  };
  await Promise.all([
    ...Array.from({ length: o.workers }, async (_, w) => {
      while (!o.stopped()) await session(w);
    }),
    ...Array.from({ length: 4 }, (_, r) => resident(r)),
    probes(),
  ]);
  return rec;
}
