/**
 * kill -9 of the room service in the middle of traffic, 1,000 rooms: every room
 * comes back with exactly the state it had after its last acknowledged command.
 *
 * Each room runs a fixed script of commands, one at a time. Rooms that finished
 * their script before the kill recorded their state hash right after the last
 * acknowledgement: it must be identical after the restart. Rooms cut mid-script
 * must keep every acknowledged event (sequence not below the last acknowledged
 * one), may hold at most the one unacknowledged command in flight, and must
 * equal a replay of their log.
 */
import t from 'tap';
import { Bus } from '#shared/runtime/bus.js';
import { RoomClient } from '#shared/room/room.client.js';
import { asReply } from './reply.js';
import { createLogger } from '#shared/runtime/log.js';
import type { AnyRoomReply, RoomCommand, RoomReplies } from '#shared/room/room.commands.js';
import { stateHash } from '../room.actor.js';
import { JetStreamRoomLog } from '../room.log.js';
import { rebuildRoom } from '../room.recovery.js';
import { startNats } from '../../../test/helpers/nats.js';
import { startService } from '../../../test/helpers/processes.js';

const ROOMS = 1000;
const none = { publish: false, view: false, admin: false };

function script(roomId: string): RoomCommand[] {
  const conn = (k: number) => ({ gateway: 'gw', conn: `${roomId}-${k}` });
  return [
    { type: 'create', userId: 'owner', title: roomId, isPrivate: false, maxViewers: 3 },
    { type: 'join', peerId: 'pub', userId: 'owner', role: 'publisher', perms: none, ...conn(0) },
    { type: 'join', peerId: 'v1', userId: 'a', role: 'viewer', perms: none, ...conn(1) },
    { type: 'join', peerId: 'v2', userId: 'b', role: 'viewer', perms: none, ...conn(2) },
    { type: 'set_status', status: 'live', userId: 'owner', perms: none },
    { type: 'leave', peerId: 'v1', userId: 'a', ...conn(1) },
    { type: 'disconnect', peerId: 'v2', ...conn(2) },
    { type: 'join', peerId: 'v3', userId: 'c', role: 'viewer', perms: none, ...conn(3) },
  ];
}
/** Events each command of the script records: the bound on what an unacknowledged one can add. */
const MAX_EVENTS_PER_COMMAND = 2;

t.test('kill -9 mid-traffic: 1,000 rooms come back exactly', async (t) => {
  const nats = await startNats();
  const env = {
    NATS_URL: nats.url,
    LOG_LEVEL: 'info',
    // The restarted process has the same replica id: it takes its leases back at once.
    ROOM_REPLICA_ID: 'crash-test',
    ROOM_LEASE_MS: '3000',
    // The members' gateway "gw" sends no heartbeats: it must not be taken for dead mid-test.
    ROOM_GATEWAY_TIMEOUT_MS: '3600000',
    ROOM_SNAPSHOT_EVERY: '3',
    ROOM_SNAPSHOT_INTERVAL_MS: '300',
    ROOM_RESUME_GRACE_MS: '600000',
    // A loaded CI machine can stall JetStream for seconds: the rooms that must finish
    // their script should not give up on a slow append (UNAVAILABLE) before the kill.
    NATS_REQUEST_TIMEOUT_MS: '20000',
  };
  const logger = createLogger('test', 'error');
  const bus = await Bus.connect({
    ...nats.connectOptions(),
    name: 'crash-test',
    requestTimeoutMs: 5000,
    log: logger,
  });
  const client = new RoomClient(bus);
  let service = await startService(t, 'room', env);
  t.teardown(async () => {
    await service.signal('SIGKILL');
    await bus.close();
    await nats.stop();
  });

  const lastAcked = new Map<string, number>();
  const finishedHash = new Map<string, string>();
  let acks = 0;
  let killed = false;
  const unexpected: string[] = [];
  const total = ROOMS * script('x').length;

  /** Why rooms stopped before the end of their script (shown when too few finished). */
  const stopped = new Map<string, number>();
  const stop = (why: string) => stopped.set(why, (stopped.get(why) ?? 0) + 1);
  const runRoom = async (roomId: string, timeoutMs: number) => {
    const steps = script(roomId);
    for (const [i, cmd] of steps.entries()) {
      let reply: AnyRoomReply;
      try {
        reply = await asReply(client.send(roomId, cmd, { timeoutMs: timeoutMs }));
      } catch {
        stop('no answer');
        return; // the service died under this command: it is the one in flight
      }
      if (!reply.ok) {
        // UNAVAILABLE: the outcome is unknown (a slow append); the room stops here, as if cut.
        if (reply.error.code !== 'UNAVAILABLE')
          unexpected.push(`${roomId} ${cmd.type}: ${reply.error.code}`);
        stop(reply.error.code);
        return;
      }
      acks++;
      const state = await asReply<RoomReplies['state']>(
        client.send(roomId, { type: 'state' }, { timeoutMs: timeoutMs }),
      ).catch(() => undefined);
      if (state?.ok !== true) {
        stop('no state');
        return;
      }
      lastAcked.set(roomId, state.seq);
      if (i === steps.length - 1) finishedHash.set(roomId, state.hash);
    }
  };

  const rooms = Array.from({ length: ROOMS }, (_, i) => `crash${i}`);
  // Half the rooms run their whole script; the other half is killed under traffic.
  const half = ROOMS / 2;
  await Promise.all(rooms.slice(0, half).map((r) => runRoom(r, 30_000)));
  const phase2Start = acks;
  const phase2 = { done: false };
  const killer = (async () => {
    while (!phase2.done && acks - phase2Start < (total - phase2Start) * 0.4) {
      await new Promise((r) => setTimeout(r, 2));
    }
    killed = !phase2.done;
    await service.signal('SIGKILL');
  })();
  await Promise.all(rooms.slice(half).map((r) => runRoom(r, 5000)));
  phase2.done = true;
  await killer;
  t.same(unexpected, [], 'no command was refused');
  t.ok(killed, 'the service was killed mid-traffic');
  t.comment(`rooms stopped early: ${JSON.stringify(Object.fromEntries(stopped))}`);
  const finished = [...finishedHash.keys()];
  const cut = rooms.filter((r) => lastAcked.has(r) && !finishedHash.has(r));
  t.ok(finished.length > 0, `${finished.length} rooms had finished their script`, {
    stopped: Object.fromEntries(stopped),
  });
  t.ok(cut.length > 0, `${cut.length} rooms were cut mid-script`);

  service = await startService(t, 'room', env);

  const log = await JetStreamRoomLog.open(bus.nc, {
    writer: 'crash-test',
    replicas: 1,
    timeoutMs: 5000,
  });
  const wrong: string[] = [];
  for (const roomId of rooms) {
    const acked = lastAcked.get(roomId);
    const reply = await asReply<RoomReplies['state']>(
      client.send(roomId, { type: 'state' }, { timeoutMs: 10_000 }),
    );
    if (!reply.ok) {
      // Never acknowledged (not even created) before the kill: it may or may not exist now.
      if (acked !== undefined)
        wrong.push(`${roomId}: acknowledged up to ${acked} but now ${reply.error.code}`);
      continue;
    }
    const expected = finishedHash.get(roomId);
    if (expected !== undefined && reply.hash !== expected)
      wrong.push(`${roomId}: finished room changed`);
    if (acked !== undefined && (reply.seq < acked || reply.seq > acked + MAX_EVENTS_PER_COMMAND)) {
      wrong.push(`${roomId}: sequence ${reply.seq}, last acknowledged ${acked}`);
    }
    const { entry } = await rebuildRoom(log, roomId);
    if (entry === undefined || stateHash(entry.actor) !== reply.hash)
      wrong.push(`${roomId}: differs from its log's replay`);
  }
  t.same(wrong, [], `all ${rooms.length} rooms: acknowledged state kept, equal to their log`);
});
