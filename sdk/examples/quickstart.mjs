// Quick start: `npm start` in one terminal, then `npm run build && node sdk/examples/quickstart.mjs`.
import WebSocket from 'ws'; // Node 20 has no global WebSocket; browsers need no option
import { RoomcastClient } from 'roomcast/sdk';

const gateway = process.env.ROOMCAST_URL ?? 'http://127.0.0.1:8090';
// A development token from `npm start`'s gateway; in production your backend mints it.
async function token() {
  const res = await fetch(`${gateway}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'alice' }),
  });
  return (await res.json()).token; // the reply: {token, userId, expiresInS, rooms}
}

const client = new RoomcastClient({
  url: gateway.replace(/^http/, 'ws') + '/signaling',
  token,
  WebSocket,
});
await client.connect(); // the provider is called again before the token expires
const room = await client.join('demo', 'viewer'); // rejects with err.code, e.g. ROOM_NOT_FOUND
console.log(`joined ${room.room} as ${room.peerId}, status ${room.status}`);
console.log(
  'on stage:',
  [...room.members.values()].map((p) => `${p.userId} (${p.role})`),
);
room.on('peer_joined', (f) => console.log(`${f.peer.userId} came on stage`));
await room.leave(); // frees the place now; client.close() alone keeps it for the grace period
client.close();
