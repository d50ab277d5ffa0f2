/**
 * A TCP proxy on a free loopback port in front of a server, for network faults:
 * `drop()` resets every connection through it at once (no WebSocket close frame,
 * no FIN: what a client sees when its network goes away), while new connections
 * keep working.
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
  /** Client sides of the open connections; each one's upstream goes with it. */
  const clients = new Set<Socket>();
  let accepted = 0;
  const ignoreErrors = (s: Socket) =>
    s.on('error', () => {
      /* resets are what this proxy is for */
    });
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(targetPort, targetHost);
    clients.add(client);
    ignoreErrors(client);
    ignoreErrors(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => {
      clients.delete(client);
      upstream.resetAndDestroy();
    });
    upstream.once('close', () => client.destroy());
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
          const n = clients.size;
          for (const s of [...clients]) s.resetAndDestroy();
          return n;
        },
        close() {
          for (const s of [...clients]) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
