/**
 * Room-service rules that depend on its clock and timers, with an injected clock.
 */
import t from 'tap';
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger } from '#shared/log.js';
import { createMetrics } from '#shared/metrics.js';
import { MemoryRoomLog } from '../room.log.js';
import { RoomService, systemEnvironment } from '../room.service.js';
import { startNats } from '../../../test/helpers/nats.js';

const none = { publish: false, view: false, admin: false };

t.test('a member whose expiry timer fires early (by the wall clock) still times out', async (t) => {
  const nats = await startNats();
  const logger = createLogger('test', 'error');
  const bus = await Bus.connect({
    servers: [nats.url],
    name: 'svc',
    requestTimeoutMs: 2000,
    log: logger,
  });
  let now = 1_000_000;
  const service = new RoomService({
    bus,
    config: loadConfig({ ROOM_RESUME_GRACE_MS: '30' }).room,
    log: new MemoryRoomLog(),
    logger,
    env: { now: () => now, id: (n) => systemEnvironment.id(n) },
  });
  await service.start();
  t.teardown(async () => {
    await service.stop();
    await bus.close();
    await nats.stop();
  });
  await service.handle('r', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('r', {
    type: 'join',
    peerId: 'p',
    userId: 'u',
    role: 'publisher',
    perms: { ...none, publish: true },
    gateway: 'g',
    conn: 'c',
  });
  await service.handle('r', { type: 'disconnect', peerId: 'p', gateway: 'g', conn: 'c' });
  const awayUntil = service.stateOf('r')?.members.p?.awayUntil;
  t.equal(awayUntil, now + 30);
  // The timer fires (after ~30 ms of real time) while the service's clock still reads 1 ms before the deadline.
  now = (awayUntil ?? 0) - 1;
  await new Promise((r) => setTimeout(r, 150));
  t.equal(service.stateOf('r')?.members.p, undefined, 'the member timed out');
  t.equal(service.stateOf('r')?.publisher, null, 'and gave the publisher slot back');
});

t.test('room gauges: rooms by status, members by role, publishers by kind', async (t) => {
  const nats = await startNats();
  const logger = createLogger('test', 'error');
  const bus = await Bus.connect({
    servers: [nats.url],
    name: 'svc',
    requestTimeoutMs: 2000,
    log: logger,
  });
  const service = new RoomService({
    bus,
    config: loadConfig({}).room,
    log: new MemoryRoomLog(),
    logger,
  });
  await service.start();
  t.teardown(async () => {
    await service.stop();
    await bus.close();
    await nats.stop();
  });
  const conn = (c: string) => ({ gateway: 'g', conn: c });
  await service.handle('a', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('b', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('c', { type: 'create', userId: 'o', title: 't', isPrivate: false });
  await service.handle('a', {
    type: 'join',
    peerId: 'p',
    userId: 'o',
    role: 'publisher',
    perms: none,
    ...conn('1'),
  });
  await service.handle('a', {
    type: 'join',
    peerId: 'v',
    userId: 'x',
    role: 'viewer',
    perms: none,
    ...conn('2'),
  });
  await service.handle('b', { type: 'set_status', status: 'live', userId: 'o', perms: none });
  await service.handle('c', { type: 'set_status', status: 'ended', userId: 'o', perms: none });

  const m = createMetrics();
  service.reportMetrics(m);
  const read = (name: string) =>
    Object.fromEntries(
      (m.snapshot().find((s) => s.spec.name === name)?.points ?? []).map((p) => [
        Object.values(p.attrs).join(','),
        p.value,
      ]),
    );
  t.same(read('rooms'), { preparing: 1, live: 1, ended: 1 });
  t.same(read('room_members'), { publisher: 1, viewer: 1 });
  t.same(read('room_publishers'), { peer: 1, stream: 0 });
});
