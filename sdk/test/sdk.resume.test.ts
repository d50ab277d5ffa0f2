/**
 * Reconnect and resume with real processes: the gateway is killed (SIGKILL: no
 * close frame, no goodbye to the room) and started again on the same port; every
 * SDK client reconnects with backoff and resumes its memberships, with the same peer
 * ids and the stage as it was.
 */
import t from 'tap';
import { startNats } from '../../test/helpers/nats.js';
import { freePort } from '../../test/helpers/net.js';
import { startService } from '../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../test/helpers/system.js';
import { sdkClient, until } from './sdk.harness.js';

t.test('the gateway killed and restarted: same peer ids back', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const port = await freePort();
  const env = testEnv(nats.url, { GATEWAY_PORT: String(port), ROOM_RESUME_GRACE_MS: '60000' });
  await startService(t, 'room', env);
  const gw = await startService(t, 'gateway', env);
  const tools = await startTestTools(t, nats.url);
  await tools.createRoom('r3', 'owner');
  const url = `ws://127.0.0.1:${port}/signaling`;

  const owner = sdkClient(t, url, () => tools.token('owner'));
  const viewer = sdkClient(t, url, () => tools.token('v'));
  await Promise.all([owner.connect(), viewer.connect()]);
  const pub = await owner.join('r3', 'publisher');
  const watch = await viewer.join('r3', 'viewer');
  const before = { pub: pub.peerId, watch: watch.peerId };
  let reconnects = 0;
  viewer.on('reconnecting', () => reconnects++);
  const resumed = [pub, watch].map(
    (room) => new Promise((resolve) => room.once('resumed', resolve)),
  );

  await gw.signal('SIGKILL');
  await until(viewer, ['state'], () => viewer.state === 'reconnecting', 'reconnecting');
  t.equal(owner.rooms.get('r3'), pub, 'the membership is kept while away');
  const again = await startService(t, 'gateway', env);
  t.equal(again.port, port, 'the new gateway on the same port');
  await Promise.all(resumed);

  t.same({ pub: pub.peerId, watch: watch.peerId }, before, 'both resumed with the same peer ids');
  t.equal(viewer.state, 'open');
  t.ok(reconnects >= 1, 'reconnected with backoff');
  t.equal(watch.publisher?.peerId, before.pub, 'resumed.peers: the stage as it was');
  t.ok(pub.active && watch.active, 'both still members');
  // The resumed membership works: a stage command answered, the room's news delivered.
  await watch.raiseHand();
  await until(pub, ['change'], () => pub.hands.has(before.watch), 'the hand reaches the publisher');
  await pub.leave();
  await until(watch, ['change'], () => watch.publisher === undefined, 'the publisher gone');
});
