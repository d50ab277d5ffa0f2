/**
 * The PeerJS server (npm `peer`), started by the benchmark as a process of its own
 * so that `latency` and `relay` can put it beside our gateway on the same load: the
 * signaling server most WebRTC apps start with, relaying in one process with no
 * broker behind it.
 *
 * Its default configuration, except where the benchmark must say: a free port on
 * the benchmark's host, `path: '/'` (so clients connect to `/peerjs?key=peerjs&...`)
 * and the default key `peerjs` spelled out. Prints `{"msg":"peerjs ready","port":N}`
 * on stderr once listening.
 */
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';

const host = process.env.PEERJS_HOST ?? '127.0.0.1';
const app = PeerServer({ host, port: 0, path: '/', key: 'peerjs' }, (server) => {
  const { port } = server.address() as AddressInfo;
  process.stderr.write(JSON.stringify({ msg: 'peerjs ready', port }) + '\n');
  const shutdown = () => {
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
});
// A client's socket error would otherwise be an unhandled 'error' event.
app.on('error', (err: Error) => process.stderr.write(`peerjs error: ${err.message}\n`));
