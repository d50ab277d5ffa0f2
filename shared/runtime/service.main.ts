/**
 * What every service's main.ts does the same way: read the config, log, start
 * tracing before the first NATS connection (so it is traced), connect the bus,
 * and on SIGTERM / SIGINT stop in order — the service's own parts first, then
 * metrics, the bus (draining what is queued) and tracing (flushing spans).
 *
 * Only main.ts files use this module: it reads the environment and handles signals
 * on their behalf.
 */
import { loadConfig, type Config } from '#config/config.js';
import { Bus } from './bus.js';
import { NatsCredentialError, connectAuth } from './bus.credentials.js';
import { ExitCode } from './exit.js';
import { createLogger, type Logger } from './log.js';
import type { MetricsHandle, ServiceName } from './metrics.js';
import { packageVersion, setupTelemetry, type Telemetry } from './telemetry.js';
import { UwsUnavailableError, loadNativeUws, type Uws } from './uws.js';

export interface ServiceBoot {
  config: Config;
  log: Logger;
  version: string;
  telemetry: Telemetry;
  bus: Bus;
}

interface BootOptions {
  /** False for one-off tools (no tracing). Defaults to true. */
  tracing?: boolean;
  /** Log fields naming this instance; `{instance}` by default. */
  logFields?: (instance: string) => Record<string, unknown>;
}

/** Config, logger, tracing and the bus of service `name` (instance `instance` of it). */
export function bootService(
  name: ServiceName,
  instance: (config: Config) => string,
  o: BootOptions = {},
): Promise<ServiceBoot> {
  return boot(name, instance, o, () => undefined);
}

/**
 * The same for a service that serves HTTP or WebSocket: with the native
 * uWebSockets.js, loaded before anything connects (without it there is nothing to start).
 */
export async function bootHttpService(
  name: ServiceName,
  instance: (config: Config) => string,
  o: BootOptions = {},
): Promise<ServiceBoot & { uws: Uws }> {
  let uws: Uws | undefined;
  const b = await boot(name, instance, o, (log) => {
    uws = nativeUwsOrExit(log);
  });
  if (uws === undefined) throw new Error('uWebSockets.js did not load');
  return { ...b, uws };
}

async function boot(
  name: ServiceName,
  instance: (config: Config) => string,
  o: BootOptions,
  beforeConnect: (log: Logger) => void,
): Promise<ServiceBoot> {
  const config = loadConfig();
  const id = instance(config);
  const log = createLogger(name, config.log.level, o.logFields?.(id) ?? { instance: id });
  beforeConnect(log);
  const version = packageVersion();
  const telemetry =
    o.tracing === false
      ? { tracing: false, shutdown: () => Promise.resolve() }
      : await setupTelemetry({
          service: name,
          version,
          instance: id,
          config: config.telemetry,
          log,
        });
  const bus = await Bus.connect({
    servers: config.nats.servers,
    name: `${name}-${id}`,
    requestTimeoutMs: config.nats.requestTimeoutMs,
    log,
    ...natsAuthOrExit(name, config.nats.nkeySeedFile, log),
  });
  return { config, log, version, telemetry, bus };
}

/** The service's NATS credential (its own name), or exit 78 (EX_CONFIG) when its seed file is unusable. */
function natsAuthOrExit(
  name: ServiceName,
  seedFile: string | undefined,
  log: Logger,
): ReturnType<typeof connectAuth> {
  try {
    return connectAuth(name, seedFile);
  } catch (err) {
    if (err instanceof NatsCredentialError) {
      log.error(err.message);
      process.exit(ExitCode.config);
    }
    throw err;
  }
}

/** The native uWebSockets.js, or exit 78 (EX_CONFIG) with the reason: never the JavaScript fallback. */
function nativeUwsOrExit(log: Logger): Uws {
  try {
    return loadNativeUws();
  } catch (err) {
    if (err instanceof UwsUnavailableError) {
      log.error(err.message);
      process.exit(ExitCode.config);
    }
    throw err;
  }
}

/** "<what> ready" with where its metrics are served. */
export async function logReady(
  boot: Pick<ServiceBoot, 'log' | 'bus'>,
  what: string,
  metrics: MetricsHandle,
  fields: Record<string, unknown>,
): Promise<void> {
  // Every subscription made so far is registered with the server before anyone is told
  // "ready": a request sent on that word must not meet "no responders".
  await boot.bus.flush();
  boot.log.info(`${what} ready`, {
    ...fields,
    metrics: metrics.port === undefined ? 'off' : `:${metrics.port}/metrics`,
  });
}

/**
 * On SIGTERM or SIGINT (once): runs `stopService`, then closes metrics, the bus and
 * tracing, and exits 0.
 */
export function stopOnSignals(
  boot: ServiceBoot,
  metrics: MetricsHandle | undefined,
  stopService: () => Promise<void> | void,
): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    boot.log.info('stopping', { signal });
    await stopService();
    await metrics?.close();
    await boot.bus.close();
    await boot.telemetry.shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
