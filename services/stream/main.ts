/**
 * Stream service entry point: the only file here that reads the environment,
 * handles signals and opens sockets (through shared/runtime/service.main.ts).
 */
import { revocationMaxAgeS } from '#shared/auth/revocations.js';
import { createStreamVerifier, type VerifyStream } from '#shared/auth/stream.token.js';
import { ErrorCode, RoomcastError } from '#shared/wire/errors.js';
import { roomLanes } from '#shared/room/room.client.js';
import { ExitCode } from '#shared/runtime/exit.js';
import { ServiceName, createMetrics, startMetrics } from '#shared/runtime/metrics.js';
import { processInstanceId } from '#shared/runtime/telemetry.js';
import { bootHttpService, logReady, stopOnSignals } from '#shared/runtime/service.main.js';
import { SrsApi } from './srs.api.js';
import { HookServer } from './stream.http.js';
import { StreamService } from './stream.service.js';

const instance = processInstanceId();
const boot = await bootHttpService(ServiceName.stream, () => instance);
const { config, log: logger, bus, version, uws } = boot;

// Without a token key, stream keys still work; publish and play tokens are refused.
const verify: VerifyStream =
  config.auth.jwtSecret === undefined && config.auth.jwksUrl === undefined
    ? () => Promise.reject(new RoomcastError(ErrorCode.TOKEN_INVALID, 'no token key is configured'))
    : createStreamVerifier(config.auth, config.stream.tokenMaxTtlS);
const s = config.stream;
const srs = new SrsApi({
  baseUrl: s.srsApiUrl,
  timeoutMs: s.srsApiTimeoutMs,
  pageSize: s.srsPageSize,
  maxPages: s.srsMaxPages,
});
const registry = createMetrics();
const service = new StreamService({
  bus,
  config: s,
  verify,
  revocationMaxAgeS: revocationMaxAgeS(config.auth),
  srs,
  logger,
  metrics: registry,
  roomLanes: roomLanes(config.nats),
});
let server: HookServer;
try {
  server = new HookServer({ uws, config: s, service, logger });
} catch (err) {
  logger.error((err as Error).message);
  process.exit(ExitCode.config);
}
const port = await server.listen();
// Revocations load in the background: until the gateway has created their bucket, none exist.
void service.start();
const metrics = await startMetrics({
  service: ServiceName.stream,
  instance,
  version,
  config: config.telemetry,
  log: logger,
  bus,
  metrics: registry,
  onSample: (m) => m.roomCommandsWaiting.set(service.roomCommandsWaiting),
});
await logReady(boot, 'stream service', metrics, {
  hooks: `http://${s.host}:${port}/api/srs/hooks/${s.hookSecret === undefined ? '' : '<secret>/'}on_publish`,
  srsApi: s.srsApiUrl,
  nats: config.nats.servers,
});
stopOnSignals(boot, metrics, async () => {
  server.close();
  await service.stop();
});
