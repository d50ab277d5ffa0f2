/**
 * A room-operations load process, forked by scenario.rooms.ts: its own NATS
 * connection, `concurrency` loops that each join a peer to a room and take it out
 * again (two persisted transitions), for `seconds`. Reports what was acknowledged.
 *
 * argv: natsUrl rooms concurrency seconds loaderIndex
 */
import { connect } from '@nats-io/transport-node';
import type { AnyRoomReply, RoomCommand } from '#shared/room/room.commands.js';
import { subjects } from '#shared/wire/subjects.js';

const [natsUrl = '', roomsArg = '0', concArg = '1', secondsArg = '1', indexArg = '0'] =
  process.argv.slice(2);
const rooms = Number(roomsArg);
const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
const enc = new TextEncoder();
const dec = new TextDecoder();
const perms = { publish: false, view: false, admin: false };
const request = async (room: string, cmd: RoomCommand): Promise<AnyRoomReply> =>
  JSON.parse(
    dec.decode(
      (
        await nc.request(subjects.roomCommand(room), enc.encode(JSON.stringify(cmd)), {
          timeout: 10_000,
        })
      ).data,
    ),
  ) as AnyRoomReply;

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
        const joined = await request(room, {
          type: 'join',
          peerId,
          userId: peerId,
          role: 'viewer',
          perms,
          ...conn,
        });
        if (!joined.ok) {
          refused++;
          continue;
        }
        acked++;
        const left = await request(room, { type: 'leave', peerId, userId: peerId, ...conn });
        if (left.ok) acked++;
        else refused++;
      } catch {
        failed++;
      }
    }
  }),
);
await nc.close();
process.send?.({ acked, refused, failed });
