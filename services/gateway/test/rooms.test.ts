/**
 * Room rules over real sockets: existence, lifecycle, private rooms, capacity, the
 * single publisher (also when many race for it), who may address whom, and the
 * room-wide news (status, end, kick) reaching every member, on two gateways.
 */
import t from 'tap';
import type { Client } from '../../../test/helpers/client.js';
import { startSystem } from '../../../test/helpers/system.js';

const none = { publish: false, view: false, admin: false };

t.test('room rules', async (t) => {
  const sys = await startSystem(t);
  const second = await sys.addGateway();

  /** A client of `sub` joined to `room`; fails the test unless it is admitted. */
  const member = async (sub: string, room: string, role = 'viewer', url = sys.url) => {
    const c = await sys.client(sub, { view: ['*'], publish: [room] }, url);
    const j = await c.call({ type: 'join', room, role });
    if (j.type !== 'joined') throw new Error(`${sub} not admitted to ${room}: ${String(j.code)}`);
    return { c, peerId: j.peerId, peers: (j.peers as { userId: string }[]).map((p) => p.userId) };
  };
  /** The owner (`owner` in every room here) sets the room's status through its command subject. */
  const setStatus = (room: string, status: 'live' | 'ended') =>
    sys.command(room, { type: 'set_status', status, userId: 'owner', perms: none });
  /** Everything `c` has been sent so far has arrived (a ping round trip). */
  const settle = (...cs: Client[]) => Promise.all(cs.map((c) => c.call({ type: 'ping' })));

  t.test('join: ROOM_NOT_FOUND, ROOM_ENDED', async (t) => {
    const c = await sys.client('walker');
    const e1 = await c.call({ type: 'join', room: 'nowhere', role: 'viewer', id: 'j1' });
    t.same([e1.type, e1.code, e1.room, e1.id], ['error', 'ROOM_NOT_FOUND', 'nowhere', 'j1']);
    await sys.createRoom('over', 'owner');
    const ended = await setStatus('over', 'ended');
    t.ok(ended.ok, 'the owner ends the room');
    const e2 = await c.call({ type: 'join', room: 'over', role: 'viewer' });
    t.same([e2.type, e2.code], ['error', 'ROOM_ENDED']);
  });

  t.test('private rooms admit the owner and those the token names', async (t) => {
    await sys.createRoom('priv', 'owner', { isPrivate: true });
    const cases: {
      who: string;
      grants?: Parameters<typeof sys.client>[1];
      role: string;
      expect: string;
    }[] = [
      { who: 'stranger', role: 'viewer', expect: 'NOT_ALLOWED' },
      { who: 'elsewhere', grants: { view: ['other'] }, role: 'viewer', expect: 'NOT_ALLOWED' },
      { who: 'friend', grants: { view: ['priv'] }, role: 'viewer', expect: 'joined' },
      { who: 'fan', grants: { view: ['*'] }, role: 'viewer', expect: 'joined' },
      { who: 'helper', grants: { admin: ['priv'] }, role: 'viewer', expect: 'joined' },
      { who: 'watcher', grants: { view: ['priv'] }, role: 'publisher', expect: 'NOT_ALLOWED' },
      { who: 'owner', role: 'publisher', expect: 'joined' },
    ];
    for (const c of cases) {
      const client = await sys.client(c.who, c.grants);
      const r = await client.call({ type: 'join', room: 'priv', role: c.role });
      t.equal(r.type === 'joined' ? 'joined' : r.code, c.expect, `${c.who} as ${c.role}`);
      client.close();
    }
  });

  t.test(
    'ROOM_FULL at maxViewers; the publisher does not count; a leave frees a place',
    async (t) => {
      await sys.createRoom('small', 'owner', { maxViewers: 2 });
      const v1 = await member('v1', 'small');
      await member('v2', 'small', 'viewer', second.url);
      const v3 = await sys.client('v3');
      const full = await v3.call({ type: 'join', room: 'small', role: 'viewer' });
      t.same([full.type, full.code], ['error', 'ROOM_FULL']);
      await member('owner', 'small', 'publisher');
      t.equal((await v1.c.call({ type: 'leave', room: 'small' })).type, 'left');
      t.equal((await v3.call({ type: 'join', room: 'small', role: 'viewer' })).type, 'joined');
    },
  );

  t.test('PUBLISHER_TAKEN, and free again once the publisher leaves', async (t) => {
    await sys.createRoom('stage', 'owner');
    const owner = await member('owner', 'stage', 'publisher');
    const other = await sys.client('other', { publish: ['stage'] });
    const taken = await other.call({ type: 'join', room: 'stage', role: 'publisher' });
    t.same([taken.type, taken.code], ['error', 'PUBLISHER_TAKEN']);
    await owner.c.call({ type: 'leave', room: 'stage' });
    t.equal((await other.call({ type: 'join', room: 'stage', role: 'publisher' })).type, 'joined');
  });

  for (const n of [2, 10]) {
    t.test(`${n} clients race for the publisher slot: exactly one wins`, async (t) => {
      const room = `race${n}`;
      await sys.createRoom(room, 'owner');
      // Half on each gateway, all connected first, then every join in the same tick.
      const racers = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          sys.client(`racer${i}`, { publish: [room] }, i % 2 === 0 ? sys.url : second.url),
        ),
      );
      const replies = await Promise.all(
        racers.map((c) => c.call({ type: 'join', room, role: 'publisher' })),
      );
      const outcome = replies.map((r) => (r.type === 'joined' ? 'joined' : String(r.code))).sort();
      t.same(outcome, [...Array<string>(n - 1).fill('PUBLISHER_TAKEN'), 'joined']);
      const got = await sys.command<{ peers: { role: string }[] }>(room, { type: 'get' });
      t.same(
        got.ok ? got.peers.map((p) => p.role) : got.error.code,
        ['publisher'],
        'the room holds one publisher and no one else',
      );
    });
  }

  t.test('who may address whom', async (t) => {
    await sys.createRoom('ra', 'owner');
    await sys.createRoom('rb', 'owner');
    const a = await member('a', 'ra');
    // The stage (the publisher) on the other gateway: the audience may address it only.
    const a2 = await member('a2', 'ra', 'publisher', second.url);
    const b = await member('b', 'rb');
    const outsider = await sys.client('outsider');
    const offer = (c: Client, room: string, to: string) =>
      c.call({ type: 'offer', room, to, sdp: 'v=0' });

    const cases: { name: string; from: Client; room: string; to: string; code: string }[] = [
      {
        name: 'to a peer of another room',
        from: a.c,
        room: 'ra',
        to: b.peerId,
        code: 'PEER_NOT_FOUND',
      },
      {
        name: 'naming a room one is not in',
        from: a.c,
        room: 'rb',
        to: b.peerId,
        code: 'NOT_IN_ROOM',
      },
      {
        name: 'to a peer id nobody has',
        from: a.c,
        room: 'ra',
        to: 'nobody',
        code: 'PEER_NOT_FOUND',
      },
      { name: 'from a non-member', from: outsider, room: 'ra', to: a.peerId, code: 'NOT_IN_ROOM' },
      {
        name: 'from a non-member to a room that does not exist',
        from: outsider,
        room: 'zz',
        to: a.peerId,
        code: 'NOT_IN_ROOM',
      },
    ];
    for (const c of cases) {
      const r = await offer(c.from, c.room, c.to);
      t.same([r.type, r.code, r.room], ['error', c.code, c.room], c.name);
    }
    // The stage may name any peer id (the audience is never announced to it): not
    // refused, and what names no member of the room reaches nobody.
    a2.c.send({ type: 'offer', room: 'ra', to: b.peerId, sdp: 'v=0 astray' });
    a2.c.send({ type: 'offer', room: 'ra', to: 'nobody', sdp: 'v=0 astray' });
    await settle(a.c, a2.c, b.c);
    t.same(a2.c.seen('error'), [], 'the stage is refused nothing');
    t.same(b.c.seen('offer'), [], 'nothing reached the other room');
    t.same(a.c.seen('offer'), [], 'nothing reached the addressed member from outside');

    // Relay only after join, and only until leave.
    const late = await sys.client('late', { view: ['*'] });
    t.equal((await offer(late, 'ra', a.peerId)).code, 'NOT_IN_ROOM', 'before join');
    const lj = await late.call({ type: 'join', room: 'ra', role: 'viewer' });
    late.send({ type: 'offer', room: 'ra', to: a2.peerId, sdp: 'v=0 late' });
    t.same(
      await a2.c.next((f) => f.type === 'offer'),
      { type: 'offer', room: 'ra', from: lj.peerId, sdp: 'v=0 late' },
      'after join, to the stage on the other gateway',
    );
    a2.c.send({ type: 'answer', room: 'ra', to: String(lj.peerId), sdp: 'v=0 back' });
    t.equal((await late.next((f) => f.type === 'answer')).from, a2.peerId, 'the stage answers');
    t.equal(
      (await offer(late, 'ra', a.peerId)).code,
      'PEER_NOT_FOUND',
      'the audience may not address the audience',
    );
    await late.call({ type: 'leave', room: 'ra' });
    t.equal((await offer(late, 'ra', a2.peerId)).code, 'NOT_IN_ROOM', 'after leave');
    a2.c.send({ type: 'offer', room: 'ra', to: String(lj.peerId), sdp: 'v=0 gone' });
    await settle(a2.c, late);
    t.notOk(
      late.frames.some((f) => f.sdp === 'v=0 gone'),
      'to one who left: nothing arrives',
    );
  });

  t.test('status, end and kick reach every member, on both gateways', async (t) => {
    await sys.createRoom('show', 'owner');
    const pub = await member('owner', 'show', 'publisher');
    const v1 = await member('v1', 'show');
    const v2 = await member('v2', 'show', 'viewer', second.url);
    const v3 = await member('v3', 'show', 'viewer', second.url);
    const all = [pub, v1, v2, v3];

    const live = await setStatus('show', 'live');
    t.ok(live.ok, 'the owner sets the room live');
    const seqs = new Set<number>();
    for (const m of all) {
      const s = await m.c.nextOf('room_status');
      t.same([s.room, s.status], ['show', 'live'], `${m.peerId} hears the room went live`);
      seqs.add(s.seq);
    }
    t.equal(seqs.size, 1, 'one event, one seq, for everyone');

    const kick = await sys.command('show', {
      type: 'kick',
      peerId: v2.peerId,
      reason: 'spam',
      userId: 'owner',
      perms: none,
    });
    t.ok(kick.ok, 'the owner kicks v2');
    const kicked = await v2.c.nextOf('kicked');
    t.same([kicked.room, kicked.reason], ['show', 'spam'], 'v2 hears it is kicked, and why');
    // A room that announces its audience (before the stage/audience model) tells of its leaving too.
    if (v3.peers.includes('v1'))
      for (const m of [pub, v1, v3]) {
        const left = await m.c.next((f) => f.type === 'peer_left' && f.peerId === v2.peerId);
        t.equal(left.reason, 'kicked', `${m.peerId} sees v2 leave, kicked`);
      }
    else {
      await settle(pub.c, v1.c, v3.c);
      for (const m of [pub, v1, v3])
        t.same(m.c.seen('peer_left'), [], `${m.peerId} hears nothing of the audience`);
    }
    t.same(v2.c.seen('peer_left'), [], 'v2 gets kicked, not peer_left about itself');
    t.equal(
      (await v2.c.call({ type: 'offer', room: 'show', to: pub.peerId, sdp: 'v=0' })).code,
      'NOT_IN_ROOM',
      'the kicked may not relay',
    );
    pub.c.send({ type: 'offer', room: 'show', to: v2.peerId, sdp: 'v=0 kicked' });
    await settle(pub.c, v2.c);
    t.notOk(
      v2.c.frames.some((f) => f.sdp === 'v=0 kicked'),
      'nor be addressed (the stage is not refused: the audience is not announced)',
    );

    const ended = await setStatus('show', 'ended');
    t.ok(ended.ok, 'the owner ends the room');
    for (const m of [pub, v1, v3]) {
      t.equal((await m.c.nextOf('room_status')).status, 'ended', `${m.peerId} hears the end`);
      const r = await m.c.call({ type: 'offer', room: 'show', to: pub.peerId, sdp: 'v=0' });
      t.equal(r.code, 'NOT_IN_ROOM', `${m.peerId} is no longer a member`);
      t.equal(
        (await m.c.call({ type: 'leave', room: 'show' })).code,
        'NOT_IN_ROOM',
        'nothing to leave',
      );
      t.equal(
        (await m.c.call({ type: 'join', room: 'show', role: 'viewer' })).code,
        'ROOM_ENDED',
        'nor to join again',
      );
    }
    t.equal(sys.gateway.connections >= 3, true, 'the connections stay open');
  });
});
