/**
 * After the chaos: the invariants, read from ROOM_EVENTS and the rooms themselves,
 * and the figures (failover windows per kind of process killed, memory).
 */
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import type { RoomEventBatch } from '#shared/room/room.events.js';
import type { Bus } from '#shared/runtime/bus.js';
import { stateHash } from '../../services/room/room.actor.js';
import { JetStreamRoomLog } from '../../services/room/room.log.js';
import { partitionOf } from '../../services/room/room.leases.js';
import { KvSnapshotStore } from '../../services/room/room.snapshots.js';
import { loadConfig } from '#config/config.js';
import { applyBatch, type RoomEntry } from '../../services/room/room.recovery.js';
import type { Kind } from './chaos.system.js';
import type { LoadRecord, Op } from './chaos.load.js';

export interface Kill {
  kind: Kind;
  label: string;
  at: number;
  /** When the restarted process was ready again. */
  back: number;
}

export interface Invariants {
  acknowledged: number;
  lost: string[];
  duplicated: string[];
  /** Rooms whose batches are not 1..n (a fenced-out writer's batch would break it). */
  gaps: string[];
  /** Rooms whose live state differs from the state replayed from the log. */
  diverged: string[];
  stateAsks: StateAsks;
  /** Rooms whose live state was not the one first replayed: checked again on the log's tail after the pass. */
  movedOn: number;
  /** Rooms whose log ever had two publishers at once. */
  twoPublishers: string[];
  /** Refusals outside every failover window. */
  outside: number;
  /** A few of them: step, code, and ms since the last kill before it (or since the load started). */
  outsideSamples: string[];
}

/** Reads ROOM_EVENTS and the live rooms; checks every acknowledged transition. */
/** Ended rooms whose live state is compared with their replay (spread over the run). */
const ENDED_SAMPLE = 500;

export async function checkInvariants(
  bus: Bus,
  rec: LoadRecord,
  kills: Kill[],
  windowMs: number,
  /** Told how the check goes every 30 s (a long soak's takes minutes). */
  progress: (line: string) => void = () => undefined,
): Promise<Invariants> {
  const log = await JetStreamRoomLog.open(bus.nc, {
    writer: 'chaos',
    replicas: 3,
    timeoutMs: 5000,
    readOnly: true,
  });
  const logged = new Map<string, number>();
  const seqs = new Map<string, number[]>();
  const publishers = new Map<string, number>();
  const twoPublishers = new Set<string>();
  // Every room replayed from the same one pass over the log (not a read per room).
  const replayed = new Map<string, RoomEntry | undefined>();
  let scannedTo = 0;
  await log.scan(0, (b) => {
    scannedTo = Math.max(scannedTo, b.streamSeq);
    const batch: RoomEventBatch = b.batch;
    if (!rec.rooms.has(batch.roomId)) return;
    replayed.set(batch.roomId, applyBatch(replayed.get(batch.roomId), b));
    // Room sequences are per event: each batch starts where the one before ended.
    seqs.set(batch.roomId, [...(seqs.get(batch.roomId) ?? []), batch.seq, batch.events.length]);
    for (const e of batch.events) {
      const key =
        e.type === 'room_created'
          ? `${batch.roomId} room_created`
          : e.type === 'status_changed' && e.to === 'ended'
            ? `${batch.roomId} ended`
            : e.type === 'member_joined' || e.type === 'member_left'
              ? `${batch.roomId} ${e.type} ${e.peerId}`
              : undefined;
      if (key !== undefined) logged.set(key, (logged.get(key) ?? 0) + 1);
      if (e.type === 'publisher_granted') {
        const now = (publishers.get(batch.roomId) ?? 0) + 1;
        publishers.set(batch.roomId, now);
        if (now > 1) twoPublishers.add(batch.roomId);
      }
      if (e.type === 'publisher_released')
        publishers.set(batch.roomId, Math.max(0, (publishers.get(batch.roomId) ?? 0) - 1));
    }
  });
  const lost: string[] = [];
  const duplicated: string[] = [];
  for (const a of rec.acks) {
    const times = logged.get(a.key) ?? 0;
    if (times === 0) lost.push(a.key);
    if (times > 1) duplicated.push(a.key);
  }
  const gaps = [...seqs]
    .filter(([, s]) => {
      let next = 1;
      for (let i = 0; i < s.length; i += 2) {
        if (s[i] !== next) return true;
        next += s[i + 1] ?? 0;
      }
      return false;
    })
    .map(([id]) => id);
  const rooms = new RoomClient(bus);
  // How long each room's live state took to get, open and ended rooms apart (where a
  // slow check spends its time), and how many asks failed and were repeated.
  const took = { open: [] as number[], ended: [] as number[], retries: 0 };
  const asks = () => ({
    open: spread(took.open),
    ended: spread(took.ended),
    retries: took.retries,
  });
  /** What each room's replica answered (for the rooms whose state differs). */
  const answers = new Map<string, string>();
  const liveHash = async (roomId: string): Promise<string | undefined> => {
    const started = Date.now();
    const done = () =>
      took[replayed.get(roomId)?.actor.ended === true ? 'ended' : 'open'].push(
        Date.now() - started,
      );
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const { hash, seq, status } = await rooms.send(roomId, { type: 'state' });
        done();
        answers.set(roomId, `live ${status} at ${seq}`);
        return hash;
      } catch (err) {
        // A room whose create was never confirmed is in no replica: nothing to compare.
        if (err instanceof RoomRefusedError && err.body.code === 'ROOM_NOT_FOUND') {
          answers.set(roomId, 'not found');
          return undefined;
        }
        took.retries++;
      }
    }
    return undefined;
  };
  // Every room the log has open, and a sample of the ended ones: a replica lets an ended
  // room go and reads it back from its snapshot when asked (room.retired.ts), one KV read
  // each, which over tens of thousands of rooms took the check many minutes.
  const ended = [...rec.rooms].filter((id) => replayed.get(id)?.actor.ended === true);
  const ids = [
    ...[...rec.rooms].filter((id) => replayed.get(id)?.actor.ended !== true),
    ...ended.filter((_, i) => i % Math.ceil(ended.length / ENDED_SAMPLE) === 0),
  ];
  // Rooms whose live state was not the one replayed: the room's live hash.
  const behind = new Map<string, string | undefined>();
  // A few rooms at a time: a long run has tens of thousands.
  const compare = async () => {
    for (let roomId = ids.pop(); roomId !== undefined; roomId = ids.pop()) {
      const hash = await liveHash(roomId);
      const entry = replayed.get(roomId);
      if (entry === undefined && hash === undefined) continue;
      if (entry === undefined || stateHash(entry.actor) !== hash) behind.set(roomId, hash);
    }
  };
  const total = ids.length;
  const ticker = setInterval(() => {
    progress(`live states: ${total - ids.length} of ${total} asked; ${describeAsks(asks())}`);
  }, 30_000);
  await Promise.all(Array.from({ length: 16 }, compare)).finally(() => clearInterval(ticker));
  // A room may have moved on since the pass over the log (a grace period running out
  // as the load stopped): it matches if its live state is one its log passed through
  // after the pass. One more pass over what the log gained since serves them all,
  // where a read of each such room's log would be a search of the stream each on
  // nats-server 2.9.
  const movedOn = behind.size;
  if (behind.size > 0)
    await log.scan(scannedTo, (b) => {
      const roomId = b.batch.roomId;
      if (!behind.has(roomId)) return;
      const entry = applyBatch(replayed.get(roomId), b);
      replayed.set(roomId, entry);
      if (entry !== undefined && stateHash(entry.actor) === behind.get(roomId))
        behind.delete(roomId);
    });
  // The first few told in full: where the room's batches are, its stored snapshot and
  // its partition (what a takeover reads it from).
  const store = await KvSnapshotStore.open(bus.nc, { replicas: 1 });
  const partitions = loadConfig().room.partitions;
  const diverged = await Promise.all(
    [...behind.keys()].map(async (roomId, i) => {
      const s = replayed.get(roomId)?.actor.state;
      const told = s === undefined ? 'not in the log' : `log ${s.status} at ${s.seq}`;
      let more = '';
      if (i < 10) {
        const batches = (await log.readRoom(roomId, 0)).map((b) => b.streamSeq);
        const snap = await store.load(roomId);
        more =
          `; batches at ${batches.join(',')}; snapshot ` +
          (snap === undefined ? 'none' : `of ${snap.seq} at ${snap.streamSeq}`) +
          `; partition ${partitionOf(roomId, partitions)}`;
      }
      return `${roomId} (${answers.get(roomId) ?? 'no answer'}; ${told}${more})`;
    }),
  );
  const inside = (t: number) => kills.some((k) => t >= k.at && t <= k.back + windowMs);
  const outsideOps = rec.ops.filter((o) => !o.ok && !inside(o.start) && !inside(o.end));
  const outside = outsideOps.length;
  const outsideSamples = outsideOps.slice(0, 5).map((o) => {
    const before = kills.filter((k) => k.at <= o.start).at(-1);
    const since =
      before === undefined
        ? 'before the first kill'
        : `${o.start - before.at} ms after killing ${before.label}`;
    return `${o.op} ${o.code ?? ''} (${o.end - o.start} ms), ${since}`;
  });
  return {
    acknowledged: rec.acks.length,
    lost,
    duplicated,
    gaps,
    diverged,
    movedOn,
    stateAsks: asks(),
    twoPublishers: [...twoPublishers],
    outside,
    outsideSamples,
  };
}

/**
 * The kill a refused step belongs to: the last one before its refusal came. A step
 * started just before a kill and refused after it (a gateway killed under a pending
 * `leave`) failed because of that kill, not the one before.
 */
function killOf(kills: Kill[], failedAt: number): number {
  // Kills are in time order: the last one at or before `failedAt`, by bisection (a
  // soak has tens of thousands of steps and dozens of kills).
  let lo = 0;
  let hi = kills.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((kills[mid]?.at ?? Infinity) <= failedAt) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The refused steps of each kill (see `killOf`), by the kill's index. */
export function refusedByKill(rec: LoadRecord, kills: Kill[]): Op[][] {
  const out: Op[][] = kills.map(() => []);
  for (const o of rec.ops) if (!o.ok) out[killOf(kills, o.end)]?.push(o);
  return out;
}

/**
 * How long each kill kept commands (and, apart, relayed signaling) from succeeding:
 * from the kill to the end of the first successful step that started after the last
 * step it refused (see `killOf`); 0 when it refused nothing. Capped at the next kill.
 */
export function windows(rec: LoadRecord, kills: Kill[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const refused = refusedByKill(rec, kills);
  kills.forEach((k, i) => {
    const next = kills[i + 1]?.at ?? Number.POSITIVE_INFINITY;
    for (const klass of ['commands', 'signaling'] as const) {
      const of = (o: Op) =>
        klass === 'signaling' ? o.op === 'relay' : o.op !== 'relay' && o.op !== 'publish';
      const failed = (refused[i] ?? []).filter(of);
      // A step started before this kill and refused after it counts from the kill on.
      const lastFail = Math.max(...failed.map((o) => Math.max(o.start, k.at)));
      const recovered = rec.ops
        .filter((o) => o.ok && of(o) && o.start >= lastFail)
        .reduce((min, o) => Math.min(min, o.end), Number.POSITIVE_INFINITY);
      const w = failed.length === 0 ? 0 : Math.min(recovered, next) - k.at;
      const key = `${k.kind} ${klass}`;
      out.set(key, [...(out.get(key) ?? []), w]);
    }
  });
  return out;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

export interface Spread {
  n: number;
  p50: number;
  max: number;
}

/** How long getting rooms' live states took (ms), open and ended rooms apart; asks repeated. */
export interface StateAsks {
  open: Spread;
  ended: Spread;
  retries: number;
}

/** `open rooms 12 (p50 3 ms, max 9 ms), ended …; asks repeated: 0` */
export function describeAsks(a: StateAsks): string {
  const one = (s: Spread) => `${String(s.n)} (p50 ${String(s.p50)} ms, max ${String(s.max)} ms)`;
  return `open rooms ${one(a.open)}, ended ${one(a.ended)}; asks repeated: ${String(a.retries)}`;
}

function spread(ms: number[]): Spread {
  return { n: ms.length, p50: percentile(ms, 50), max: ms.reduce((a, b) => Math.max(a, b), 0) };
}
