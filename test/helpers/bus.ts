import type { Config } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import { connectAuth } from '#shared/runtime/bus.credentials.js';
import type { Credential } from '#shared/runtime/bus.permissions.js';
import type { Logger } from '#shared/runtime/log.js';
import { credentialEnv } from './nats.js';

/**
 * A bus of its own for one component of a test system (room service, gateway, the
 * test), connected as `credential` when the server is a test server (nats.ts).
 */
export function testBus(
  config: Config,
  name: string,
  log: Logger,
  credential: Credential,
): Promise<Bus> {
  const seedFile = credentialEnv(config.nats.servers[0], credential).NATS_NKEY_SEED_FILE;
  return Bus.connect({
    servers: config.nats.servers,
    name,
    requestTimeoutMs: config.nats.requestTimeoutMs,
    log,
    ...connectAuth(credential, seedFile),
  });
}
