/**
 * What the orchestrator (run.ts) and a load-generator process (load.ts) say to
 * each other over the fork IPC channel: commands with a sequence number, one
 * reply each.
 */
import { mintToken } from '#shared/auth/tokens.js';

/** Where the server under test listens and how to mint tokens it accepts. */
export interface Target {
  host: string;
  port: number;
  secret: string;
  issuer: string;
  audience: string;
  /**
   * Authenticate with a first `auth` frame instead of `access_token`: for profiled
   * runs (see server.hook.ts). The relay path is the same either way.
   */
  authFrame?: boolean;
  /**
   * The PeerJS server's protocol instead of ours: connect with an id, no token
   * check, no rooms, frames addressed by `dst` (see load.peerjs.ts).
   */
  protocol?: 'peerjs';
}

/** A token the target accepts for `user`, allowed to publish and view in every room (an hour). */
export function tokenFor(target: Target, user: string): Promise<string> {
  return mintToken({
    secret: target.secret,
    issuer: target.issuer,
    audience: target.audience,
    sub: user,
    ttlS: 3600,
    grants: { publish: ['*'], view: ['*'] },
  });
}

export type Setup =
  | {
      /** Two connections per room, a publisher and a viewer, that address each other. */
      kind: 'pairs';
      target: Target;
      rooms: string[];
      /** Size of each candidate frame the clients send, in bytes of JSON. */
      frameBytes: number;
      /** Source addresses (127.0.0.x) to spread the connections over. */
      localAddresses: string[];
      /** Connections being opened and joined at once. */
      concurrency: number;
    }
  | {
      /** `roomSize` idle members per room (one publisher, the rest viewers). */
      kind: 'idle';
      target: Target;
      rooms: string[];
      roomSize: number;
      localAddresses: string[];
      concurrency: number;
    };

export type Go =
  /** Saturation: each direction of each pair keeps `window` frames in flight. */
  | { mode: 'window'; window: number }
  /** Open loop: `perSecond` frames in all, round-robin over this process's connections. */
  | { mode: 'rate'; perSecond: number };

export type Command =
  | { cmd: 'setup'; setup: Setup }
  | { cmd: 'go'; go: Go }
  /** Starts a measurement window: counters and the latency histogram restart. */
  | { cmd: 'mark' }
  | { cmd: 'sample' }
  | { cmd: 'halt' }
  | { cmd: 'close' };

export interface Sample {
  /** Frames sent and relayed frames received since the last `mark`. */
  sent: number;
  received: number;
  /** `error` frames received since set-up (none is expected). */
  errors: number;
  lastError: string | undefined;
  /** Connections that closed since set-up (none is expected). */
  closed: number;
  /** Socket reads (chunks of data) since the last `mark`: frames per read tells how bursty delivery is. */
  reads: number;
  /** Latency histogram since the last `mark`: [bucket, count] pairs, see `HIST_BUCKET_US`. */
  hist: [number, number][];
}

export type Reply =
  | { ok: 'ready'; connections: number; setupMs: number }
  | { ok: 'done' }
  | ({ ok: 'sample' } & Sample)
  | { error: string };

/** Width of one latency histogram bucket, in µs. */
export const HIST_BUCKET_US = 10;
/** Latencies at or above this many µs share the last bucket. */
export const HIST_MAX_US = 1_000_000;
