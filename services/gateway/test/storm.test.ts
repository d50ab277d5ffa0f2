/**
 * A leave storm over real sockets: every viewer of a room leaves at once, and every
 * one gets `left`, none `UNAVAILABLE`, although the room service needs longer for
 * all of them than the gateway's request timeout (cut to 150 ms here, so that a few
 * hundred leaves are a storm on any machine). The gateway sends at most
 * ROOM_COMMANDS_IN_FLIGHT of them at a time (shared/room/room.client.lanes.ts).
 */
import t from 'tap';
import type { Client } from '../../../test/helpers/client.js';
import { startNats } from '../../../test/helpers/nats.js';
import { freePort } from '../../../test/helpers/net.js';
import { startService } from '../../../test/helpers/processes.js';
import { startTestTools, testEnv } from '../../../test/helpers/system.js';

const ROOM = 'storm';
const VIEWERS = 800;
/** Joins in flight while the audience comes in (the storm is the leaving). */
const JOINING = 40;

t.test('a leave storm longer than the request timeout is answered, every one', async (t) => {
  const nats = await startNats();
  t.teardown(() => nats.stop());
  const port = await freePort();
  const env = testEnv(nats.url, { GATEWAY_PORT: String(port) });
  await Promise.all([
    startService(t, 'room', env),
    startService(t, 'gateway', {
      ...env,
      GATEWAY_ID: 'storm-1',
      NATS_REQUEST_TIMEOUT_MS: '150',
      ROOM_COMMANDS_IN_FLIGHT: '8',
    }),
  ]);
  const url = `ws://127.0.0.1:${port}/signaling`;
  const sys = await startTestTools(t, nats.url);
  await sys.createRoom(ROOM, 'host', { maxViewers: VIEWERS });

  const viewers: Client[] = [];
  let notJoined = 0;
  for (let i = 0; i < VIEWERS; i += JOINING) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(JOINING, VIEWERS - i) }, async (_, k) => {
        const c = await sys.connect(url, `v${i + k}`);
        const j = await c.call({ type: 'join', room: ROOM, role: 'viewer' }, 10_000);
        if (j.type !== 'joined') notJoined++;
        return c;
      }),
    );
    viewers.push(...batch);
  }
  t.equal(notJoined, 0, `all ${VIEWERS} viewers joined`);

  const answers = await Promise.all(
    viewers.map((c) => c.call({ type: 'leave', room: ROOM }, 30_000)),
  );
  const byType = new Map<string, number>();
  for (const a of answers) {
    const key = a.type === 'error' ? `error ${a.code}` : a.type;
    byType.set(key, (byType.get(key) ?? 0) + 1);
  }
  t.same(Object.fromEntries(byType), { left: VIEWERS }, 'every viewer got `left`');
  const room = await sys.rooms.get(ROOM);
  t.equal(room.room.viewers, 0, 'and the room counts none');
});
