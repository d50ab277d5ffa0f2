/**
 * Container healthcheck: `node dist/scripts/healthcheck.js <service>` exits 0 when
 * the service answers and 1 when it does not, reading the same environment as
 * the service (compose.yaml runs it). The image has no curl: this is plain Node.
 *
 * - gateway: `GET /healthz` on GATEWAY_PORT answers 200 (it is up and has NATS).
 * - room: a room command over NATS gets a reply (`ROOM_NOT_FOUND` counts: the
 *   room service answered).
 * - catalog: a one-room list query over NATS gets a reply (an error reply counts:
 *   the catalogue answered; a catalogue whose store is down answers UNAVAILABLE).
 * - any other service: its HTTP port (the `port` setting of its config section)
 *   answers at all; without one, its NATS server is reachable.
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { connectAuth } from '#shared/runtime/bus.credentials.js';
import { shippedCredentials, type Credential } from '#shared/runtime/bus.permissions.js';
import { createLogger } from '#shared/runtime/log.js';
import type { CatalogQuery } from '#shared/room/catalog.js';
import { RoomClient, RoomRefusedError } from '#shared/room/room.client.js';
import { subjects } from '#shared/wire/subjects.js';

/** Time the probe may take, in ms (compose's own timeout is longer). */
const PROBE_TIMEOUT_MS = 3000;
/** A room id no one creates: the room service answers it with ROOM_NOT_FOUND. */
const PROBE_ROOM = '_healthcheck';
/** The user a catalogue probe lists rooms as (it sees public rooms only). */
const PROBE_USER = '_healthcheck';

const service = process.argv[2];
const config = loadConfig();

async function http(port: number, path: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
}

async function nats<T>(work: (bus: Bus) => Promise<T>): Promise<T> {
  const bus = await Bus.connect({
    servers: config.nats.servers,
    name: `healthcheck-${service ?? ''}`,
    requestTimeoutMs: PROBE_TIMEOUT_MS,
    log: createLogger('healthcheck', 'error'),
    // As the service itself (its NATS_NKEY_SEED_FILE), with the service's permissions.
    ...(shippedCredentials.includes(service as Credential)
      ? connectAuth(service as Credential, config.nats.nkeySeedFile)
      : {}),
  });
  try {
    return await work(bus);
  } finally {
    await bus.close();
  }
}

async function probe(): Promise<boolean> {
  switch (service) {
    case 'gateway':
      return (await http(config.gateway.port, '/healthz')).ok;
    case 'room':
      return nats(async (bus) => {
        // Any answer, a refusal too, means the room service is there.
        await new RoomClient(bus).get(PROBE_ROOM).catch((err: unknown) => {
          if (!(err instanceof RoomRefusedError)) throw err;
        });
        return true;
      });
    case 'catalog':
      return nats(async (bus) => {
        await bus.request(subjects.catalogQuery, {
          type: 'list_rooms',
          viewer: { userId: PROBE_USER, granted: [] },
          limit: 1,
        } satisfies CatalogQuery);
        return true;
      });
    case undefined:
      throw new Error('usage: healthcheck <service>');
    default: {
      const section = (config as unknown as Record<string, Record<string, unknown> | undefined>)[
        service
      ];
      const port = section?.port;
      if (typeof port === 'number') return (await http(port, '/healthz')).status < 500;
      return nats(() => Promise.resolve(true));
    }
  }
}

probe().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    process.stderr.write(`unhealthy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
