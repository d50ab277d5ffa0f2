import t from 'tap';
import fc from 'fast-check';
import { RoomActor } from './room.actor.js';
import type { RoomEvent, RoomEventOf } from '#shared/room/room.events.js';
import { T0, created, join, none } from './test/fixtures.js';
import { memberOf, membersOf, streamViewersOf } from '#shared/room/room.state.js';

t.test('join: who may join, capacity and the single publisher', async (t) => {
  const cases: {
    name: string;
    settings?: Partial<RoomEventOf<'room_created'>['settings']>;
    before?: ReturnType<typeof join>[];
    cmd: ReturnType<typeof join>;
    refused?: string;
  }[] = [
    { name: 'anyone views a public room', cmd: join('p1', 'bob', 'viewer') },
    {
      name: 'a stranger may not view a private room',
      settings: { isPrivate: true },
      cmd: join('p1', 'bob', 'viewer'),
      refused: 'NOT_ALLOWED',
    },
    {
      name: 'the owner views its private room',
      settings: { isPrivate: true },
      cmd: join('p1', 'owner', 'viewer'),
    },
    {
      name: 'a view grant admits to a private room',
      settings: { isPrivate: true },
      cmd: join('p1', 'bob', 'viewer', { ...none, view: true }),
    },
    {
      name: 'an admin grant admits to a private room',
      settings: { isPrivate: true },
      cmd: join('p1', 'bob', 'viewer', { ...none, admin: true }),
    },
    { name: 'the owner publishes', cmd: join('p1', 'owner', 'publisher') },
    {
      name: 'a publish grant publishes',
      cmd: join('p1', 'bob', 'publisher', { ...none, publish: true }),
    },
    {
      name: 'no grant, no publishing',
      cmd: join('p1', 'bob', 'publisher'),
      refused: 'NOT_ALLOWED',
    },
    {
      name: 'an admin grant alone does not publish',
      cmd: join('p1', 'bob', 'publisher', { ...none, admin: true }),
      refused: 'NOT_ALLOWED',
    },
    {
      name: 'a second publisher is refused',
      before: [join('p0', 'owner', 'publisher')],
      cmd: join('p1', 'bob', 'publisher', { ...none, publish: true }),
      refused: 'PUBLISHER_TAKEN',
    },
    {
      name: 'viewers up to maxViewers',
      before: [join('p0', 'a', 'viewer')],
      cmd: join('p1', 'b', 'viewer'),
    },
    {
      name: 'one viewer more is ROOM_FULL',
      before: [join('p0', 'a', 'viewer'), join('p1', 'b', 'viewer')],
      cmd: join('p2', 'c', 'viewer'),
      refused: 'ROOM_FULL',
    },
    {
      name: 'the publisher does not count against maxViewers',
      before: [join('p0', 'a', 'viewer'), join('p1', 'b', 'viewer')],
      cmd: join('p2', 'owner', 'publisher'),
    },
    {
      name: 'the same peer id twice',
      before: [join('p0', 'a', 'viewer')],
      cmd: join('p0', 'a', 'viewer'),
      refused: 'ALREADY_JOINED',
    },
  ];
  for (const c of cases) {
    const room = RoomActor.create(created(c.settings));
    for (const b of c.before ?? []) t.equal(room.decide(b).refused, undefined, `${c.name}: setup`);
    const before = room.state;
    const d = room.decide(c.cmd);
    if (c.refused === undefined) {
      t.equal(d.refused, undefined, c.name);
      t.ok(memberOf(room.state, c.cmd.peerId), `${c.name}: member added`);
    } else {
      t.equal(d.refused?.code, c.refused, c.name);
      if (c.refused === 'PUBLISHER_TAKEN')
        t.same(
          d.recorded.map((e) => e.type),
          ['publisher_refused'],
          `${c.name}: recorded`,
        );
      else t.same(d.recorded, [], `${c.name}: nothing recorded`);
      t.same(room.state.members, before.members, `${c.name}: members unchanged`);
    }
  }
});

t.test('the publisher slot is released by leave, kick and timeout', async (t) => {
  for (const how of ['leave', 'kick', 'timeout'] as const) {
    const room = RoomActor.create(created());
    room.decide(join('p0', 'owner', 'publisher'));
    t.same(room.state.publisher, { kind: 'peer', peerId: 'p0', userId: 'owner' });
    const at = T0 + 10;
    let d;
    if (how === 'leave') d = room.decide({ type: 'leave', peerId: 'p0', userId: 'owner', at });
    else if (how === 'kick')
      d = room.decide({
        type: 'kick',
        peerId: 'p0',
        reason: 'x',
        userId: 'owner',
        perms: none,
        at,
      });
    else {
      room.decide({ type: 'disconnect', peerId: 'p0', conn: 'c-p0', awayUntil: at, at });
      d = room.decide({ type: 'expire', at });
    }
    t.equal(d.refused, undefined, how);
    t.equal(room.state.publisher, null, `${how} releases`);
    t.ok(
      d.recorded.some((e) => e.type === 'publisher_released'),
      `${how} records the release`,
    );
    t.equal(
      room.decide(join('p1', 'owner', 'publisher', none, at)).refused,
      undefined,
      `${how}: next publisher admitted`,
    );
  }
});

t.test('leave and kick', async (t) => {
  const room = RoomActor.create(created());
  room.decide(join('p0', 'alice', 'viewer'));
  t.equal(
    room.decide({ type: 'leave', peerId: 'p0', userId: 'mallory', at: T0 }).refused?.code,
    'NOT_IN_ROOM',
    'only the member leaves itself',
  );
  t.equal(
    room.decide({ type: 'leave', peerId: 'nope', userId: 'alice', at: T0 }).refused?.code,
    'NOT_IN_ROOM',
  );
  t.equal(
    room.decide({ type: 'kick', peerId: 'p0', reason: 'x', userId: 'bob', perms: none, at: T0 })
      .refused?.code,
    'NOT_ALLOWED',
    'a stranger may not kick',
  );
  t.equal(
    room.decide({ type: 'kick', peerId: 'zz', reason: 'x', userId: 'owner', perms: none, at: T0 })
      .refused?.code,
    'PEER_NOT_FOUND',
  );
  const d = room.decide({
    type: 'kick',
    peerId: 'p0',
    reason: 'spam',
    userId: 'bob',
    perms: { ...none, admin: true },
    at: T0,
  });
  t.same(
    d.recorded.map((e) => e.type),
    ['member_kicked'],
    'an admin kicks',
  );
  t.equal(room.state.viewers, 0);
  t.equal(room.state.peakViewers, 1, 'peak stays');
});

t.test('lifecycle: preparing → live → ended, nothing else', async (t) => {
  const set = (
    room: RoomActor,
    status: 'preparing' | 'live' | 'ended',
    userId = 'owner',
    perms = none,
  ) => room.decide({ type: 'set_status', status, userId, perms, at: T0 + 5 });

  const room = RoomActor.create(created());
  t.equal(room.status, 'preparing');
  t.equal(set(room, 'live', 'bob').refused?.code, 'NOT_ALLOWED', 'a stranger may not start it');
  t.same(
    set(room, 'preparing'),
    { recorded: [], refused: undefined, broadcasts: [] },
    'preparing → preparing is a no-op',
  );
  t.equal(set(room, 'live').refused, undefined);
  t.equal(room.status, 'live');
  t.equal(room.state.startTime, T0 + 5);
  t.same(
    set(room, 'live'),
    { recorded: [], refused: undefined, broadcasts: [] },
    'live → live is a no-op',
  );
  t.equal(
    set(room, 'preparing').refused?.code,
    'INVALID_TRANSITION',
    'live → preparing is refused',
  );
  room.decide(join('p0', 'alice', 'viewer'));
  t.equal(
    set(room, 'ended', 'bob', { ...none, admin: true }).refused,
    undefined,
    'an admin ends it',
  );
  t.equal(room.status, 'ended');
  t.ok(room.ended, 'ended is final');
  t.same(membersOf(room.state), [], 'an ended room has no members');
  t.equal(room.state.endTime, T0 + 5);
  t.same(set(room, 'live').recorded, [], 'nothing leaves ended');
  t.equal(room.status, 'ended');

  const cancelled = RoomActor.create(created());
  t.equal(set(cancelled, 'ended').refused, undefined, 'preparing → ended (cancelled)');
  t.equal(cancelled.state.startTime, null);
});

t.test('disconnect and resume', async (t) => {
  const room = RoomActor.create(created());
  room.decide(join('p0', 'alice', 'viewer'));
  const away = T0 + 1000;
  t.same(
    room.decide({ type: 'disconnect', peerId: 'p0', conn: 'other', awayUntil: away, at: T0 })
      .recorded,
    [],
    'a stale connection changes nothing',
  );
  t.equal(
    room.decide({ type: 'disconnect', peerId: 'p0', conn: 'c-p0', awayUntil: away, at: T0 })
      .recorded.length,
    1,
  );
  t.equal(memberOf(room.state, 'p0')?.awayUntil, away);

  const resume = {
    type: 'resume',
    peerId: 'p0',
    resumeHash: 'h-p0',
    userId: 'alice',
    gateway: 'g2',
    conn: 'c2',
    at: T0 + 10,
  } as const;
  t.equal(
    room.decide({ ...resume, resumeHash: 'wrong' }).refused?.code,
    'RESUME_FAILED',
    'wrong secret',
  );
  t.equal(
    room.decide({ ...resume, userId: 'mallory' }).refused?.code,
    'RESUME_FAILED',
    'another user',
  );
  t.equal(room.decide({ ...resume, at: away }).refused?.code, 'RESUME_FAILED', 'grace is over');
  t.equal(room.decide(resume).refused, undefined);
  t.same(
    memberOf(room.state, 'p0'),
    { ...memberOf(room.state, 'p0'), gateway: 'g2', conn: 'c2', awayUntil: null },
    'back, on the new connection',
  );
  t.same(
    room.decide({ type: 'expire', at: away + 1 }).recorded,
    [],
    'a resumed member does not expire',
  );

  room.decide({ type: 'disconnect', peerId: 'p0', conn: 'c2', awayUntil: away + 50, at: T0 + 20 });
  t.same(room.decide({ type: 'expire', at: away + 49 }).recorded, [], 'not before the deadline');
  t.same(
    room.decide({ type: 'expire', at: away + 50 }).recorded.map((e) => e.type),
    ['member_timed_out'],
  );
  t.equal(memberOf(room.state, 'p0'), undefined);
});

t.test('persisted snapshot and replay give the same room', async (t) => {
  const room = RoomActor.create(created());
  const log: RoomEvent[] = [created()];
  const run = (d: { recorded: RoomEvent[] }) => log.push(...d.recorded);
  run(room.decide(join('p0', 'owner', 'publisher')));
  run(room.decide(join('p1', 'a', 'viewer')));
  run(
    room.decide({ type: 'set_status', status: 'live', userId: 'owner', perms: none, at: T0 + 1 }),
  );
  const snap = room.persisted();
  const tailStart = log.length;
  run(room.decide({ type: 'leave', peerId: 'p1', userId: 'a', at: T0 + 2 }));
  run(room.decide(join('p2', 'b', 'viewer')));

  const replayed = RoomActor.fromLog(log);
  t.same(replayed.persisted(), room.persisted(), 'whole-log replay');
  const restored = RoomActor.restore(JSON.parse(JSON.stringify(snap)));
  for (const e of log.slice(tailStart)) restored.replay(e);
  t.same(restored.persisted(), room.persisted(), 'snapshot + tail');
  t.equal(restored.status, 'live');
  t.equal(
    restored.decide(join('p3', 'owner', 'publisher')).refused?.code,
    'PUBLISHER_TAKEN',
    'rules hold after restore',
  );
});

/** The stage cap of the property: small, so random histories fill it. */
const STAGE_MAX = 3;

t.test('property: any command sequence replays to the same state', async (t) => {
  const users = ['owner', 'a', 'b', 'c'];
  const peers = ['p0', 'p1', 'p2', 'p3', 'p4'];
  const clients = ['c0', 'c1', 'c2', 'c3'];
  const perms = fc.record({ publish: fc.boolean(), view: fc.boolean(), admin: fc.boolean() });
  const command = fc.oneof(
    fc.record({
      type: fc.constant('join' as const),
      peerId: fc.constantFrom(...peers),
      userId: fc.constantFrom(...users),
      role: fc.constantFrom('publisher' as const, 'viewer' as const),
      perms,
    }),
    fc.record({
      type: fc.constant('leave' as const),
      peerId: fc.constantFrom(...peers),
      userId: fc.constantFrom(...users),
    }),
    fc.record({
      type: fc.constant('disconnect' as const),
      peerId: fc.constantFrom(...peers),
      grace: fc.integer({ min: 0, max: 5 }),
    }),
    fc.record({
      type: fc.constant('resume' as const),
      peerId: fc.constantFrom(...peers),
      userId: fc.constantFrom(...users),
    }),
    fc.record({ type: fc.constant('expire' as const) }),
    // The stage: hands, invitations, demotions (a small cap, so it fills up).
    fc.record({
      type: fc.constantFrom('raise_hand' as const, 'lower_hand' as const),
      peerId: fc.constantFrom(...peers),
      userId: fc.constantFrom(...users),
    }),
    fc.record({
      type: fc.constantFrom('invite' as const, 'demote' as const),
      peerId: fc.constantFrom(...peers),
      userId: fc.constantFrom(...users),
      perms,
    }),
    fc.record({
      type: fc.constant('kick' as const),
      peerId: fc.constantFrom(...peers),
      userId: fc.constantFrom(...users),
      perms,
    }),
    fc.record({
      type: fc.constant('set_status' as const),
      status: fc.constantFrom('preparing' as const, 'live' as const, 'ended' as const),
      userId: fc.constantFrom(...users),
      perms,
    }),
    // The stream service's commands (SRS's side).
    fc.record({
      type: fc.constant('stream_publish' as const),
      clientId: fc.constantFrom(...clients),
      serviceId: fc.constantFrom('s1', 's2', null),
      key: fc.constantFrom('key', 'wrong', null),
      userId: fc.constantFrom(...users, null),
      perms,
    }),
    fc.record({
      type: fc.constant('stream_confirm' as const),
      clientId: fc.constantFrom(...clients),
      streamId: fc.constantFrom('vid-1', null),
    }),
    fc.record({
      type: fc.constant('stream_unpublish' as const),
      clientId: fc.constantFrom(...clients),
      reason: fc.constantFrom('unpublished' as const, 'vanished' as const),
      graceMs: fc.integer({ min: 0, max: 3 }),
      endAfterMs: fc.integer({ min: 0, max: 6 }),
    }),
    fc.record({
      type: fc.constant('stream_play' as const),
      clientId: fc.constantFrom(...clients),
      serviceId: fc.constantFrom('s1', 's2', null),
      userId: fc.constantFrom(...users, null),
      perms,
    }),
    fc.record({
      type: fc.constant('stream_stop' as const),
      clientId: fc.constantFrom(...clients),
      reason: fc.constant('stopped' as const),
    }),
    fc.record({
      type: fc.constant('stream_sync' as const),
      serviceId: fc.constantFrom('s1', 's2'),
      streamId: fc.constant('vid-1'),
      publisher: fc.constantFrom(...clients, null),
      viewers: fc.subarray(clients),
      listAgeMs: fc.integer({ min: 0, max: 5 }),
      graceMs: fc.integer({ min: 0, max: 3 }),
      endAfterMs: fc.integer({ min: 0, max: 6 }),
    }),
  );
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(command, { maxLength: 40 }),
      fc.nat({ max: 40 }),
      (isPrivate, cmds, cut) => {
        const first = created({ isPrivate });
        const room = RoomActor.create(first);
        const log: RoomEvent[] = [first];
        let snap = room.persisted();
        let snapAt = 1;
        cmds.forEach((c, i) => {
          const at = T0 + i;
          if (room.ended) return;
          let d;
          switch (c.type) {
            case 'join':
              d = room.decide({
                ...c,
                gateway: 'g',
                conn: `c-${c.peerId}`,
                resumeHash: `h-${c.peerId}`,
                at,
              });
              break;
            case 'disconnect':
              d = room.decide({
                type: 'disconnect',
                peerId: c.peerId,
                conn: `c-${c.peerId}`,
                awayUntil: at + c.grace,
                at,
              });
              break;
            case 'resume':
              d = room.decide({
                ...c,
                resumeHash: `h-${c.peerId}`,
                gateway: 'g',
                conn: `c-${c.peerId}`,
                at,
              });
              break;
            case 'kick':
              d = room.decide({ ...c, reason: 'r', at });
              break;
            case 'raise_hand':
            case 'lower_hand':
              d = room.decide({ ...c, at });
              break;
            case 'invite':
            case 'demote':
              d = room.decide({ ...c, stageMax: STAGE_MAX, at });
              break;
            case 'expire':
            case 'leave':
            case 'set_status':
            case 'stream_publish':
            case 'stream_confirm':
            case 'stream_unpublish':
            case 'stream_play':
            case 'stream_stop':
            case 'stream_sync':
              d = room.decide({ ...c, at });
          }
          if (d.refused !== undefined && d.recorded.some((e) => e.type !== 'publisher_refused'))
            throw new Error('refused but recorded');
          log.push(...d.recorded);
          if (i === cut) {
            snap = room.persisted();
            snapAt = log.length;
          }
        });
        // Signaling viewers and SRS players share the seats: each user once, however
        // it watches, and each anonymous player.
        const audience = membersOf(room.state).filter((m) => m.role === 'viewer');
        const players = streamViewersOf(room.state);
        const users = new Set([
          ...audience.map((m) => m.userId),
          ...players.flatMap((v) => (v.userId === null ? [] : [v.userId])),
        ]);
        const viewers = users.size + players.filter((v) => v.userId === null).length;
        if (viewers !== room.state.viewers) throw new Error('viewer count drifted');
        if (room.state.peakViewers < viewers) throw new Error('peak below viewers');
        if (viewers > room.state.settings.maxViewers) throw new Error('over capacity');
        const publishers = membersOf(room.state).filter(
          (m) =>
            m.role === 'publisher' &&
            room.state.publisher?.kind === 'peer' &&
            room.state.publisher.peerId === m.peerId,
        );
        if (publishers.length > 1) throw new Error('two publishers');
        // The stage: within its cap, exactly the members not in the audience, and the
        // audience count is the audience.
        const stage = membersOf(room.state).filter((m) => m.role !== 'viewer');
        if (room.state.stage.length > STAGE_MAX) throw new Error('stage over its cap');
        if (stage.length !== room.state.stage.length) throw new Error('stage list drifted');
        if (stage.filter((m) => m.role === 'publisher').length > 1)
          throw new Error('two publishers on stage');
        if (room.state.audience !== audience.length) throw new Error('audience count drifted');
        if (room.state.stream.confirmedAt !== null && room.state.status === 'preparing')
          throw new Error('a confirmed stream left the room preparing');
        if (room.state.seq !== log.length) throw new Error('seq is not the log length');
        const replayed = RoomActor.fromLog(log);
        const restored = RoomActor.restore(JSON.parse(JSON.stringify(snap)));
        for (const e of log.slice(snapAt)) restored.replay(e);
        return (
          JSON.stringify(replayed.persisted()) === JSON.stringify(room.persisted()) &&
          JSON.stringify(restored.persisted()) === JSON.stringify(room.persisted())
        );
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 random histories replayed identically');
});
