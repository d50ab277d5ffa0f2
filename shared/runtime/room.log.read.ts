/**
 * Reading ROOM_EVENTS back, as its leader has it. The room service (takeovers,
 * replays, the chaos check) and the catalogue's event archive read the log the same
 * way, so the two hard-won rules live here once:
 * - A read runs to the leader's last message, not to what its consumer reports: a
 *   consumer placed on a replica that is still catching up (a node just restarted)
 *   reports nothing pending at its own end, which is not the log's end.
 * - A read that timed out resumes after the last message seen (`retryOrderedRead`):
 *   on a cluster with a node down, a read's consumer may be placed on the dead node.
 */
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/nats-core';
import { retryOrderedRead, streamNames } from './streams.js';
import { subjects } from '../wire/subjects.js';

/** Messages fetched per round trip of a read. */
const FETCH_BATCH = 1000;
/** How long a fetch waits for a message before taking its replica for lagging, ms. */
const FETCH_EXPIRES_MS = 1000;

/** The stream sequence of the last message `filter` matches (0: none), as the leader has it. */
export async function lastLogSeq(jsm: JetStreamManager, filter: string): Promise<number> {
  if (filter === subjects.roomEventsAll)
    return (await jsm.streams.info(streamNames.roomEvents)).state.last_seq;
  // null: no message matches (nats.js answers the server's "no message found" so).
  const m = await jsm.streams.getMessage(streamNames.roomEvents, { last_by_subj: filter });
  return m?.seq ?? 0;
}

/**
 * The first message `filter` matches at stream sequence `seq` or later, from the
 * leader (null: none). nats-server answers `next_by_subj` on the stored-message API
 * too; nats.js types it for direct gets only.
 */
export function nextLogMsg(
  jsm: JetStreamManager,
  filter: string,
  seq: number,
): Promise<StoredMsg | null> {
  const query = { seq, next_by_subj: filter } as unknown as { seq: number };
  return jsm.streams.getMessage(streamNames.roomEvents, query);
}

/**
 * Reads every message `filter` matches after stream sequence `after`, in order, up
 * to the leader's last one when the read (or its retry) began. `onMsg` returns
 * false to end the read there.
 */
export async function readLog(
  js: JetStreamClient,
  jsm: JetStreamManager,
  o: { filter: string; after: number },
  onMsg: (m: JsMsg) => boolean,
): Promise<void> {
  let after = o.after;
  let stopped = false;
  await retryOrderedRead(async () => {
    if (stopped) return;
    const last = await lastLogSeq(jsm, o.filter);
    await readTo(js, { filter: o.filter, after, last }, (m) => {
      after = m.seq;
      stopped = !onMsg(m);
      return !stopped;
    });
  });
}

async function readTo(
  js: JetStreamClient,
  o: { filter: string; after: number; last: number },
  onMsg: (m: JsMsg) => boolean,
): Promise<void> {
  if (o.last <= o.after) return;
  const consumer = await js.consumers.get(streamNames.roomEvents, {
    filter_subjects: o.filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: o.after + 1,
  });
  try {
    for (;;) {
      const msgs = await consumer.fetch({ max_messages: FETCH_BATCH, expires: FETCH_EXPIRES_MS });
      let got = 0;
      for await (const m of msgs) {
        got++;
        // Leaving the loop ends the fetch now instead of waiting out `expires`.
        if (!onMsg(m) || m.seq >= o.last) return;
      }
      // Nothing more within `expires` short of the leader's last: this consumer's
      // replica lags. A new consumer (maybe elsewhere) resumes after what was read.
      if (got === 0) throw new TimeoutError();
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
