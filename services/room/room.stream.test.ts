import t from 'tap';
import { T0, created, join, none } from './test/fixtures.js';
import type { RoomEvent, RoomEventOf } from '#shared/room/room.events.js';
import { RoomActor } from './room.actor.js';
import { streamDeadlines, streamSyncKicks } from './room.stream.js';
import { toStreamState } from './room.stream.reply.js';
import type { StreamMachineEvent } from './room.machine.events.js';
import { streamViewerOf } from '#shared/room/room.state.js';

const GRACE = 1000;
const END = 5000;

/** Fields a test may override in a stream command. */
type Over<T extends StreamMachineEvent['type']> = Partial<
  Omit<Extract<StreamMachineEvent, { type: T }>, 'type'>
>;

const publish = (clientId: string, over: Over<'stream_publish'> = {}) =>
  ({
    type: 'stream_publish',
    clientId,
    serviceId: 'svc1',
    key: 'key',
    userId: null,
    perms: none,
    at: T0,
    ...over,
  }) as const;
const confirm = (clientId: string, at = T0 + 1) =>
  ({ type: 'stream_confirm', clientId, streamId: 'vid-1', at }) as const;
const unpublish = (clientId: string, at = T0 + 2) =>
  ({
    type: 'stream_unpublish',
    clientId,
    reason: 'unpublished',
    graceMs: GRACE,
    endAfterMs: END,
    at,
  }) as const;
const play = (clientId: string, over: Over<'stream_play'> = {}) =>
  ({
    type: 'stream_play',
    clientId,
    serviceId: 'svc1',
    userId: null,
    perms: none,
    at: T0,
    ...over,
  }) as const;
const sync = (over: Over<'stream_sync'> = {}) =>
  ({
    type: 'stream_sync',
    serviceId: 'svc1',
    streamId: 'vid-1',
    publisher: null,
    viewers: [] as string[],
    listAgeMs: 100,
    graceMs: GRACE,
    endAfterMs: END,
    at: T0 + 10_000,
    ...over,
  }) as const;
const types = (events: RoomEvent[]) => events.map((e) => e.type);

t.test('on_publish: credentials and the single publisher slot', async (t) => {
  const cases: {
    name: string;
    settings?: Partial<RoomEventOf<'room_created'>['settings']>;
    before?: ReturnType<typeof publish>[];
    cmd: ReturnType<typeof publish>;
    refused?: string;
    userId?: string;
  }[] = [
    { name: 'the stream key publishes as the owner', cmd: publish('c1'), userId: 'owner' },
    {
      name: 'the key publishes into a private room',
      settings: { isPrivate: true },
      cmd: publish('c1'),
      userId: 'owner',
    },
    { name: 'a wrong key', cmd: publish('c1', { key: 'nope' }), refused: 'NOT_ALLOWED' },
    { name: 'an empty key', cmd: publish('c1', { key: '' }), refused: 'NOT_ALLOWED' },
    {
      name: 'no key, no token',
      cmd: publish('c1', { key: null }),
      refused: 'NOT_ALLOWED',
    },
    {
      name: "the owner's token",
      cmd: publish('c1', { key: null, userId: 'owner' }),
      userId: 'owner',
    },
    {
      name: 'a token with a publish grant',
      cmd: publish('c1', { key: null, userId: 'bob', perms: { ...none, publish: true } }),
      userId: 'bob',
    },
    {
      name: 'a token with only a view grant',
      cmd: publish('c1', { key: null, userId: 'bob', perms: { ...none, view: true } }),
      refused: 'NOT_ALLOWED',
    },
    {
      name: 'a second encoder is refused',
      before: [publish('c1')],
      cmd: publish('c2'),
      refused: 'PUBLISHER_TAKEN',
    },
    {
      name: 'a second encoder with a wrong key is NOT_ALLOWED, not PUBLISHER_TAKEN',
      before: [publish('c1')],
      cmd: publish('c2', { key: 'nope' }),
      refused: 'NOT_ALLOWED',
    },
    {
      name: 'the same client asking again (a duplicated on_publish) is granted, once',
      before: [publish('c1')],
      cmd: publish('c1'),
      userId: 'owner',
    },
  ];
  for (const c of cases) {
    const room = RoomActor.create(created(c.settings));
    for (const b of c.before ?? []) t.equal(room.decide(b).refused, undefined, `${c.name}: setup`);
    const before = room.state.publisher;
    const d = room.decide(c.cmd);
    if (c.refused === undefined) {
      t.equal(d.refused, undefined, c.name);
      t.same(
        room.state.publisher,
        { kind: 'stream', clientId: c.cmd.clientId, userId: c.userId, serviceId: 'svc1' },
        `${c.name}: holds the slot`,
      );
      if (before !== null) t.same(d.recorded, [], `${c.name}: nothing new recorded`);
    } else {
      t.equal(d.refused?.code, c.refused, c.name);
      t.same(
        types(d.recorded),
        c.refused === 'PUBLISHER_TAKEN' ? ['publisher_refused'] : [],
        `${c.name}: recorded`,
      );
      t.same(room.state.publisher, before, `${c.name}: slot unchanged`);
    }
  }
});

t.test('the slot is shared with signaling publishers', async (t) => {
  const room = RoomActor.create(created());
  room.decide(join('p0', 'owner', 'publisher'));
  t.equal(room.decide(publish('c1')).refused?.code, 'PUBLISHER_TAKEN', 'peer holds it');
  room.decide({ type: 'leave', peerId: 'p0', userId: 'owner', at: T0 });
  t.equal(room.decide(publish('c1')).refused, undefined, 'free again');
  t.equal(
    room.decide(join('p1', 'owner', 'publisher')).refused?.code,
    'PUBLISHER_TAKEN',
    'stream holds it',
  );
});

t.test('the SRS API confirmation makes the room live, once', async (t) => {
  const room = RoomActor.create(created());
  room.decide(publish('c1'));
  t.equal(room.status, 'preparing', 'a granted on_publish alone is not live');
  t.same(room.decide(confirm('c2')).recorded, [], 'confirming another client changes nothing');
  const d = room.decide(confirm('c1'));
  t.same(types(d.recorded), ['stream_confirmed', 'status_changed']);
  t.match(d.recorded[1], { from: 'preparing', to: 'live', by: 'stream' });
  t.equal(room.status, 'live');
  t.equal(room.state.startTime, T0 + 1);
  t.same(room.decide(confirm('c1', T0 + 5)).recorded, [], 'a second confirmation is a no-op');
  t.equal(room.state.stream.confirmedAt, T0 + 1);
});

t.test(
  'on_unpublish: release, then publisher gone after the grace, then the room ends',
  async (t) => {
    const room = RoomActor.create(created());
    room.decide(publish('c1'));
    room.decide(confirm('c1'));
    t.same(room.decide(unpublish('other')).recorded, [], 'another client: nothing');
    const d = room.decide(unpublish('c1', T0 + 100));
    t.same(types(d.recorded), ['publisher_released', 'stream_stopped']);
    t.match(d.recorded[1], {
      reason: 'unpublished',
      goneAt: T0 + 100 + GRACE,
      endAt: T0 + 100 + END,
    });
    t.equal(room.state.publisher, null);
    t.same(streamDeadlines(room.state), [T0 + 100 + GRACE, T0 + 100 + END], 'timers to arm');
    t.same(
      room.decide(unpublish('c1', T0 + 101)).recorded,
      [],
      'a duplicated on_unpublish: nothing',
    );

    t.same(room.decide({ type: 'expire', at: T0 + 100 + GRACE - 1 }).recorded, [], 'not yet');
    t.same(types(room.decide({ type: 'expire', at: T0 + 100 + GRACE }).recorded), [
      'publisher_gone',
    ]);
    t.ok(room.state.stream.gone);
    t.same(room.decide({ type: 'expire', at: T0 + 100 + GRACE + 1 }).recorded, [], 'gone once');
    const end = room.decide({ type: 'expire', at: T0 + 100 + END });
    t.same(types(end.recorded), ['status_changed']);
    t.match(end.recorded[0], { from: 'live', to: 'ended', by: 'stream' });
    t.ok(room.ended, 'ended is final');
  },
);

t.test('a publisher coming back within the grace cancels the deadlines', async (t) => {
  const room = RoomActor.create(created());
  room.decide(publish('c1'));
  room.decide(confirm('c1'));
  room.decide(unpublish('c1', T0 + 100));
  room.decide(publish('c2', { at: T0 + 200 }));
  t.same(
    room.decide({ type: 'expire', at: T0 + 100 + END }).recorded,
    [],
    'granted but unconfirmed: the slot is held, nothing ends',
  );
  room.decide(confirm('c2', T0 + 300));
  t.same(streamDeadlines(room.state), [], 'confirmed: no deadline left');
  t.equal(room.status, 'live');

  // An unconfirmed grant taken back leaves the earlier deadlines in force.
  const r2 = RoomActor.create(created());
  r2.decide(publish('c1'));
  r2.decide(confirm('c1'));
  r2.decide(unpublish('c1', T0 + 100));
  r2.decide(publish('c2', { at: T0 + 200 }));
  const back = r2.decide({ ...unpublish('c2', T0 + 300), reason: 'unconfirmed' });
  t.match(back.recorded[1], { reason: 'unconfirmed', goneAt: null, endAt: null });
  t.same(streamDeadlines(r2.state), [T0 + 100 + GRACE, T0 + 100 + END], 'earlier deadlines stay');
});

t.test('an unconfirmed publisher that stops starts no deadline', async (t) => {
  const room = RoomActor.create(created());
  room.decide(publish('c1'));
  const d = room.decide(unpublish('c1'));
  t.match(d.recorded[1], { goneAt: null, endAt: null });
  t.same(streamDeadlines(room.state), []);
  t.equal(room.status, 'preparing');
});

t.test('SRS viewers: private rooms, seats shared with signaling viewers', async (t) => {
  const pub = RoomActor.create(created());
  t.equal(pub.decide(play('v1')).refused, undefined, 'anyone plays a public room');
  t.equal(pub.state.viewers, 1);
  t.same(pub.decide(play('v1')).recorded, [], 'a duplicated on_play takes no second seat');
  pub.decide(join('p1', 'a', 'viewer'));
  t.equal(pub.state.viewers, 2, 'a signaling viewer and an SRS player: two seats');
  t.equal(pub.decide(play('v2')).refused?.code, 'ROOM_FULL', 'over maxViewers');
  t.equal(
    pub.decide(join('p2', 'b', 'viewer')).refused?.code,
    'ROOM_FULL',
    'SRS players count against signaling joins too',
  );
  t.equal(pub.decide(publish('c1')).refused, undefined, 'the publisher takes no seat');
  const stop = pub.decide({ type: 'stream_stop', clientId: 'v1', reason: 'stopped', at: T0 + 1 });
  t.same(types(stop.recorded), ['stream_viewer_left']);
  t.equal(pub.state.viewers, 1);
  t.equal(pub.state.peakViewers, 2, 'peak stays');
  t.same(
    pub.decide({ type: 'stream_stop', clientId: 'v1', reason: 'stopped', at: T0 + 2 }).recorded,
    [],
    'a duplicated on_stop: nothing',
  );

  const priv = RoomActor.create(created({ isPrivate: true }));
  const cases: [string, ReturnType<typeof play>, string | undefined][] = [
    ['no token', play('a'), 'NOT_ALLOWED'],
    ['a stranger', play('b', { userId: 'bob' }), 'NOT_ALLOWED'],
    ['the owner', play('c', { userId: 'owner' }), undefined],
    ['a view grant', play('d', { userId: 'bob', perms: { ...none, view: true } }), undefined],
    // A user is one viewer however many players it has; a new one finds no seat.
    ['over capacity', play('e', { userId: 'carol', perms: { ...none, view: true } }), 'ROOM_FULL'],
  ];
  for (const [name, cmd, refused] of cases) {
    const d = priv.decide(cmd);
    t.equal(d.refused?.code, refused, `private room: ${name}`);
    if (refused !== undefined) t.same(d.recorded, [], `${name}: nothing recorded`);
  }
  t.equal(toStreamState(priv.state).streamViewers, 2);
});

t.test('reconcile: confirm, vanish, restart, kicks', async (t) => {
  const room = RoomActor.create(created({ maxViewers: 10 }));
  room.decide(publish('c1'));
  t.same(streamSyncKicks(room.state, sync({ publisher: 'intruder' })), ['intruder']);
  const conf = room.decide(sync({ publisher: 'c1', viewers: [] }));
  t.same(types(conf.recorded), ['stream_confirmed', 'status_changed'], 'the list confirms too');
  t.equal(room.status, 'live');

  room.decide(play('v1', { at: T0 + 9_950 }));
  room.decide(play('v2', { at: T0 + 100 }));
  t.same(
    streamSyncKicks(room.state, sync({ publisher: 'c1', viewers: ['v1', 'v2', 'ghost'] })),
    [],
    'a player the room missed takes a free seat of a public room',
  );
  const d = room.decide(sync({ publisher: null, viewers: [] }));
  t.same(
    types(d.recorded),
    ['publisher_released', 'stream_stopped', 'stream_viewer_left'],
    'the old publisher and the old viewer vanished; the young viewer is not judged',
  );
  t.match(d.recorded[1], { reason: 'vanished', goneAt: T0 + 10_000 + GRACE });
  t.match(d.recorded[2], { clientId: 'v2', reason: 'vanished' });
  t.ok(streamViewerOf(room.state, 'v1'), 'v1 joined after the list was taken: kept');

  const young = RoomActor.create(created());
  young.decide(publish('c1', { at: T0 + 9_990 }));
  t.same(
    young.decide(sync({ publisher: null })).recorded,
    [],
    'a grant younger than the list is not judged by it',
  );
  t.same(
    types(young.decide(sync({ publisher: null, at: T0 + 20_000 })).recorded),
    ['publisher_released', 'stream_stopped'],
    'an old unconfirmed grant is taken back',
  );

  const restarted = RoomActor.create(created());
  restarted.decide(publish('c1', { at: T0 + 9_990 }));
  restarted.decide(confirm('c1', T0 + 9_995));
  restarted.decide(play('v1', { at: T0 + 9_999 }));
  restarted.decide(play('v9', { at: T0 + 9_999, serviceId: null }));
  const r = restarted.decide(sync({ serviceId: 'svc2', publisher: null, viewers: [] }));
  t.same(types(r.recorded), ['publisher_released', 'stream_stopped', 'stream_viewer_left']);
  t.match(r.recorded[1], { reason: 'srs_restarted' });
  t.match(r.recorded[2], { clientId: 'v1', reason: 'srs_restarted' });
  t.ok(streamViewerOf(restarted.state, 'v9'), 'a young viewer of unknown SRS process waits');
});

t.test('reconcile: players the room did not count', async (t) => {
  const pub = RoomActor.create(created({ maxViewers: 2 }));
  pub.decide(play('v1'));
  const cmd = sync({ viewers: ['v1', 'x1', 'x2'], at: T0 + 1 });
  t.same(streamSyncKicks(pub.state, cmd), ['x2'], 'one free seat: x1 takes it, x2 is kicked');
  const d = pub.decide(cmd);
  t.same(types(d.recorded), ['stream_viewer_joined']);
  t.match(d.recorded[0], { clientId: 'x1', userId: null, serviceId: 'svc1' });
  t.equal(pub.state.viewers, 2);

  const priv = RoomActor.create(created({ isPrivate: true, maxViewers: 5 }));
  const pc = sync({ viewers: ['x1'], at: T0 + 1 });
  t.same(streamSyncKicks(priv.state, pc), ['x1'], 'a private room admits nobody unchecked');
  t.same(priv.decide(pc).recorded, []);
});

t.test('an ended room drops its stream side', async (t) => {
  const room = RoomActor.create(created());
  room.decide(publish('c1'));
  room.decide(confirm('c1'));
  room.decide(play('v1'));
  room.decide({ type: 'set_status', status: 'ended', userId: 'owner', perms: none, at: T0 + 5 });
  t.ok(room.ended);
  t.equal(room.state.streamViewers.size, 0);
  t.equal(room.state.viewers, 0);
  t.equal(room.state.publisher, null);
});

t.test('stream history replays to the same room', async (t) => {
  const room = RoomActor.create(created({ maxViewers: 5 }));
  const log: RoomEvent[] = [created({ maxViewers: 5 })];
  const run = (d: { recorded: RoomEvent[] }) => log.push(...d.recorded);
  run(room.decide(publish('c1')));
  run(room.decide(publish('c2')));
  run(room.decide(confirm('c1')));
  run(room.decide(play('v1')));
  run(room.decide(play('v2')));
  run(room.decide(unpublish('c1')));
  run(room.decide({ type: 'expire', at: T0 + 2 + GRACE }));
  run(room.decide(sync({ viewers: ['v1'] })));
  run(room.decide({ type: 'expire', at: T0 + 2 + END }));
  t.ok(room.ended);
  const replayed = RoomActor.fromLog(log);
  t.same(replayed.persisted(), room.persisted());
  t.ok(replayed.ended);
});

t.test(
  'an SRS outage: unknown once, known again at the next sync, replayed the same',
  async (t) => {
    const room = RoomActor.create(created());
    for (const cmd of [publish('c1'), confirm('c1')]) room.decide(cmd);
    const down = room.decide({ type: 'stream_unknown', since: T0 + 5, at: T0 + 100 });
    t.same(types(down.recorded), ['stream_unknown']);
    t.match(down.broadcasts, [{ type: 'room_status', status: 'live', stream: 'unknown' }]);
    t.equal(toStreamState(room.state).unknownSince, T0 + 5);
    t.same(room.decide({ type: 'stream_unknown', since: T0 + 9, at: T0 + 200 }).recorded, []);

    const back = room.decide(sync({ publisher: 'c1' }));
    t.same(types(back.recorded), ['stream_known'], 'the publisher is still there');
    t.match(back.broadcasts, [{ type: 'room_status', status: 'live', stream: 'known' }]);
    t.equal(room.state.stream.unknownSince, undefined, 'the old shape again');
    t.same(room.decide(sync({ publisher: 'c1', at: T0 + 20_000 })).recorded, []);

    const log = [
      created(),
      ...room.decide({ type: 'stream_unknown', since: 7, at: T0 + 300 }).recorded,
    ];
    const replayed = RoomActor.fromLog(log);
    t.equal(replayed.state.stream.unknownSince, 7, 'a fact in ROOM_EVENTS');
  },
);
