/**
 * Two gateway processes on one NATS relay exactly as one: real processes (room
 * service and two gateways), members split over both, every peer-to-peer frame
 * between the stage (the host) and each audience member both ways, none between
 * audience members, and the room's news (status, kick, leave, end) seen alike on
 * both sides, with the local fast path on and off, and with relayed signals held
 * (GATEWAY_RELAY_HOLD_MS).
 *
 * Whether the room announces its audience (it did before the stage/audience model:
 * every viewer was a peer) is read off the joins, so the news expected follow it.
 */
import t from 'tap';
import { decode } from '#shared/runtime/bus.js';
import { subjects } from '#shared/wire/subjects.js';
import type { Client, Frame } from '../../../test/helpers/client.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

const none = { publish: false, view: false, admin: false };

/** Polls `cond` until it holds; fails with `what` after `timeoutMs`. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !cond();) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The room news a client saw, in the order it arrived; `who` names a peer id. */
function news(c: Client, who: (peerId: string) => string): { seq: number; text: string }[] {
  return c.frames.flatMap((f: Frame) => {
    if (f.type === 'peer_joined') return [{ seq: f.seq, text: `joined ${f.peer.userId}` }];
    if (f.type === 'peer_left') return [{ seq: f.seq, text: `left ${who(f.peerId)} ${f.reason}` }];
    if (f.type === 'room_status') return [{ seq: f.seq, text: `status ${f.status}` }];
    return [];
  });
}

const setups = [
  { fastPath: true, holdMs: 0 },
  { fastPath: false, holdMs: 0 },
  { fastPath: false, holdMs: 20 },
];
for (const { fastPath, holdMs } of setups) {
  t.test(`two gateway processes, fast path ${fastPath}, hold ${holdMs} ms`, async (t) => {
    const nats = await startNats();
    t.teardown(() => nats.stop());
    const env = testEnv(nats.url, {
      GATEWAY_LOCAL_FASTPATH: String(fastPath),
      GATEWAY_RELAY_HOLD_MS: String(holdMs),
    });
    const [, gw1, gw2] = await Promise.all([
      startService(t, 'room', env),
      startService(t, 'gateway', env),
      startService(t, 'gateway', env),
    ]);
    const sys = await startTestTools(t, nats.url);
    await sys.createRoom('m', 'host');

    // Every signaling frame that crosses NATS, seen from the side.
    const onNats: string[] = [];
    sys.bus.subscribe(subjects.roomSignal('m', '*'), (msg) => {
      const f = decode<{ type: string; from: string }>(msg.data);
      onNats.push(`${f.type} ${f.from}`);
    });
    await sys.bus.flush();

    const where = { host: gw1, v1: gw1, v2: gw2, v3: gw2 } as const;
    const names = Object.keys(where) as (keyof typeof where)[];
    const c: Record<string, Client> = {};
    const peer: Record<string, string> = {};
    const joinSeq: Record<string, number> = {};
    const peersSeen: Record<string, string[]> = {};
    for (const name of names) {
      c[name] = await sys.connect(where[name].url, name, { view: ['m'] });
      const j = await c[name].call({
        type: 'join',
        room: 'm',
        role: name === 'host' ? 'publisher' : 'viewer',
      });
      t.equal(j.type, 'joined', `${name} joins on ${where[name] === gw1 ? 'gw1' : 'gw2'}`);
      peer[name] = String(j.peerId);
      joinSeq[name] = Number(j.seq);
      peersSeen[name] = (j.peers as { userId: string }[]).map((p) => p.userId);
    }
    const announced = peersSeen.v2?.includes('v1') ?? false;
    for (const name of names) {
      t.same(
        peersSeen[name],
        announced ? names.slice(0, names.indexOf(name)) : name === 'host' ? [] : ['host'],
        `${name} is told of the ${announced ? 'members' : 'stage'} before it, across gateways`,
      );
      const later = announced ? names.slice(names.indexOf(name) + 1) : [];
      for (const other of later)
        await c[name]!.next((f) => f.type === 'peer_joined' && f.peer.userId === other);
    }

    // The stage and each audience member, both ways: offer and candidate, answer back.
    const cand = (from: string) => ({
      candidate: `candidate:${from} 1 udp 1 127.0.0.1 9 typ host`,
      sdpMid: '0',
    });
    const viewers = names.filter((n) => n !== 'host');
    const pairs = viewers.flatMap((v) => [
      ['host', v],
      [v, 'host'],
    ]) as [string, string][];
    for (const [a, b] of pairs) {
      c[a]!.send({ type: 'offer', room: 'm', to: peer[b], sdp: `${a}->${b}` });
      c[a]!.send({ type: 'candidate', room: 'm', to: peer[b], candidate: cand(a) });
      c[b]!.send({ type: 'answer', room: 'm', to: peer[a], sdp: `${b}->${a}` });
    }
    const relayed = (n: string) =>
      c[n]!.frames.filter(
        (f) => f.type === 'offer' || f.type === 'answer' || f.type === 'candidate',
      );
    const expectedFrames = (n: string) => (n === 'host' ? 3 * viewers.length : 3);
    for (const b of names) {
      await until(
        () => relayed(b).length >= expectedFrames(b),
        `${b} gets ${expectedFrames(b)} frames`,
      );
      for (const a of b === 'host' ? viewers : ['host']) {
        const got = relayed(b).filter((f) => f.from === peer[a]);
        t.same(
          got
            .map((f) => (f.type === 'candidate' ? f.candidate : `${f.type} ${String(f.sdp)}`))
            .sort(),
          [cand(a), `answer ${a}->${b}`, `offer ${a}->${b}`].sort(),
          `${a} -> ${b}: offer, answer and candidate, from ${a}'s peer id`,
        );
      }
    }
    await Promise.all(names.map((n) => c[n]!.call({ type: 'ping' })));
    await sys.bus.flush();
    for (const name of names) {
      t.equal(
        relayed(name).length,
        expectedFrames(name),
        `${name} got exactly its ${expectedFrames(name)} frames, no duplicates`,
      );
      t.same(c[name]!.seen('error'), [], `${name} was refused nothing`);
    }
    // 18 frames in all; 6 of them between host and v1, both on gw1.
    t.equal(
      onNats.length,
      fastPath ? 12 : 18,
      fastPath ? 'only cross-gateway frames use NATS' : 'every frame uses NATS',
    );
    // The audience addresses the stage only, on its own gateway or across.
    for (const [from, to] of [
      ['v1', 'v2'],
      ['v2', 'v3'],
      ['v3', 'v1'],
    ] as const) {
      const r = await c[from]!.call({ type: 'offer', room: 'm', to: peer[to], sdp: 'v=0' });
      t.equal(r.code, 'PEER_NOT_FOUND', `${from} may not address ${to}: both are audience`);
    }

    // Room-wide news crosses gateways: status, kick, leave, end.
    /** Room commands as the host, the room's owner. */
    const asHost = async (
      cmd: { type: 'set_status'; status: 'live' | 'ended' } | { type: 'kick'; peerId: string },
    ) => {
      const full =
        cmd.type === 'kick'
          ? { ...cmd, reason: 'test', userId: 'host', perms: none }
          : { ...cmd, userId: 'host', perms: none };
      t.ok((await sys.command('m', full)).ok, `the host: ${cmd.type}`);
    };
    await asHost({ type: 'set_status', status: 'live' });
    for (const name of names) t.equal((await c[name]!.nextOf('room_status')).status, 'live');
    await asHost({ type: 'kick', peerId: peer.v3! });
    t.equal((await c.v3!.nextOf('kicked')).room, 'm', 'v3 (gw2) is kicked');
    t.equal((await c.v2!.call({ type: 'leave', room: 'm' })).type, 'left', 'v2 (gw2) leaves');
    if (announced)
      for (const name of ['host', 'v1'] as const)
        await c[name]!.next((f) => f.type === 'peer_left' && f.peerId === peer.v2);
    // The stage may name any peer id (the audience is never announced); a frame to
    // a member gone from the room reaches nobody.
    c.host!.send({ type: 'offer', room: 'm', to: peer.v2, sdp: 'gone' });
    await c.host!.call({ type: 'ping' });
    await c.v2!.call({ type: 'ping' });
    t.same(c.host!.seen('error'), [], 'the host is not refused');
    t.notOk(
      c.v2!.frames.some((f) => f.sdp === 'gone'),
      'and v2, no longer a member, gets nothing',
    );
    c.host!.send({ type: 'offer', room: 'm', to: peer.v1, sdp: 'still here' });
    t.equal(
      (await c.v1!.next((f) => f.sdp === 'still here')).from,
      peer.host,
      'the rest still relay',
    );
    await asHost({ type: 'set_status', status: 'ended' });
    for (const name of ['host', 'v1'] as const) {
      t.equal(
        (await c[name]!.next((f) => f.type === 'room_status' && f.status === 'ended')).room,
        'm',
      );
    }

    // What each member saw of the room, wherever it was: the host's log from its
    // own join on, without what concerns itself, until it left.
    const who = (peerId: unknown) => names.find((n) => peer[n] === peerId) ?? String(peerId);
    const log = (n: string) => news(c[n]!, who);
    t.same(
      log('host').map((e) => e.text),
      announced
        ? [
            'joined v1',
            'joined v2',
            'joined v3',
            'status live',
            'left v3 kicked',
            'left v2 left',
            'status ended',
          ]
        : ['status live', 'status ended'],
      'the host (gw1) saw every step after its join, in seq order',
    );
    const seqOf = (text: string) => log('host').find((e) => e.text === text)?.seq ?? Infinity;
    const departed: Record<string, number> = {
      v1: Infinity,
      // Unannounced, their departures are in no log: they were gone before the end.
      v2: seqOf(announced ? 'left v2 left' : 'status ended'),
      v3: seqOf(announced ? 'left v3 kicked' : 'status ended'),
    };
    for (const n of ['v1', 'v2', 'v3']) {
      const expected = log('host')
        .filter((e) => e.seq > joinSeq[n]! && e.seq < departed[n]! && !e.text.includes(n))
        .map((e) => `${e.seq} ${e.text}`);
      t.same(
        log(n).map((e) => `${e.seq} ${e.text}`),
        expected,
        `${n} (${where[n as keyof typeof where] === gw1 ? 'gw1' : 'gw2'}) saw the same`,
      );
    }
  });
}
