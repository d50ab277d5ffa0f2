/**
 * The tests' TCP proxy (helpers/proxy.ts) models the network it claims to: a clean
 * close through it stays a clean close, and `drop()` is a reset. The server is a uWS
 * app in a process of its own whose event loop is busy when the client's last frames
 * come, as a loaded gateway's is: uWS reads what came before a FIN, but closes on a
 * reset without reading what it had not read yet.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { startProxy } from './helpers/proxy.js';

const uws = createRequire(import.meta.url).resolve('uWebSockets.js');

/** A uWS server, busy for 400 ms from 50 ms after a connection; prints what it saw. */
const SERVER = `
const uWS = require(${JSON.stringify(uws)});
const seen = [];
uWS.App().ws('/*', {
  open: () => setTimeout(() => { const end = Date.now() + 400; while (Date.now() < end); }, 50),
  message: (ws, m) => seen.push(Buffer.from(m).toString()),
  close: (ws, code) => { seen.push('close ' + code); console.log(JSON.stringify(seen)); },
}).listen('127.0.0.1', 0, (s) => console.log(uWS.us_socket_local_port(s)));
`;

/** Sends `leave` through a proxy while the server is busy, ends the connection with `end`; what the server saw. */
async function lastFrames(end: (ws: WebSocket, drop: () => void) => void): Promise<string[]> {
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines: string[] = [];
    server.stdout.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
    const proxy = await startProxy(Number(lines[0]));
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('open', r));
      await new Promise((r) => setTimeout(r, 150)); // the server is busy now
      end(ws, () => proxy.drop());
      while (lines.length < 2) await new Promise((r) => setTimeout(r, 10));
      return JSON.parse(lines[1] ?? '[]') as string[];
    } finally {
      await proxy.close();
    }
  } finally {
    server.kill();
  }
}

t.test('a clean close through the proxy: what came before it is read', async (t) => {
  const seen = await lastFrames((ws) => {
    ws.send('leave');
    ws.close(1000);
    // A page being torn down does not wait for the closing handshake.
    setTimeout(() => (ws as unknown as { _socket: { end(): void } })._socket.end(), 5);
  });
  t.same(seen, ['leave', 'close 1000']);
});

t.test('drop(): a reset, no close frame', async (t) => {
  const seen = await lastFrames((ws, drop) => {
    ws.send('leave');
    drop();
  });
  t.same(seen.at(-1), 'close 1006');
});
