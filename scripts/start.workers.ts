/**
 * How `npm start` runs GATEWAY_WORKERS gateway processes on one port: how many, and
 * the settings each gets of its own (its gateway id and its /metrics port). Pure, so
 * that a test reads the rules without starting anything.
 *
 * The port needs nothing per worker: uWebSockets.js (uSockets) sets SO_REUSEPORT on
 * every listen socket on Linux, so each worker binds GATEWAY_PORT itself and the
 * kernel spreads new connections over them. Node's http server (/metrics) does not,
 * hence a metrics port per worker.
 */
import { SUBJECT_ID } from '#config/setting.checks.js';

/** The most gateway processes `npm start` runs (GATEWAY_WORKERS' upper bound). */
export const MAX_WORKERS = 64;

/**
 * Worker n serves /metrics this many ports above worker n − 1: far enough to stay
 * clear of the other services' metrics ports (9465-9468 by default) next to the gateway's.
 */
export const METRICS_PORT_STRIDE = 100;

/** What one gateway worker gets on top of `npm start`'s environment. */
export interface GatewayWorker {
  /** Its name in `npm start`'s log prefixes and run file. */
  name: string;
  /** Its GATEWAY_ID: a subject token, unique per process. */
  id: string;
  /** Its GATEWAY_METRICS_PORT (0: any free port, as configured). */
  metricsPort: number;
}

/** GATEWAY_WORKERS as `npm start` reads it: 0 means one per core. */
export function workerCount(setting: number, cores: number): number {
  if (setting > 0) return Math.min(setting, MAX_WORKERS);
  return Math.min(Math.max(1, cores), MAX_WORKERS);
}

/**
 * The workers: ids `<baseId>-<n>` (n from 1), metrics ports from `metricsPort` up in
 * steps of METRICS_PORT_STRIDE. A single worker keeps the plain name `gateway`.
 * Throws when an id is no subject token (a GATEWAY_ID too long) or a metrics port would
 * pass 65535.
 */
export function gatewayWorkers(o: {
  count: number;
  baseId: string;
  metricsPort: number;
}): GatewayWorker[] {
  return Array.from({ length: o.count }, (_, i) => {
    const n = i + 1;
    const metricsPort = o.metricsPort === 0 ? 0 : o.metricsPort + METRICS_PORT_STRIDE * i;
    if (metricsPort > 65_535)
      throw new RangeError(
        `gateway worker ${n} would serve /metrics on port ${metricsPort}: lower GATEWAY_METRICS_PORT or GATEWAY_WORKERS`,
      );
    const id = `${o.baseId}-${n}`;
    if (!SUBJECT_ID.test(id))
      throw new RangeError(
        `gateway worker id ${JSON.stringify(id)} is not a subject token: GATEWAY_ID must leave room for -${n}`,
      );
    return {
      name: o.count === 1 ? 'gateway' : `gateway-${n}`,
      id,
      metricsPort,
    };
  });
}

/**
 * The id of worker `id` started again after a crash (restart n from 1): a new one,
 * `<id>-r<n>`, so that the room service sees the old id's beacon stop and lets go of
 * the members the dead process held (their connections died with it). The id is
 * shortened from its start when it would pass a subject token's 64 characters.
 */
export function restartedId(id: string, restart: number): string {
  if (restart === 0) return id;
  const tail = `-r${restart}`;
  return `${id.slice(0, 64 - tail.length)}${tail}`;
}
