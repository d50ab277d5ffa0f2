/**
 * Gateway entry point: the only file here that reads the environment, handles
 * signals and opens sockets.
 */
import { loadConfig } from '#config/config.js';
import { Bus } from '#shared/bus.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { createVerifier } from '#shared/auth.js';
import { Gateway } from './gateway.server.js';
import { UwsUnavailableError, loadNativeUws } from '#shared/uws.js';

const config = loadConfig();
const log = createLogger('gateway', config.log.level as LogLevel, { gateway: config.gateway.id });

let uws;
try {
  uws = loadNativeUws();
} catch (err) {
  if (err instanceof UwsUnavailableError) {
    log.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}

const verify = createVerifier(config.auth);
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: `gateway-${config.gateway.id ?? ''}`,
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log,
});
const gateway = new Gateway({ config, bus, log, verify, uws });
const port = await gateway.listen();
log.info('gateway ready', {
  url: `ws://${config.gateway.host}:${port}/signaling`,
  nats: config.nats.servers,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal });
  await gateway.close();
  await bus.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
