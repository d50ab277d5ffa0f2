/**
 * Stream service entry point: the only file here that reads the environment,
 * handles signals and opens sockets.
 */
import { loadConfig } from '#config/config.js';
import { createVerifier, type Verify } from '#shared/auth.js';
import { Bus } from '#shared/bus.js';
import { ErrorCode, RoomcastError } from '#shared/errors.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { UwsUnavailableError, loadNativeUws } from '#shared/uws.js';
import { SrsApi } from './srs.api.js';
import { HookServer } from './stream.http.js';
import { StreamService } from './stream.service.js';

const config = loadConfig();
const logger = createLogger('stream', config.log.level as LogLevel);

let uws;
try {
  uws = loadNativeUws();
} catch (err) {
  if (err instanceof UwsUnavailableError) {
    logger.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}

// Without a token key, stream keys still work; publish and play tokens are refused.
const verify: Verify =
  config.auth.jwtSecret === undefined && config.auth.jwksUrl === undefined
    ? () => Promise.reject(new RoomcastError(ErrorCode.TOKEN_INVALID, 'no token key is configured'))
    : createVerifier(config.auth);
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: 'stream',
  requestTimeoutMs: config.nats.requestTimeoutMs,
  log: logger,
});
const s = config.stream;
const srs = new SrsApi({
  baseUrl: s.srsApiUrl,
  timeoutMs: s.srsApiTimeoutMs,
  pageSize: s.srsPageSize,
  maxPages: s.srsMaxPages,
});
const service = new StreamService({ bus, config: s, verify, srs, logger });
let server: HookServer;
try {
  server = new HookServer({ uws, config: s, service, logger });
} catch (err) {
  logger.error((err as Error).message);
  process.exit(78);
}
const port = await server.listen();
service.start();
logger.info('stream service ready', {
  hooks: `http://${s.host}:${port}/api/srs/hooks/${s.hookSecret === undefined ? '' : '<secret>/'}on_publish`,
  srsApi: s.srsApiUrl,
  nats: config.nats.servers,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('stopping', { signal });
  server.close();
  await service.stop();
  await bus.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
