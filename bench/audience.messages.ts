/**
 * What scenario.audience.ts and its load processes (load.audience.ts) say to each
 * other over the fork IPC channel: commands with a sequence number, one reply each.
 */
import type { Target } from './load.messages.js';

export type AudienceCommand =
  /** Opens and authenticates `count` viewer connections (not yet joined). */
  | {
      cmd: 'connect';
      target: Target;
      count: number;
      localAddresses: string[];
      concurrency: number;
      capMs: number;
    }
  /** Opens one more connection and joins it to `room` as the publisher. */
  | { cmd: 'publisher'; target: Target; room: string; localAddress: string }
  /** Restarts the byte and frame counters. */
  | { cmd: 'mark' }
  /** Joins every viewer to `room`, at most `concurrency` joins in flight. */
  | { cmd: 'join'; room: string; concurrency: number; capMs: number }
  | { cmd: 'counters' }
  /** Every joined viewer sends `leave` at once; answered when all are answered (or the cap). */
  | { cmd: 'leave'; room: string; capMs: number }
  | { cmd: 'close' };

/** Count per key (frame type, error code). */
export type Tally = Record<string, number>;

export interface Counters {
  /** Bytes read from the sockets (WebSocket headers included) since the last `mark`. */
  bytes: number;
  /** Text frames received since the last `mark`, and per frame type. */
  frames: number;
  byType: Tally;
  /** `error` frames since the last `mark`, by code. */
  errors: Tally;
  /** Connections closed by the other side since set-up, by close code. */
  closed: Tally;
}

export type AudienceReply =
  | { ok: 'connected'; connected: number; failed: number; lastFailure: string | undefined }
  | { ok: 'publisher'; latencyMs: number; joinedBytes: number }
  | {
      ok: 'joined';
      /** Joins answered with `joined`. */
      joined: number;
      /** Joins answered with an `error`, by code. */
      refused: Tally;
      /** Joins still unanswered at the cap. */
      pending: number;
      /** Every answered join's latency (send → `joined`), ms. */
      latenciesMs: number[];
      /** Payload size of each `joined` reply, bytes. */
      joinedBytes: number[];
    }
  | { ok: 'left'; left: number; refused: Tally; pending: number; lastMs: number }
  | ({ ok: 'counters' } & Counters)
  | { ok: 'done' }
  | { error: string };
