/**
 * A room-operations load process, forked by scenario.rooms.ts: its own NATS
 * connection, `concurrency` loops that each join a peer to a room and take it out
 * again (two persisted transitions), for `seconds`. Reports what was acknowledged.
 *
 * argv: natsUrl rooms concurrency seconds loaderIndex
 */
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';

const [natsUrl = '', roomsArg = '0', concArg = '1', secondsArg = '1', indexArg = '0'] =
  process.argv.slice(2);
const rooms = Number(roomsArg);
const bus = await Bus.connect({
  servers: [natsUrl],
  name: `bench-load-rooms-${indexArg}`,
  requestTimeoutMs: 10_000,
  log: createLogger('bench', 'error'),
});
const client = new RoomClient(bus);
const perms = { publish: false, view: false, admin: false };

let acked = 0;
let refused = 0;
let failed = 0;
let n = 0;
const end = Date.now() + Number(secondsArg) * 1000;
await Promise.all(
  Array.from({ length: Number(concArg) }, async (_, w) => {
    while (Date.now() < end) {
      const room = `bench${(w * 31 + n++) % rooms}`;
      const peerId = `l${indexArg}w${w}n${n}`;
      const conn = { gateway: 'bench', conn: peerId };
      try {
        await client.join(room, { peerId, userId: peerId, role: 'viewer', perms, ...conn });
        acked++;
        await client.leave(room, { peerId, userId: peerId, ...conn });
        acked++;
      } catch (err) {
        if (err instanceof RoomRefusedError) refused++;
        else failed++;
      }
    }
  }),
);
await bus.close();
process.send?.({ acked, refused, failed });
