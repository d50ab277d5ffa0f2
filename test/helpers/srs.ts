/**
 * The SRS stand-in beside a stream service running as its own process: the
 * stand-in's API for the service to poll, and its hooks pointed at the service's
 * hook endpoint once the service says where that is.
 */
import type { Test } from 'tap';
import { SrsStandIn } from '../srs/srs.standin.js';
import type { ServiceProcess } from './processes.js';

const HOOK_SECRET = 'hook-secret-for-processes-0123456789';

/** A stand-in on a free port, stopped in teardown; its hooks go nowhere until `hookInto`. */
export async function startSrsStandIn(t: Test): Promise<SrsStandIn> {
  const srs = new SrsStandIn({ hookBase: 'http://127.0.0.1:1/unset', hookTimeoutMs: 5000 });
  await srs.start();
  t.teardown(() => srs.stop());
  return srs;
}

/** What a stream service process needs to work with `srs` (hooks on a free port). */
export function streamEnv(srs: SrsStandIn): Record<string, string> {
  return {
    STREAM_HOST: '127.0.0.1',
    STREAM_PORT: '0',
    STREAM_HOOK_SECRET: HOOK_SECRET,
    STREAM_SRS_API_URL: srs.apiUrl,
    STREAM_CONFIRM_INTERVAL_MS: '50',
  };
}

/** Points the stand-in's hooks at the stream service's endpoint (from its ready line). */
export function hookInto(srs: SrsStandIn, stream: ServiceProcess): void {
  const port = new URL(String(stream.ready.hooks)).port;
  srs.hookBase = `http://127.0.0.1:${port}/api/srs/hooks/${HOOK_SECRET}`;
}
