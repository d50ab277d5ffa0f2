/**
 * The audience over real sockets, end to end: a real room service and two gateway
 * processes on ONE port (as `npm start` runs them). Viewers are never announced to
 * each other, see the audience as `room_stats`, and one of them is brought on stage
 * (raise_hand → invite) and then negotiates with the publisher like any stage member.
 */
import t from 'tap';
import type { Client, Frame } from '../../../test/helpers/client.js';
import { startNats } from '../../../test/helpers/nats.js';
import { freePort } from '../../../test/helpers/net.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

const ROOM = 'aud';
const VIEWERS = 20;

/** The peer id a `joined` reply gives. */
const peerIdOf = (f: Frame): string => (f.type === 'joined' ? f.peerId : '');

t.test('an audience on two gateway processes: counted, not announced, promotable', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const port = await freePort();
  const env = testEnv(nats.url, { GATEWAY_PORT: String(port), ROOM_STATS_INTERVAL_MS: '100' });
  await Promise.all([
    startService(t, 'room', env),
    startService(t, 'gateway', { ...env, GATEWAY_ID: 'aud-1' }),
    startService(t, 'gateway', { ...env, GATEWAY_ID: 'aud-2' }),
  ]);
  const url = `ws://127.0.0.1:${port}/signaling`;
  const sys = await startTestTools(t, nats.url);
  await sys.createRoom(ROOM, 'host', { maxViewers: 100 });

  const host = await sys.connect(url, 'host');
  const hj = await host.call({ type: 'join', room: ROOM, role: 'publisher' });
  t.equal(hj.type, 'joined');
  const hostPeer = peerIdOf(hj);

  const viewers: { c: Client; peerId: string }[] = [];
  for (let i = 0; i < VIEWERS; i++) {
    const c = await sys.connect(url, `v${i}`);
    const j = await c.call({ type: 'join', room: ROOM, role: 'viewer' });
    t.same(
      j.type === 'joined' ? j.peers : [],
      [{ peerId: hostPeer, userId: 'host', role: 'publisher' }],
      `v${i}: joined lists the stage, not the audience`,
    );
    viewers.push({ c, peerId: peerIdOf(j) });
    if (i === 0) {
      const first = await c.next((f) => f.type === 'room_stats', 5000);
      t.match(first, { viewers: 1 }, 'a joining viewer is told the count at once');
    }
  }
  const [v0, v1, v2] = viewers as [(typeof viewers)[0], (typeof viewers)[0], (typeof viewers)[0]];

  // The count arrives as room_stats, coalesced: far fewer frames than joins.
  await host.next((f) => f.type === 'room_stats' && f.viewers === VIEWERS, 10_000);
  await v1.c.next((f) => f.type === 'room_stats' && f.viewers === VIEWERS, 10_000);
  const stats = host.seen('room_stats').length;
  t.ok(stats >= 1 && stats < VIEWERS, `room_stats coalesced (${stats} for ${VIEWERS} joins)`);
  t.same(host.seen('peer_joined'), [], 'the publisher hears of no viewer');
  for (const [i, v] of viewers.entries())
    t.same(v.c.seen('peer_joined'), [], `v${i} hears of no other viewer`);

  // Audience → audience is refused; audience → stage goes through (across processes).
  const refused = await v1.c.call({ type: 'offer', room: ROOM, to: v2.peerId, sdp: 'v=0 x' });
  t.same([refused.type, refused.code], ['error', 'PEER_NOT_FOUND'], 'no viewer-to-viewer');

  // On stage: consent, then permission.
  const raised = await v0.c.call({ type: 'raise_hand', room: ROOM });
  t.same([raised.type, raised.action], ['stage_ok', 'raise_hand']);
  const hand = await host.nextOf('hand_raised');
  t.equal(hand.peer.peerId, v0.peerId, 'the stage sees the raised hand');
  const early = await host.call({ type: 'invite', room: ROOM, peer: v1.peerId });
  t.same([early.type, early.code], ['error', 'HAND_NOT_RAISED'], 'no invitation without a hand');
  const stranger = await v2.c.call({ type: 'invite', room: ROOM, peer: v0.peerId });
  t.same([stranger.type, stranger.code], ['error', 'NOT_ALLOWED'], 'a viewer does not invite');
  const invited = await host.call({ type: 'invite', room: ROOM, peer: v0.peerId });
  t.same([invited.type, invited.action], ['stage_ok', 'invite']);
  const me = await v0.c.nextOf('peer_joined');
  t.same(me.peer, { peerId: v0.peerId, userId: 'v0', role: 'cohost' }, 'v0 sees itself on stage');
  const seen = await v1.c.nextOf('peer_joined');
  t.equal(seen.peer.peerId, v0.peerId, 'the audience sees the stage grow');
  await v1.c.next((f) => f.type === 'room_stats' && f.viewers === VIEWERS - 1, 10_000);
  t.same(
    viewers.slice(1).flatMap((v) => v.c.seen('hand_raised')),
    [],
    'hands are stage-only news',
  );

  // A co-host negotiates with the publisher; the audience may now address it too.
  v0.c.send({ type: 'offer', room: ROOM, to: hostPeer, sdp: 'v=0 cohost' });
  const offer = await host.next((f) => f.type === 'offer' && f.from === v0.peerId);
  t.equal(offer.sdp, 'v=0 cohost');
  host.send({ type: 'answer', room: ROOM, to: v0.peerId, sdp: 'v=0 host' });
  t.equal((await v0.c.next((f) => f.type === 'answer')).sdp, 'v=0 host');
  v2.c.send({ type: 'offer', room: ROOM, to: v0.peerId, sdp: 'v=0 to the cohost' });
  t.equal(
    (await v0.c.next((f) => f.type === 'offer' && f.from === v2.peerId)).sdp,
    'v=0 to the cohost',
  );

  // Back to the audience: still a member, announced as demoted.
  const down = await v0.c.call({ type: 'demote', room: ROOM, peer: v0.peerId });
  t.same([down.type, down.action], ['stage_ok', 'demote']);
  const left = await v1.c.nextOf('peer_left');
  t.same([left.peerId, left.reason], [v0.peerId, 'demoted']);
  await v1.c.next((f) => f.type === 'room_stats' && f.viewers === VIEWERS, 10_000);
  const bye = await v0.c.call({ type: 'leave', room: ROOM });
  t.equal(bye.type, 'left', 'and it can leave the room as a viewer');
});
