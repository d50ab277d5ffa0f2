/**
 * The SDK's tests drive it against a real gateway: a client on `ws` (Node 20 has
 * no global WebSocket), closed in teardown, and waits for a state the SDK keeps
 * (checked on every event that may change it, failing loudly after a deadline).
 */
import type { Test } from 'tap';
import WebSocket from 'ws';
import { RoomcastClient, type RoomcastClientOptions } from '../roomcast.js';
import { deadline } from '../../test/helpers/deadline.js';

/** A client with test-sized backoff, closed in teardown. */
export function sdkClient(
  t: Test,
  url: string,
  token: RoomcastClientOptions['token'],
  options: Partial<RoomcastClientOptions> = {},
): RoomcastClient {
  const client = new RoomcastClient({
    url,
    token,
    WebSocket,
    backoff: { baseMs: 100, maxMs: 1000 },
    ...options,
  });
  t.teardown(() => client.close());
  return client;
}

/** Anything with `on(type, fn)` returning an unsubscribe. */
interface Watchable {
  on(type: never, fn: () => void): () => void;
}

/**
 * Resolves once `check()` is true, checked now and on each of `events` of
 * `target`; rejects after `timeoutMs` with `what` and the last state seen.
 */
export function until(
  target: Watchable,
  events: string[],
  check: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const offs = events.map((e) =>
      (target.on as (type: string, fn: () => void) => () => void)(e, () => {
        if (!check()) return;
        limit.cancel();
        for (const off of offs) off();
        resolve();
      }),
    );
    const limit = deadline(timeoutMs, (stall) => {
      for (const off of offs) off();
      reject(new Error(`not ${what} within ${timeoutMs} ms (${stall})`));
    });
  });
}
