import type { Config } from '#config/config.js';
import { Bus } from '#shared/runtime/bus.js';
import type { Logger } from '#shared/runtime/log.js';

/** A bus of its own for one component of a test system (room service, gateway, the test). */
export function testBus(config: Config, name: string, log: Logger): Promise<Bus> {
  return Bus.connect({
    servers: config.nats.servers,
    name,
    requestTimeoutMs: config.nats.requestTimeoutMs,
    log,
  });
}
