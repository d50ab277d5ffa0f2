/**
 * The floor: the least a relay through NATS does, started by the benchmark beside
 * our gateway and the PeerJS server in `latency`. It speaks PeerJS's protocol (so
 * the PeerJS load clients drive it), checks no token, keeps no rooms and validates
 * nothing: a frame's JSON is parsed, re-addressed and published on
 * `floor.<dst>` through our bus (its per-turn batching), and one subscription on
 * `floor.*` writes what comes back to the addressed socket.
 *
 * Why: the PeerJS server relays in one process; anything through NATS has three
 * processes wake per frame at low rates. What this costs per message is the floor
 * under any gateway that relays through NATS on this machine, so a rerun can tell
 * how much of our gateway's cost is its own work and how much the path's.
 *
 * Prints `{"msg":"floor ready","port":N}` on stderr once listening.
 */
import type { WebSocket } from 'uWebSockets.js';
import { Bus } from '#shared/runtime/bus.js';
import { createLogger } from '#shared/runtime/log.js';
import { loadNativeUws } from '#shared/runtime/uws.js';

interface Peer {
  id: string;
}

const uws = loadNativeUws();
const host = process.env.FLOOR_HOST ?? '127.0.0.1';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const bus = await Bus.connect({
  servers: [natsUrl],
  name: 'floor',
  requestTimeoutMs: 2000,
  log: createLogger('floor', 'error'),
});
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const peers = new Map<string, WebSocket<Peer>>();
const PREFIX = 'floor.';

bus.subscribe(`${PREFIX}*`, (msg) => {
  peers.get(msg.subject.slice(PREFIX.length))?.send(msg.data, false);
});

uws
  .App()
  .ws<Peer>('/*', {
    upgrade: (res, req, context) => {
      const id = new URLSearchParams(req.getQuery()).get('id') ?? '';
      res.upgrade<Peer>(
        { id },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      peers.set(ws.getUserData().id, ws);
      ws.send('{"type":"OPEN"}', false);
    },
    message: (ws, data) => {
      let f: { type?: string; dst?: string; payload?: unknown };
      try {
        f = JSON.parse(decoder.decode(data)) as typeof f;
      } catch {
        return; // not JSON: dropped, as a relay that validates nothing would
      }
      if (f.type !== 'CANDIDATE' || typeof f.dst !== 'string') return; // HEARTBEAT and the rest
      const out = { type: f.type, src: ws.getUserData().id, dst: f.dst, payload: f.payload };
      bus.publishBytes(PREFIX + f.dst, encoder.encode(JSON.stringify(out)));
    },
    close: (ws) => {
      peers.delete(ws.getUserData().id);
    },
  })
  .listen(host, 0, (token) => {
    if (token === false) {
      process.stderr.write('floor: cannot listen\n');
      process.exit(1);
    }
    const port = uws.us_socket_local_port(token);
    process.stderr.write(JSON.stringify({ msg: 'floor ready', port }) + '\n');
  });

const shutdown = () => {
  void bus.close().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
