import t from 'tap';
import { RoomActor } from './room.actor.js';
import { T0, created, join, none } from './test/fixtures.js';
import { memberOf, peersOf } from '#shared/room/room.state.js';
import type { RoomPerms } from '#shared/auth/grants.js';

const STAGE_MAX = 3;
const hand = (type: 'raise_hand' | 'lower_hand', peerId: string, userId: string) =>
  ({ type, peerId, userId, at: T0 }) as const;
const stage = (
  type: 'invite' | 'demote',
  peerId: string,
  userId: string,
  perms: RoomPerms = none,
) => ({ type, peerId, userId, perms, stageMax: STAGE_MAX, at: T0 }) as const;

/** A room with the owner publishing (p0) and viewers v1..v4 (users u1..u4). */
function room() {
  const r = RoomActor.create(created({ maxViewers: 4 }));
  r.decide(join('p0', 'owner', 'publisher'));
  for (const i of [1, 2, 3, 4]) r.decide(join(`v${i}`, `u${i}`, 'viewer'));
  return r;
}

t.test('stage commands: who may do what (table)', async (t) => {
  type Cmd = ReturnType<typeof hand> | ReturnType<typeof stage>;
  const cases: { name: string; before?: Cmd[]; cmd: Cmd; refused?: string; records?: string[] }[] =
    [
      {
        name: 'a viewer raises its hand',
        cmd: hand('raise_hand', 'v1', 'u1'),
        records: ['hand_raised'],
      },
      {
        name: 'raising twice changes nothing',
        before: [hand('raise_hand', 'v1', 'u1')],
        cmd: hand('raise_hand', 'v1', 'u1'),
        records: [],
      },
      {
        name: 'someone else cannot raise my hand',
        cmd: hand('raise_hand', 'v1', 'u2'),
        refused: 'NOT_IN_ROOM',
      },
      {
        name: 'the publisher has no hand to raise',
        cmd: hand('raise_hand', 'p0', 'owner'),
        refused: 'NOT_ON_STAGE',
      },
      {
        name: 'lowering a raised hand',
        before: [hand('raise_hand', 'v1', 'u1')],
        cmd: hand('lower_hand', 'v1', 'u1'),
        records: ['hand_lowered'],
      },
      {
        name: 'lowering a hand that is down changes nothing',
        cmd: hand('lower_hand', 'v1', 'u1'),
        records: [],
      },
      {
        name: 'the owner invites a raised hand',
        before: [hand('raise_hand', 'v1', 'u1')],
        cmd: stage('invite', 'v1', 'owner'),
        records: ['member_promoted'],
      },
      {
        name: 'no invitation without a raised hand',
        cmd: stage('invite', 'v1', 'owner'),
        refused: 'HAND_NOT_RAISED',
      },
      {
        name: 'a viewer cannot invite',
        before: [hand('raise_hand', 'v1', 'u1')],
        cmd: stage('invite', 'v1', 'u2'),
        refused: 'NOT_ALLOWED',
      },
      {
        name: 'an admin invites',
        before: [hand('raise_hand', 'v1', 'u1')],
        cmd: stage('invite', 'v1', 'adm', { ...none, admin: true }),
        records: ['member_promoted'],
      },
      { name: 'inviting nobody', cmd: stage('invite', 'zz', 'owner'), refused: 'PEER_NOT_FOUND' },
      {
        name: 'the stage keeps its cap, the publisher included',
        before: [
          hand('raise_hand', 'v1', 'u1'),
          hand('raise_hand', 'v2', 'u2'),
          hand('raise_hand', 'v3', 'u3'),
          stage('invite', 'v1', 'owner'),
          stage('invite', 'v2', 'owner'),
        ],
        cmd: stage('invite', 'v3', 'owner'),
        refused: 'STAGE_FULL',
      },
      {
        name: 'a co-host steps down',
        before: [hand('raise_hand', 'v1', 'u1'), stage('invite', 'v1', 'owner')],
        cmd: stage('demote', 'v1', 'u1'),
        records: ['member_demoted'],
      },
      {
        name: 'the owner demotes a co-host',
        before: [hand('raise_hand', 'v1', 'u1'), stage('invite', 'v1', 'owner')],
        cmd: stage('demote', 'v1', 'owner'),
        records: ['member_demoted'],
      },
      {
        name: 'a viewer cannot demote a co-host',
        before: [hand('raise_hand', 'v1', 'u1'), stage('invite', 'v1', 'owner')],
        cmd: stage('demote', 'v1', 'u2'),
        refused: 'NOT_ALLOWED',
      },
      {
        name: 'the publisher is never demoted',
        cmd: stage('demote', 'p0', 'owner'),
        refused: 'NOT_ON_STAGE',
      },
      {
        name: 'a viewer is not on stage to leave it',
        cmd: stage('demote', 'v1', 'owner'),
        refused: 'NOT_ON_STAGE',
      },
    ];
  for (const c of cases) {
    const r = room();
    for (const b of c.before ?? []) {
      const d = r.decide(b);
      t.equal(d.refused, undefined, `${c.name}: setup ${b.type} accepted`);
    }
    const d = r.decide(c.cmd);
    if (c.refused !== undefined) {
      t.equal(d.refused?.code, c.refused, `${c.name}: refused ${c.refused}`);
      t.same(d.recorded, [], `${c.name}: nothing recorded`);
    } else {
      t.equal(d.refused, undefined, `${c.name}: accepted`);
      t.same(
        d.recorded.map((e) => e.type),
        c.records,
        `${c.name}: records`,
      );
    }
  }
});

t.test('promotion: on stage, announced to all; the audience seat is freed', async (t) => {
  const r = room();
  t.equal(r.state.viewers, 4);
  t.same(
    peersOf(r.state).map((p) => p.peerId),
    ['p0'],
    'the stage is the publisher',
  );
  r.decide(hand('raise_hand', 'v2', 'u2'));
  const d = r.decide(stage('invite', 'v2', 'owner'));
  t.same(d.broadcasts, [
    {
      type: 'peer_joined',
      room: 'r1',
      peer: { peerId: 'v2', userId: 'u2', role: 'cohost' },
      seq: r.state.seq,
    },
  ]);
  t.equal(memberOf(r.state, 'v2')?.role, 'cohost');
  t.equal(r.state.viewers, 3, 'a co-host takes no audience seat');
  t.same(
    peersOf(r.state).map((p) => p.peerId),
    ['p0', 'v2'],
  );
  const full = r.decide(join('v5', 'u5', 'viewer'));
  t.equal(full.refused, undefined, 'the freed seat is taken');
  const back = r.decide(stage('demote', 'v2', 'u2'));
  t.equal(back.refused?.code, 'ROOM_FULL', 'no seat to step down to');
  r.decide({ type: 'leave', peerId: 'v5', userId: 'u5', at: T0 });
  const down = r.decide(stage('demote', 'v2', 'u2'));
  t.same(
    down.broadcasts.map((b) => b.type === 'peer_left' && b.reason),
    ['demoted'],
  );
  t.equal(memberOf(r.state, 'v2')?.role, 'viewer', 'back in the audience, still a member');
});

t.test('the audience is never announced; the stage is', async (t) => {
  const r = RoomActor.create(created({ maxViewers: 10 }));
  const pub = r.decide(join('p0', 'owner', 'publisher'));
  t.same(
    pub.broadcasts.map((b) => b.type),
    ['peer_joined'],
  );
  const v = r.decide(join('v1', 'u1', 'viewer'));
  t.same(v.broadcasts, [], 'an audience join is no news');
  const left = r.decide({ type: 'leave', peerId: 'v1', userId: 'u1', at: T0 });
  t.same(left.broadcasts, [], 'nor is its leave');
  r.decide(join('v2', 'u2', 'viewer'));
  const kicked = r.decide({
    type: 'kick',
    peerId: 'v2',
    reason: 'spam',
    userId: 'owner',
    perms: none,
    at: T0,
  });
  t.same(
    kicked.broadcasts.map((b) => b.type === 'peer_left' && b.reason),
    ['kicked'],
    "a kick is broadcast: the member's gateway must act on it",
  );
});

t.test('viewers: each user once, however it watches; each anonymous player', async (t) => {
  const r = RoomActor.create(created({ maxViewers: 2 }));
  const play = (clientId: string, userId: string | null) =>
    r.decide({ type: 'stream_play', clientId, serviceId: 's1', userId, perms: none, at: T0 });
  r.decide(join('v1', 'u1', 'viewer'));
  play('c1', 'u1');
  t.equal(r.state.viewers, 1, 'u1 over WebSocket and FLV: one viewer');
  play('c2', null);
  t.equal(r.state.viewers, 2, 'an anonymous player is one more');
  t.equal(play('c3', 'u1').refused, undefined, 'a full room still takes a user already counted');
  t.equal(r.state.viewers, 2);
  t.equal(play('c4', 'u4').refused?.code, 'ROOM_FULL', 'but no new one');
  r.decide({ type: 'leave', peerId: 'v1', userId: 'u1', at: T0 });
  t.equal(r.state.viewers, 2, "u1's two players: still u1, once");
  t.equal(r.state.peakViewers, 2);
  r.decide({ type: 'stream_stop', clientId: 'c1', reason: 'stopped', at: T0 });
  r.decide({ type: 'stream_stop', clientId: 'c3', reason: 'stopped', at: T0 });
  t.equal(r.state.viewers, 1, 'u1 gone: the anonymous player remains');
});
