/**
 * Stream service entry point: the only file here that reads the environment,
 * handles signals and opens sockets.
 */
import { loadConfig } from '#config/config.js';
import { createVerifier, type Verify } from '#shared/auth.js';
import { Bus } from '#shared/bus.js';
import { ErrorCode, RoomcastError } from '#shared/errors.js';
import { createLogger, type LogLevel } from '#shared/log.js';
import { ServiceName, createMetrics, startMetrics } from '#shared/metrics.js';
import { packageVersion, processInstanceId, setupTelemetry } from '#shared/telemetry.js';
import { UwsUnavailableError, loadNativeUws } from '#shared/uws.js';
import { SrsApi } from './srs.api.js';
import { HookServer } from './stream.http.js';
import { StreamService } from './stream.service.js';

const config = loadConfig();
const instance = processInstanceId();
const logger = createLogger(ServiceName.stream, config.log.level as LogLevel, { instance });
const version = packageVersion();

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
const telemetry = await setupTelemetry({
  service: ServiceName.stream,
  version,
  instance,
  config: config.telemetry,
  log: logger,
});
const bus = await Bus.connect({
  servers: config.nats.servers,
  name: `stream-${instance}`,
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
const registry = createMetrics();
const service = new StreamService({ bus, config: s, verify, srs, logger, metrics: registry });
let server: HookServer;
try {
  server = new HookServer({ uws, config: s, service, logger });
} catch (err) {
  logger.error((err as Error).message);
  process.exit(78);
}
const port = await server.listen();
service.start();
const metrics = await startMetrics({
  service: ServiceName.stream,
  instance,
  version,
  config: config.telemetry,
  log: logger,
  bus,
  metrics: registry,
});
logger.info('stream service ready', {
  hooks: `http://${s.host}:${port}/api/srs/hooks/${s.hookSecret === undefined ? '' : '<secret>/'}on_publish`,
  srsApi: s.srsApiUrl,
  nats: config.nats.servers,
  metrics: metrics.port === undefined ? 'off' : `:${metrics.port}/metrics`,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('stopping', { signal });
  server.close();
  await service.stop();
  await metrics.close();
  await bus.close();
  await telemetry.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
