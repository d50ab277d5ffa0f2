/**
 * The stage and the audience at the gateway, over real sockets on two gateways:
 * the stage addresses any member and the audience the stage only; `room_stats`
 * reaches every member; stage-only news reach the stage only; a member invited
 * on stage (its `peer_joined` as `cohost`) and taken off it (`peer_left`,
 * `demoted`) changes what it may address and hear, and stays in the room.
 *
 * The room's news are crafted here on `room.<id>.bcast` (numbered after the last
 * join) so that the gateway's side is tested whatever the room service sends.
 */
import t from 'tap';
import type { Client, Frame } from '../../../test/helpers/client.js';
import { startSystem } from '../../../test/helpers/system.js';
import { subjects } from '#shared/wire/subjects.js';

t.test('stage and audience at the gateway', async (t) => {
  const sys = await startSystem(t);
  const second = await sys.addGateway();
  await sys.createRoom('st', 'pub');

  /** A client of `sub` joined to the room, on the gateway at `url`. */
  const member = async (sub: string, role: 'publisher' | 'viewer', url: string) => {
    const c = await sys.client(sub, { view: ['st'], publish: ['st'] }, url);
    const j = await c.call({ type: 'join', room: 'st', role });
    if (j.type !== 'joined') throw new Error(`${sub}: ${JSON.stringify(j)}`);
    return { c, peerId: j.peerId, seq: j.seq };
  };
  const pub = await member('pub', 'publisher', sys.url);
  const va = await member('va', 'viewer', second.url);
  const vb = await member('vb', 'viewer', second.url);
  const vc = await member('vc', 'viewer', sys.url);
  const all = { pub, va, vb, vc };
  let seq = vc.seq;

  /** Everything sent to the clients so far has arrived (a ping round trip each). */
  const settle = () => Promise.all(Object.values(all).map((m) => m.c.call({ type: 'ping' })));
  /** Publishes room news as the room service would. */
  const news = async (frame: Record<string, unknown>) => {
    sys.bus.publish(subjects.roomBroadcast('st'), { room: 'st', ...frame });
    await sys.bus.flush();
  };
  const offer = (from: Client, to: string, sdp: string) =>
    from.send({ type: 'offer', room: 'st', to, sdp });
  const refusals = (m: typeof pub) =>
    m.c.frames.filter((f) => f.type === 'error' && f.code === 'PEER_NOT_FOUND').length;
  /** Sends an offer; true when `to` got it, false when it was refused PEER_NOT_FOUND. */
  const delivered = async (from: typeof pub, to: typeof pub, sdp: string): Promise<boolean> => {
    const before = refusals(from);
    offer(from.c, to.peerId, sdp);
    await settle();
    if (refusals(from) > before) return false;
    // Not refused: it arrives, through NATS when `to` is on the other gateway.
    const got = (f: Frame) => f.sdp === sdp && f.from === from.peerId;
    if (!to.c.frames.some(got)) await to.c.next(got);
    return true;
  };
  const saw = (m: typeof pub, pred: (f: Frame) => boolean) => m.c.frames.some(pred);

  t.test(
    'the stage reaches the audience across gateways; the audience, the stage only',
    async (t) => {
      offer(pub.c, va.peerId, 'pub->va');
      t.equal(
        (await va.c.next((f) => f.sdp === 'pub->va')).from,
        pub.peerId,
        'pub (gw1) -> va (gw2)',
      );
      offer(pub.c, vc.peerId, 'pub->vc');
      t.equal((await vc.c.next((f) => f.sdp === 'pub->vc')).from, pub.peerId, 'pub -> vc (gw1)');
      offer(va.c, pub.peerId, 'va->pub');
      t.equal((await pub.c.next((f) => f.sdp === 'va->pub')).from, va.peerId, 'va -> pub');
      t.notOk(await delivered(va, vb, 'va->vb'), 'va may not address vb (same gateway)');
      t.notOk(await delivered(va, vc, 'va->vc'), 'nor vc (the other gateway)');
    },
  );

  t.test('stage commands need a membership of the room', async (t) => {
    const outsider = await sys.client('outsider', { view: ['st'] });
    for (const frame of [
      { type: 'raise_hand', room: 'st' },
      { type: 'lower_hand', room: 'st' },
      { type: 'invite', room: 'st', peer: va.peerId },
      { type: 'demote', room: 'st', peer: va.peerId },
    ]) {
      const r = await outsider.call(frame);
      t.same([r.type, r.code, r.room], ['error', 'NOT_IN_ROOM', 'st'], frame.type);
    }
  });

  t.test('room_stats: to every member, as sent', async (t) => {
    await news({ type: 'room_stats', viewers: 41, peakViewers: 42 });
    for (const [name, m] of Object.entries(all)) {
      t.same(
        await m.c.nextOf('room_stats'),
        { type: 'room_stats', room: 'st', viewers: 41, peakViewers: 42 },
        name,
      );
    }
  });

  const hand = (type: 'hand_raised' | 'hand_lowered', who: typeof pub, name: string) =>
    news(
      type === 'hand_raised'
        ? {
            type,
            peer: { peerId: who.peerId, userId: name, role: 'viewer' },
            scope: 'stage',
            seq: ++seq,
          }
        : { type, peerId: who.peerId, scope: 'stage', seq: ++seq },
    );
  /** Who heard of the last `type` news about `who` (after a settle). */
  const heard = async (type: string, s: number) => {
    await settle();
    return Object.entries(all)
      .filter(([, m]) => saw(m, (f) => f.type === type && f.seq === s))
      .map(([name]) => name);
  };

  t.test('stage-only news reach the stage only', async (t) => {
    await hand('hand_raised', vb, 'vb');
    await pub.c.next((f) => f.type === 'hand_raised' && f.seq === seq);
    t.same(await heard('hand_raised', seq), ['pub'], 'hand_raised: the publisher only');
  });

  t.test('invited on stage: announced to all, itself included; it addresses anyone', async (t) => {
    await news({
      type: 'peer_joined',
      peer: { peerId: va.peerId, userId: 'va', role: 'cohost' },
      seq: ++seq,
    });
    for (const [name, m] of Object.entries(all)) {
      const j = await m.c.next((f) => f.type === 'peer_joined' && f.seq === seq);
      t.same(j.peer, { peerId: va.peerId, userId: 'va', role: 'cohost' }, `${name} is told`);
    }
    t.ok(
      await delivered(va, vb, 'cohost->vb'),
      'the co-host addresses the audience (same gateway)',
    );
    t.ok(await delivered(va, vc, 'cohost->vc'), 'and across gateways');
    t.ok(await delivered(vb, va, 'vb->cohost'), 'the audience addresses the co-host');
    t.ok(await delivered(vc, va, 'vc->cohost'), 'from the other gateway too');
    await hand('hand_lowered', vb, 'vb');
    t.same(await heard('hand_lowered', seq), ['pub', 'va'], 'stage-only news: the co-host too');
  });

  t.test('demoted: told like everyone, back in the audience, still a member', async (t) => {
    await news({ type: 'peer_left', peerId: va.peerId, reason: 'demoted', seq: ++seq });
    for (const [name, m] of Object.entries(all)) {
      const l = await m.c.next((f) => f.type === 'peer_left' && f.seq === seq);
      t.same([l.peerId, l.reason], [va.peerId, 'demoted'], `${name} is told`);
    }
    t.notOk(
      saw(va, (f) => f.type === 'kicked'),
      'not kicked',
    );
    t.ok(await delivered(va, pub, 'va->pub again'), 'still a member: it addresses the stage');
    t.notOk(await delivered(va, vb, 'va->vb again'), 'but no longer the audience');
    t.notOk(await delivered(vc, va, 'vc->va again'), 'and the audience no longer addresses it');
    t.ok(await delivered(pub, va, 'pub->va again'), 'the stage still does');
    await hand('hand_raised', vc, 'vc');
    t.same(await heard('hand_raised', seq), ['pub'], 'stage-only news: no longer to it');
    await news({ type: 'room_stats', viewers: 3, peakViewers: 42 });
    t.equal((await va.c.next((f) => f.type === 'room_stats' && f.viewers === 3)).room, 'st');
  });
});
