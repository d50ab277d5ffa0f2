/**
 * A TCP proxy on a free loopback port in front of a server, for network faults:
 * `drop()` resets every connection through it at once (no WebSocket close frame,
 * no FIN: what a client sees when its network goes away), while new connections
 * keep working. Any other close is passed on as a close: the client's FIN becomes a FIN
 * upstream after what it sent, never a reset. A reset lets uWS close the socket on the
 * error without reading what it had not read yet: a `leave` and close frame sent as a
 * tab closed were lost that way whenever the gateway was busy (proxy.test.ts).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Proxy {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Resets every open connection; returns how many there were. */
  drop(): number;
  close(): Promise<void>;
}

export function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<Proxy> {
  /** The open connections: client side → upstream side. */
  const pairs = new Map<Socket, Socket>();
  let accepted = 0;
  const ignoreErrors = (s: Socket) =>
    s.on('error', () => {
      /* resets are what this proxy is for */
    });
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(targetPort, targetHost);
    pairs.set(client, upstream);
    ignoreErrors(client);
    ignoreErrors(upstream);
    // pipe() ends each side after the other's end, once what it carried is written.
    client.pipe(upstream);
    upstream.pipe(client);
    // A side that broke (not ended) breaks the other: what a network failure does.
    client.once('close', (hadError) => {
      pairs.delete(client);
      if (hadError) upstream.resetAndDestroy();
      else upstream.end();
    });
    upstream.once('close', (hadError) => {
      if (hadError) client.resetAndDestroy();
      else client.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) {
        reject(new Error('proxy has no port'));
        return;
      }
      resolve({
        port: address.port,
        get accepted() {
          return accepted;
        },
        drop() {
          const n = pairs.size;
          for (const [client, upstream] of [...pairs]) {
            pairs.delete(client);
            client.resetAndDestroy();
            upstream.resetAndDestroy();
          }
          return n;
        },
        close() {
          for (const [client, upstream] of [...pairs]) {
            client.destroy();
            upstream.destroy();
          }
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
