/**
 * Dropped clients and resume over real sockets: same peer id and membership
 * within the grace period (on the same gateway or another), missed frames
 * replayed after `resumed`, a clean `peer_left` (timeout) after it; and joins or
 * resumes cut short (socket gone, room too slow) leave no ghost member behind.
 */
import t, { type Test } from 'tap';
import type { Client } from '../../../test/helpers/client.js';
import { decode } from '#shared/runtime/bus.js';
import type { RoomBroadcast } from '#shared/room/room.commands.js';
import { subjects } from '#shared/wire/subjects.js';
import { encodeSignalFrame } from '#shared/wire/signal.frame.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';
import { startSystem, startTestTools, testEnv, type System } from '../../../test/helpers/system.js';
import { memberOf } from '#shared/room/room.state.js';

const GRACE_MS = 2000;

/** A client of `sub` joined to `room`, with what `joined` said. */
async function joined(sys: System, sub: string, room: string, role = 'viewer', url = sys.url) {
  const c = await sys.client(sub, { publish: [room] }, url);
  const j = await c.call({ type: 'join', room, role });
  if (j.type !== 'joined') throw new Error(`${sub}: ${JSON.stringify(j)}`);
  const peers = (j.peers as { userId: string }[]).map((p) => p.userId);
  return { c, peerId: j.peerId, resume: j.resume, peers };
}

/** What `c` received after its `authenticated`, as `type` or `type:detail`. */
function story(c: Client): string[] {
  return c.frames
    .filter((f) => f.type !== 'authenticated')
    .map((f) => {
      if (f.type === 'offer' || f.type === 'answer') return `${f.type}:${f.sdp}`;
      if (f.type === 'candidate') return `candidate:${f.from}`;
      if (f.type === 'peer_joined') return `peer_joined:${f.peer.userId}`;
      return f.type;
    });
}

/** Waits until `c` sees `peerId` leave `room` for a timeout. */
/**
 * An audience member's timeout is no news to clients (the audience is not announced):
 * the room itself says when its place is given up.
 */
async function timesOut(t: Test, sys: System, room: string, peerId: string): Promise<boolean> {
  const gone = () => memberOf(sys.room.stateOf(room), peerId) === undefined;
  for (let i = 0; i < (GRACE_MS + 3000) / 20 && !gone(); i++)
    await new Promise((r) => setTimeout(r, 20));
  t.ok(gone(), `${peerId} timed out of ${room}`);
  return gone();
}

t.test('resume', async (t) => {
  const sys = await startSystem(t, { ROOM_RESUME_GRACE_MS: String(GRACE_MS) });
  const second = await sys.addGateway();

  t.test('within the grace: same peer id, membership, and what was missed', async (t) => {
    await sys.createRoom('r1', 'alice');
    const alice = await joined(sys, 'alice', 'r1', 'publisher');
    const bob = await joined(sys, 'bob', 'r1');
    bob.c.drop();
    // While bob is away: a frame through the local fast path, a newcomer on the
    // other gateway, and a frame of a stage member elsewhere through NATS.
    alice.c.send({ type: 'offer', room: 'r1', to: bob.peerId, sdp: 'while away 1' });
    const carol = await joined(sys, 'carol', 'r1', 'viewer', second.url);
    /** A signal to bob from a stage member on some other gateway. */
    const fromElsewhere = (sdp: string) =>
      sys.bus.publishBytes(
        subjects.roomSignal('r1', bob.peerId),
        Buffer.from(encodeSignalFrame({ type: 'offer', room: 'r1', to: bob.peerId, sdp }, 'x')),
      );
    fromElsewhere('while away 2');
    const refused = await carol.c.call({ type: 'offer', room: 'r1', to: bob.peerId, sdp: 'no' });
    t.equal(refused.code, 'PEER_NOT_FOUND', 'carol, audience, may not address bob, audience');
    const cand = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' };
    alice.c.send({ type: 'candidate', room: 'r1', to: bob.peerId, candidate: cand });
    await Promise.all([alice.c.call({ type: 'ping' }), carol.c.call({ type: 'ping' })]);
    t.same(alice.c.seen('error'), [], 'bob is still a member while away: no PEER_NOT_FOUND');

    const back = await sys.client('bob');
    const r = await back.call({ type: 'resume', room: 'r1', resume: bob.resume });
    t.equal(r.type, 'resumed');
    t.equal(r.peerId, bob.peerId, 'the same peer id');
    t.equal(r.role, 'viewer', 'the same role');
    // Whether the room announces its audience (before the stage/audience model it did).
    const announced = carol.peers.includes('bob');
    t.same(
      (r.peers as { userId: string }[]).map((p) => p.userId).sort(),
      announced ? ['alice', 'carol'] : ['alice'],
      'the room as it is now',
    );
    t.match(r.resume, /^[\w-]+\.[\w-]+$/, 'a resume token for next time');
    await back.call({ type: 'ping', id: 'sync' });
    const seen = story(back);
    t.equal(seen[0], 'resumed', '`resumed` first');
    t.same(
      seen
        .slice(1, -1)
        .filter((f) => f !== 'room_stats')
        .sort(),
      ['candidate:' + alice.peerId, 'offer:while away 1', 'offer:while away 2'].sort(),
      'then what was missed, and nothing else: carol is in `peers`, not replayed as peer_joined',
    );
    // The count as it stands comes on attach (a later change may add one more).
    t.ok(seen.includes('room_stats'), 'and the audience count as it stands');
    t.ok(
      seen.indexOf('offer:while away 1') < seen.indexOf(`candidate:${alice.peerId}`),
      "alice's frames in the order she sent them",
    );
    t.equal(seen.at(-1), 'pong');
    const missed = back.seen('candidate')[0];
    t.same(missed?.candidate, cand, 'the candidate intact');

    back.send({ type: 'answer', room: 'r1', to: alice.peerId, sdp: 'back' });
    t.equal((await alice.c.next((f) => f.type === 'answer')).from, bob.peerId, 'it relays again');
    fromElsewhere('welcome');
    t.equal((await back.next((f) => f.type === 'offer')).sdp, 'welcome', 'and is addressed again');
    for (const c of [alice.c, carol.c]) {
      t.notOk(
        c.frames.some((f) => f.type === 'peer_left'),
        'nobody saw bob leave',
      );
    }
  });

  t.test('after the grace: peer_left (timeout), then RESUME_FAILED', async (t) => {
    await sys.createRoom('r2', 'alice');
    const alice = await joined(sys, 'alice', 'r2', 'publisher');
    const far = await joined(sys, 'far', 'r2', 'viewer', second.url);
    const dave = await joined(sys, 'dave', 'r2');
    dave.c.drop();
    // dave is audience: no client hears of its timeout (the gateway that held it lets it go).
    const timedOut = await timesOut(t, sys, 'r2', dave.peerId);
    for (const c of [alice.c, far.c])
      t.notOk(
        c.frames.some((f) => f.type === 'peer_left'),
        'nobody is told of an audience timeout',
      );
    const back = await sys.client('dave');
    const r = await back.call({ type: 'resume', room: 'r2', resume: dave.resume });
    t.same([r.type, r.code], ['error', 'RESUME_FAILED']);
    if (timedOut) {
      // The stage may name any peer id (the audience is not announced): nothing refuses
      // it, and nothing reaches dave's new connection.
      alice.c.send({ type: 'offer', room: 'r2', to: dave.peerId, sdp: 'gone' });
      await alice.c.call({ type: 'ping' });
      await back.call({ type: 'ping' });
      t.same(alice.c.seen('error'), [], 'the publisher is not refused');
      t.notOk(
        back.frames.some((f) => f.sdp === 'gone'),
        'and dave, no longer a member, gets nothing',
      );
    }
  });

  t.test('a resume token fails for another user, and for made-up tokens', async (t) => {
    await sys.createRoom('r3', 'alice');
    const erin = await joined(sys, 'erin', 'r3');
    erin.c.drop();
    const thief = await sys.client('mallory');
    const [peer] = erin.resume.split('.');
    for (const [name, token] of [
      ["erin's token", erin.resume],
      ['no secret', String(peer)],
      ['a wrong secret', `${String(peer)}.guessed`],
      ['an unknown peer', 'nobody.secret'],
      ['a dotted peer id', 'a.b.c'],
    ] as const) {
      const r = await thief.call({ type: 'resume', room: 'r3', resume: token });
      t.same([r.type, r.code], ['error', 'RESUME_FAILED'], `mallory with ${name}`);
    }
    const r = await (
      await sys.client('erin')
    ).call({ type: 'resume', room: 'r3', resume: erin.resume });
    t.same([r.type, r.peerId], ['resumed', erin.peerId], 'erin herself still can');
  });

  t.test('resume on another gateway: same peer id, addressable there', async (t) => {
    await sys.createRoom('r4', 'alice');
    const alice = await joined(sys, 'alice', 'r4', 'publisher');
    const frank = await joined(sys, 'frank', 'r4');
    frank.c.drop();
    const back = await sys.client('frank', undefined, second.url);
    const r = await back.call({ type: 'resume', room: 'r4', resume: frank.resume });
    t.same([r.type, r.peerId], ['resumed', frank.peerId]);
    // The first gateway let go of its stale copy: alice's frames go to the second.
    alice.c.send({ type: 'offer', room: 'r4', to: frank.peerId, sdp: 'found you' });
    t.equal((await back.next((f) => f.type === 'offer')).from, alice.peerId);
    back.send({ type: 'answer', room: 'r4', to: alice.peerId, sdp: 'here' });
    t.equal((await alice.c.next((f) => f.type === 'answer')).from, frank.peerId);
    t.notOk(
      alice.c.frames.some((f) => f.type === 'peer_left'),
      'frank never left',
    );
  });

  t.test('resume while the old connection still looks alive: the old one is kicked', async (t) => {
    await sys.createRoom('r5', 'alice');
    const alice = await joined(sys, 'alice', 'r5', 'publisher');
    const gina = await joined(sys, 'gina', 'r5');
    const hank = await joined(sys, 'hank', 'r5');
    for (const [who, url] of [
      [gina, sys.url],
      [hank, second.url],
    ] as const) {
      const twin = await sys.client(who === gina ? 'gina' : 'hank', undefined, url);
      const r = await twin.call({ type: 'resume', room: 'r5', resume: who.resume });
      t.same([r.type, r.peerId], ['resumed', who.peerId], 'the new connection has it');
      const k = await who.c.nextOf('kicked');
      t.match(k, { room: 'r5', reason: /another connection/ }, 'the old one is told');
      alice.c.send({ type: 'offer', room: 'r5', to: who.peerId, sdp: 'which one?' });
      t.equal(
        (await twin.next((f) => f.type === 'offer')).sdp,
        'which one?',
        'frames go to the new',
      );
      const old = await who.c.call({ type: 'offer', room: 'r5', to: alice.peerId, sdp: 'v=0' });
      t.equal(old.code, 'NOT_IN_ROOM', 'the old one is no member any more');
    }
  });
});

t.test('joins and resumes cut short leave no ghost', async (t) => {
  const sys = await startSystem(t, { ROOM_RESUME_GRACE_MS: String(GRACE_MS) });

  t.test('the socket closes while the join is under way', async (t) => {
    await sys.createRoom('g1', 'owner');
    const alice = await joined(sys, 'owner', 'g1');
    const ghost = await sys.client('ghost', { publish: ['g1'] });
    ghost.send({ type: 'join', room: 'g1', role: 'publisher' });
    ghost.drop();
    const pj = await alice.c.nextOf('peer_joined');
    t.equal(pj.peer.userId, 'ghost', 'the room admitted it');
    const pl = await alice.c.nextOf('peer_left');
    t.same([pl.peerId, pl.reason], [pj.peer.peerId, 'left'], 'and the gateway gave the place back');
    const next = await sys.client('next', { publish: ['g1'] });
    t.equal(
      (await next.call({ type: 'join', room: 'g1', role: 'publisher' })).type,
      'joined',
      'the publisher slot is free',
    );
  });

  t.test('the socket closes while the resume is under way', async (t) => {
    await sys.createRoom('g2', 'owner');
    const alice = await joined(sys, 'owner', 'g2');
    const bob = await joined(sys, 'bob', 'g2');
    bob.c.drop();
    const again = await sys.client('bob');
    const resumed = new Promise<void>((resolve) => {
      const sub = sys.bus.subscribe(subjects.roomBroadcast('g2'), (msg) => {
        if (decode<RoomBroadcast>(msg.data).type !== 'peer_resumed') return;
        sub.unsubscribe();
        resolve();
      });
    });
    await sys.bus.flush();
    again.send({ type: 'resume', room: 'g2', resume: bob.resume });
    again.drop();
    // The room moves bob onto the dead connection: the gateway must tell it that
    // this one is gone too, so that bob is away (its grace running), not "connected".
    await resumed;
    const away = () => memberOf(sys.room.stateOf('g2'), bob.peerId)?.awayUntil ?? null;
    for (let i = 0; i < 100 && away() === null; i++) await new Promise((r) => setTimeout(r, 20));
    t.not(away(), null, 'the room counts bob as away after the resume');
    await timesOut(t, sys, 'g2', bob.peerId);
    t.ok(alice, 'the owner stays');
  });
});

t.test('a room that answers too late leaves no ghost', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const env = { ROOM_RESUME_GRACE_MS: String(GRACE_MS), NATS_REQUEST_TIMEOUT_MS: '300' };
  const room = await startService(t, 'room', testEnv(nats.url, env));
  const gw = await startService(t, 'gateway', testEnv(nats.url, env));
  const sys = await startTestTools(t, nats.url);
  /** Runs `work` while the room service is paused (SIGSTOP): its commands wait, unanswered. */
  const whilePaused = async <T>(work: () => Promise<T>): Promise<T> => {
    room.child.kill('SIGSTOP');
    try {
      return await work();
    } finally {
      room.child.kill('SIGCONT');
    }
  };
  await sys.createRoom('late', 'owner');
  const watcher = await sys.connect(gw.url, 'watcher');
  await watcher.call({ type: 'join', room: 'late', role: 'viewer' });

  t.test('a join answered too late is taken back', async (t) => {
    const slow = await sys.connect(gw.url, 'slow', { publish: ['late'] });
    const r = await whilePaused(() => slow.call({ type: 'join', room: 'late', role: 'publisher' }));
    t.same([r.type, r.code], ['error', 'UNAVAILABLE'], 'the client is told to try again');
    const pj = await watcher.nextOf('peer_joined');
    t.equal(pj.peer.userId, 'slow', 'the room did admit it, late');
    const pl = await watcher.nextOf('peer_left');
    t.same([pl.peerId, pl.reason], [pj.peer.peerId, 'left'], 'and the gateway took it back');
    const next = await sys.connect(gw.url, 'next', { publish: ['late'] });
    const j = await next.call({ type: 'join', room: 'late', role: 'publisher' });
    t.equal(j.type, 'joined', 'no ghost holds the publisher slot');
    await next.call({ type: 'leave', room: 'late' });
    await watcher.nextOf('peer_left');
  });

  t.test('a resume answered too late still runs out the grace', async (t) => {
    const bob = await sys.connect(gw.url, 'bob');
    const bj = await bob.call({ type: 'join', room: 'late', role: 'viewer' });
    t.equal(bj.type, 'joined');
    bob.drop();
    const again = await sys.connect(gw.url, 'bob');
    const r = await whilePaused(() =>
      again.call({ type: 'resume', room: 'late', resume: bj.resume }),
    );
    t.same([r.type, r.code], ['error', 'UNAVAILABLE']);
    // The room moved bob onto `again` after the gateway gave up on it: unless told
    // otherwise, bob would stay a member "connected" on a connection that does not
    // hold it, forever. Told, bob is away and the grace runs out (the room checks
    // the grace itself on resume, whatever its timers do).
    await new Promise((r) => setTimeout(r, GRACE_MS + 1000));
    const late = await sys.connect(gw.url, 'bob');
    const r2 = await late.call({ type: 'resume', room: 'late', resume: bj.resume });
    t.same([r2.type, r2.code], ['error', 'RESUME_FAILED'], 'the grace ran out');
  });
});
