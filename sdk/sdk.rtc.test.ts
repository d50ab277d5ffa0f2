import t from 'tap';
import { RoomcastClient } from './sdk.client.js';
import { RoomRtc } from './sdk.rtc.js';
import { FakePeerConnection, fakeJwt, fakeSocket, type FakeGateway } from './test/sdk.fakes.js';
import { until } from './test/sdk.harness.js';

function gateway(peerId: string, peers: FakeGateway['peers']): FakeGateway {
  return {
    peerId,
    peers,
    iceServers: (n) => [{ urls: 'turn:127.0.0.1:3478', username: `exp:u${n}`, credential: 'c' }],
    authenticated: 0,
    sent: [],
  };
}

t.beforeEach(() => {
  FakePeerConnection.made = [];
});

t.test('a viewer offers to the stage with the ICE servers of authenticated', async (t) => {
  const gw = gateway('v1', [{ peerId: 'pub', userId: 'p', role: 'publisher' }]);
  // A token that expires in 0.9 s: refreshed after about 0.6 s, with fresh TURN credentials.
  const client = new RoomcastClient({
    url: 'ws://gateway.test/signaling',
    token: () => fakeJwt({ exp: (Date.now() + 900) / 1000 }),
    WebSocket: fakeSocket(gw),
    pingIntervalMs: 0,
  });
  t.teardown(() => client.close());
  await client.connect();
  t.same(client.iceServers, gw.iceServers(0), 'kept from authenticated');
  const room = await client.join('r', 'viewer');
  const rtc = new RoomRtc(room, {
    RTCPeerConnection: FakePeerConnection,
    configuration: { iceTransportPolicy: 'relay' },
  });
  t.same([...rtc.links.keys()], ['pub'], 'one link, to the publisher');
  const pc = FakePeerConnection.made[0];
  t.same(pc?.configurations[0], { iceServers: gw.iceServers(0), iceTransportPolicy: 'relay' });
  t.same(pc?.transceivers, ['audio:recvonly', 'video:recvonly'], 'receive-only offer');

  await until(client, ['authenticated'], () => gw.authenticated >= 2, 'a refresh');
  t.same(client.iceServers, gw.iceServers(1), 'refreshed with the token');
  t.same(pc?.configurations[1]?.iceServers, gw.iceServers(1), 'and given to the peer connection');
  t.equal(gw.sent.filter((f) => f.type === 'auth').length, 2, 'the refresh is an auth frame');
});

t.test('on stage, the smaller peer id offers; the audience is never offered to', async (t) => {
  const gw = gateway('m', [
    { peerId: 'a', userId: 'a', role: 'publisher' },
    { peerId: 'z', userId: 'z', role: 'cohost' },
  ]);
  const client = new RoomcastClient({
    url: 'ws://gateway.test/signaling',
    token: 'static',
    WebSocket: fakeSocket(gw),
    pingIntervalMs: 0,
  });
  t.teardown(() => client.close());
  await client.connect();
  t.same(client.iceServers, gw.iceServers(0));
  const room = await client.join('r', 'publisher');
  const rtc = new RoomRtc(room, { RTCPeerConnection: FakePeerConnection });
  t.same([...rtc.links.keys()], ['z'], "m offers to z, and waits for a's offer");
  t.notOk(rtc.offers('someone-in-the-audience'), 'the audience offers to the stage');
  rtc.close();
  t.ok(FakePeerConnection.made[0]?.closed, 'close() closes the peer connections');
});
