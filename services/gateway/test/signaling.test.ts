import t from 'tap';
import { startSystem } from '../../../test/helpers/system.js';

t.test('two peers find each other and exchange offer, answer and candidates', async (t) => {
  const sys = await startSystem(t);
  await sys.createRoom('r1', 'alice');
  const alice = await sys.client('alice');
  const bob = await sys.client('bob');

  const aj = await alice.call({ type: 'join', room: 'r1', role: 'publisher' });
  t.equal(aj.type, 'joined');
  t.same(aj.peers, [], 'alice is first');
  t.equal(aj.status, 'preparing');
  t.match(aj.resume, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

  const bj = await bob.call({ type: 'join', room: 'r1', role: 'viewer' });
  t.equal(bj.type, 'joined');
  t.same(bj.peers, [{ peerId: aj.peerId, userId: 'alice', role: 'publisher' }], 'bob sees alice');
  // The audience is not announced: the viewer knows the stage and offers first.
  bob.send({ type: 'offer', room: 'r1', to: aj.peerId, sdp: 'v=0 offer' });
  const offer = await alice.nextOf('offer');
  t.same(
    offer,
    { type: 'offer', room: 'r1', from: bj.peerId, sdp: 'v=0 offer' },
    'offer carries the sender, not a client claim',
  );
  alice.send({ type: 'answer', room: 'r1', to: bj.peerId, sdp: 'v=0 answer' });
  t.equal((await bob.next((f) => f.type === 'answer')).sdp, 'v=0 answer');
  const cand = {
    candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host',
    sdpMid: '0',
    sdpMLineIndex: 0,
  };
  bob.send({ type: 'candidate', room: 'r1', to: aj.peerId, candidate: cand });
  t.same((await alice.nextOf('candidate')).candidate, cand);
  alice.send({ type: 'candidate', room: 'r1', to: bj.peerId, candidate: cand });
  t.same((await bob.nextOf('candidate')).candidate, cand, 'the stage reaches the audience');

  const left = await bob.call({ type: 'leave', room: 'r1' });
  t.equal(left.type, 'left');
  // A viewer's leave is no news either; the publisher's is.
  await alice.call({ type: 'leave', room: 'r1' });
  const rejoined = await bob.call({ type: 'join', room: 'r1', role: 'viewer' });
  t.equal(rejoined.type, 'joined');
  const carol = await sys.client('alice');
  const again = await carol.call({ type: 'join', room: 'r1', role: 'publisher' });
  const pj = await bob.nextOf('peer_joined');
  t.same(
    pj.peer,
    { peerId: again.type === 'joined' ? again.peerId : '', userId: 'alice', role: 'publisher' },
    'the audience hears of the stage',
  );
  await carol.call({ type: 'leave', room: 'r1' });
  const pl = await bob.nextOf('peer_left');
  t.same([pl.peerId, pl.reason], [again.type === 'joined' ? again.peerId : '', 'left']);
});
